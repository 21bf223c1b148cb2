/**
 * The schemas every door validates with: the part of zod/mini's functional API this project
 * writes (`z.object`, `z.string().check(z.regex(…))`, `z.pipe`, …), with zod's meaning and
 * issue order, in the Worker's own few kilobytes. zod's core was 9 KiB of the 70 KiB gzip
 * upload for a fraction of what it can do; the bundle's budget is 64 KiB.
 *
 * Each schema keeps the definition it was built from (`def`, plain data), so that
 * `schema/zod.ts` can rebuild it with zod itself for what only builds do: the OpenAPI document
 * (`toJSONSchema`) and the tests that hold these schemas to zod's answers, input by input.
 * Imported as `z`, so a schema reads as the zod/mini schema it mirrors.
 *
 * A parse collects every issue, as zod does (the verifier lists each bad claim, the config
 * each bad var); `validate` (validate.ts) answers with the first. An issue that says the value
 * has the wrong type or value stops that value's later checks, and a failed pipe stops there;
 * a failed length, pattern or refinement lets the value's other checks run.
 */

export type Path = (string | number)[];

export type Issue = { path: Path; message?: string } & (
  | { code: "invalid_type"; expected: string; input: unknown }
  | { code: "invalid_value"; values: readonly unknown[] }
  | { code: "too_big" | "too_small"; origin: "string" | "array" | "number"; bound: number }
  | { code: "invalid_format"; format: "regex" | "email" | "url"; pattern?: string }
  | { code: "invalid_union"; options?: readonly unknown[] }
  | { code: "unrecognized_keys"; keys: string[] }
  | { code: "custom" }
);

/** Issue kinds after which the value's remaining checks do not run (zod's aborting issues). */
const ABORTS = new Set<Issue["code"]>(["invalid_type", "invalid_value", "invalid_union"]);

/** A schema's own parse: the value it makes of `input`, having pushed any issues (paths relative to it). */
type Parse = (input: unknown, issues: Issue[]) => unknown;

export type SafeParseResult<T> = { success: true; data: T; error?: undefined } | { success: false; data?: undefined; error: { issues: Issue[] } };

/** How a schema was built: what `schema/zod.ts` rebuilds it from. */
export type Def =
  | { type: "string" | "number" | "boolean" | "unknown" | "email" }
  | { type: "url"; protocol: RegExp }
  | { type: "literal"; value: Primitive }
  | { type: "enum"; values: readonly string[] }
  | { type: "optional" | "nullable" | "array"; inner: Schema }
  | { type: "default"; inner: Schema; value: unknown }
  | { type: "record"; keys: Schema; values: Schema }
  | { type: "object"; shape: Shape; rest: "strip" | "strict" | "loose" | Schema }
  | { type: "union"; options: readonly Schema[] }
  | { type: "discriminated_union"; key: string; options: readonly ObjectSchema<Shape, unknown>[] }
  | { type: "pipe"; in: Schema; out: Schema }
  | { type: "transform"; fn: (input: never) => unknown };

export type CheckDef =
  | { check: "regex"; pattern: RegExp; message?: string }
  | { check: "min_length" | "max_length" | "gte" | "lte"; bound: number }
  | { check: "int" | "trim" }
  | { check: "refine"; fn: (value: never) => unknown; message?: string }
  | { check: "describe"; text: string };

type Primitive = string | number | boolean | null;

/** A check on a value of type T: it pushes an issue or returns the value (trim returns it trimmed). */
export class Check<in T = never> {
  constructor(
    readonly def: CheckDef,
    readonly run: (value: T, issues: Issue[]) => unknown,
  ) {}

  /**
   * Whether it runs on `value` after a type issue: a length check does whenever the value
   * has a length (a string where an array belongs is also too long), unless a failed
   * integer check stopped the value (zod's `when` and `continue: false`).
   */
  runsAfter(value: unknown, issues: Issue[], from: number): boolean {
    if (!aborted(issues, from)) return true;
    if (this.def.check !== "min_length" && this.def.check !== "max_length") return false;
    return (value as { length?: unknown } | null | undefined)?.length !== undefined && !issues.slice(from).some(isStop);
  }
}

export class Schema<out O = unknown, out I = O> {
  declare readonly _output: O;
  declare readonly _input: I;
  /**
   * What an object makes of this key when it is absent (zod's optin and optout): "optional"
   * in takes its absence, "defaulted" in fills it in; "optional" out may leave it out.
   */
  readonly optin?: "optional" | "defaulted";
  readonly optout?: "optional";

  constructor(
    readonly def: Def,
    private readonly parseOwn: Parse,
    readonly checks: readonly Check<never>[] = [],
  ) {}

  /** This schema with more checks, run in order after its own parse. */
  check(...checks: Check<O>[]): this {
    return Object.assign(Object.create(Object.getPrototypeOf(this) as object) as this, this, { checks: [...this.checks, ...checks] });
  }

  /** The parsed value; issues pushed onto `issues`, with paths relative to this schema. */
  run(input: unknown, issues: Issue[]): O {
    const from = issues.length;
    let value = this.parseOwn(input, issues);
    for (const check of this.checks) {
      if (check.runsAfter(value, issues, from)) value = (check.run as unknown as Parse)(value, issues);
    }
    return value as O;
  }

  safeParse(input: unknown): SafeParseResult<O> {
    const issues: Issue[] = [];
    const data = this.run(input, issues);
    if (issues.length === 0) return { success: true, data };
    for (const issue of issues) issue.message ??= describeIssue(issue);
    return { success: false, error: { issues } };
  }
}

const isStop = (issue: Issue): boolean => issue.code === "invalid_type" && issue.expected === "int";

const aborted = (issues: Issue[], from: number): boolean => {
  for (let i = from; i < issues.length; i++) if (ABORTS.has(issues[i]!.code)) return true;
  return false;
};

/** Issues pushed since `from` now sit under `key`. */
function under(key: string | number, issues: Issue[], from: number): void {
  for (let i = from; i < issues.length; i++) issues[i]!.path.unshift(key);
}

const wrongType = (expected: string, input: unknown): Issue => ({ code: "invalid_type", expected, input, path: [] });

function typeOf<T>(expected: string, is: (input: unknown) => boolean): Schema<T> {
  return new Schema<T>({ type: expected } as Def, (input, issues) => {
    if (!is(input)) issues.push(wrongType(expected, input));
    return input;
  });
}

export type Output<S> = S extends Schema<infer O, unknown> ? O : never;
export type Input<S> = S extends Schema<unknown, infer I> ? I : never;
export type { Output as infer };

export type Shape = { readonly [key: string]: Schema<unknown, unknown> };
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { readonly optout: "optional" } ? K : never }[keyof S];
type Flat<T> = { [K in keyof T]: T[K] } & {};
export type ObjectOutput<S extends Shape> = Flat<
  { -readonly [K in Exclude<keyof S, OptionalKeys<S>>]: Output<S[K]> } & { -readonly [K in OptionalKeys<S>]?: Output<S[K]> }
>;

export class ObjectSchema<S extends Shape = Shape, O = ObjectOutput<S>> extends Schema<O> {
  constructor(
    readonly shape: S,
    rest: "strip" | "strict" | "loose" | Schema,
  ) {
    super({ type: "object", shape, rest }, parseObject(shape, rest));
  }
}

/** A JSON object: not null, not an array. */
export const isObject = (input: unknown): input is Record<string, unknown> => typeof input === "object" && input !== null && !Array.isArray(input);

function parseObject(shape: Shape, rest: "strip" | "strict" | "loose" | Schema): Parse {
  const keys = Object.keys(shape);
  return (input, issues) => {
    if (!isObject(input)) {
      issues.push(wrongType("object", input));
      return input;
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const schema = shape[key]!;
      const present = Object.hasOwn(input, key);
      if (!present && schema.optin === "optional" && schema.optout === "optional") continue;
      const from = issues.length;
      const value = schema.run(present ? input[key] : undefined, issues);
      under(key, issues, from);
      if (!present && schema.optin === undefined) {
        // A key that must be there is missing even where its schema would take `undefined`.
        if (issues.length === from) issues.push({ ...wrongType("nonoptional", undefined), path: [key] });
      } else if (value !== undefined || present || (schema.optin === "defaulted" && schema.optout !== "optional")) {
        out[key] = value;
      }
    }
    if (rest === "strip") return out;
    const unknown: string[] = [];
    for (const key in input) {
      if (Object.hasOwn(shape, key) || !Object.hasOwn(input, key)) continue;
      if (rest === "strict") unknown.push(key);
      else if (key === "__proto__") continue;
      else if (rest === "loose") out[key] = input[key];
      else {
        const from = issues.length;
        out[key] = rest.run(input[key], issues);
        under(key, issues, from);
      }
    }
    if (unknown.length > 0) issues.push({ code: "unrecognized_keys", keys: unknown, path: [] });
    return out;
  };
}

// ── Types ────────────────────────────────────────────────────────────────────────────────

export const string = (): Schema<string> => typeOf("string", (input) => typeof input === "string");
/** A finite number (zod refuses NaN and ±Infinity too). */
export const number = (): Schema<number> => typeOf("number", (input) => typeof input === "number" && Number.isFinite(input));
export const boolean = (): Schema<boolean> => typeOf("boolean", (input) => typeof input === "boolean");
export const unknown = (): Schema<unknown> => new Schema({ type: "unknown" }, (input) => input);

export function literal<const T extends Primitive>(value: T): Schema<T> {
  return new Schema<T>({ type: "literal", value }, (input, issues) => {
    if (input !== value) issues.push({ code: "invalid_value", values: [value], path: [] });
    return input;
  });
}

function enumOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  const accepted = new Set<unknown>(values);
  return new Schema<T[number]>({ type: "enum", values }, (input, issues) => {
    if (!accepted.has(input)) issues.push({ code: "invalid_value", values, path: [] });
    return input;
  });
}
export { enumOf as enum };

export function optional<S extends Schema<unknown, unknown>>(inner: S): Schema<Output<S> | undefined, Input<S> | undefined> & { readonly optout: "optional" } {
  const schema = new Schema<Output<S> | undefined, Input<S> | undefined>({ type: "optional", inner }, (input, issues) =>
    input === undefined ? undefined : inner.run(input, issues),
  );
  return Object.assign(schema, { optin: inner.optin === "defaulted" ? ("defaulted" as const) : ("optional" as const), optout: "optional" as const });
}

export function nullable<S extends Schema<unknown, unknown>>(inner: S): Schema<Output<S> | null, Input<S> | null> {
  const schema = new Schema<Output<S> | null, Input<S> | null>({ type: "nullable", inner }, (input, issues) => (input === null ? null : inner.run(input, issues)));
  return Object.assign(schema, { optin: inner.optin, optout: inner.optout });
}

/** `value` when the input is `undefined` (unparsed, as zod does); the inner schema otherwise. */
export function _default<S extends Schema<unknown, unknown>>(
  inner: S,
  value: Exclude<Output<S>, undefined>,
): Schema<Exclude<Output<S>, undefined>, Input<S> | undefined> {
  const schema = new Schema<Exclude<Output<S>, undefined>, Input<S> | undefined>({ type: "default", inner, value }, (input, issues) =>
    input === undefined ? value : inner.run(input, issues),
  );
  return Object.assign(schema, { optin: "defaulted" as const });
}

export function array<S extends Schema<unknown, unknown>>(item: S): Schema<Output<S>[]> {
  return new Schema<Output<S>[]>({ type: "array", inner: item }, (input, issues) => {
    if (!Array.isArray(input)) {
      issues.push(wrongType("array", input));
      return input;
    }
    return input.map((element, index) => {
      const from = issues.length;
      const value = item.run(element, issues);
      under(index, issues, from);
      return value;
    });
  });
}

/** A plain object's own keys and values, each through its schema (`__proto__` is never copied). */
export function record<V extends Schema<unknown, unknown>>(keys: Schema<string>, values: V): Schema<Record<string, Output<V>>> {
  return new Schema<Record<string, Output<V>>>({ type: "record", keys, values }, (input, issues) => {
    const prototype = isObject(input) ? Object.getPrototypeOf(input) : undefined;
    if (prototype !== Object.prototype && prototype !== null) {
      issues.push(wrongType("record", input));
      return input;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(input as object)) {
      if (key === "__proto__") continue;
      const from = issues.length;
      keys.run(key, issues);
      const value = values.run((input as Record<string, unknown>)[key], issues);
      under(key, issues, from);
      out[key] = value;
    }
    return out;
  });
}

/** Known keys parsed, unknown keys dropped. */
export const object = <S extends Shape>(shape: S): ObjectSchema<S> => new ObjectSchema(shape, "strip");
/** Known keys parsed, any other key refused. */
export const strictObject = <S extends Shape>(shape: S): ObjectSchema<S> => new ObjectSchema(shape, "strict");
/** Known keys parsed, unknown keys kept as they are. */
export const looseObject = <S extends Shape>(shape: S): ObjectSchema<S, ObjectOutput<S> & Record<string, unknown>> => new ObjectSchema(shape, "loose");
/** Known keys parsed, every other key through `rest`. */
export const catchall = <S extends Shape, R extends Schema<unknown, unknown>>(base: ObjectSchema<S>, rest: R): ObjectSchema<S, ObjectOutput<S> & Record<string, Output<R>>> =>
  new ObjectSchema(base.shape, rest);

/** `base` with more keys (or keys replaced), keeping what it does with unknown keys. */
export function extend<S extends Shape, E extends Shape>(base: ObjectSchema<S, unknown>, shape: E): ObjectSchema<Flat<Omit<S, keyof E> & E>> {
  const { rest } = base.def as Extract<Def, { type: "object" }>;
  return new ObjectSchema({ ...base.shape, ...shape } as Flat<Omit<S, keyof E> & E>, rest);
}

/** The first option that takes the input whole. */
export function union<const T extends readonly Schema<unknown, unknown>[]>(options: T): Schema<Output<T[number]>> {
  return new Schema<Output<T[number]>>({ type: "union", options }, (input, issues) => {
    for (const option of options) {
      const own: Issue[] = [];
      const value = option.run(input, own);
      if (own.length === 0) return value;
    }
    issues.push({ code: "invalid_union", path: [] });
    return input;
  });
}

/** The option whose `key` (a literal or an enum in each option's shape) matches the input's. */
export function discriminatedUnion<const T extends readonly ObjectSchema<Shape, unknown>[]>(key: string, options: T): Schema<Output<T[number]>> {
  const byValue = new Map<unknown, ObjectSchema<Shape, unknown>>();
  for (const option of options) {
    const def = option.shape[key]?.def;
    const values = def?.type === "literal" ? [def.value] : def?.type === "enum" ? def.values : [];
    for (const value of values) byValue.set(value, option);
  }
  return new Schema<Output<T[number]>>({ type: "discriminated_union", key, options }, (input, issues) => {
    if (!isObject(input)) {
      issues.push(wrongType("object", input));
      return input;
    }
    const option = byValue.get(input[key]);
    if (option) return option.run(input, issues);
    issues.push({ code: "invalid_union", options: [...byValue.keys()], path: [key] });
    return input;
  });
}

/** `out` on what `in` made, once `in` found no issue. */
export function pipe<A extends Schema<unknown, unknown>, B extends Schema<unknown, Output<A>>>(first: A, then: B | Schema<unknown, Output<A>>): Schema<Output<B>, Input<A>> {
  const schema = new Schema<Output<B>, Input<A>>({ type: "pipe", in: first, out: then }, (input, issues) => {
    const from = issues.length;
    const value = first.run(input, issues);
    return issues.length > from ? value : then.run(value, issues);
  });
  return Object.assign(schema, { optin: first.optin, optout: then.optout });
}

export function transform<I = unknown, O = I>(fn: (input: I) => O): Schema<O, I> {
  return new Schema<O, I>({ type: "transform", fn }, (input) => fn(input as I));
}

/** zod's email pattern: what the admin API has always accepted. */
const EMAIL = /^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$/;

export const email = (): Schema<string> =>
  new Schema<string>({ type: "email" }, (input, issues) => {
    if (typeof input !== "string") issues.push(wrongType("string", input));
    else if (!EMAIL.test(input)) issues.push({ code: "invalid_format", format: "email", path: [] });
    return input;
  });

/** An absolute URL whose scheme (without its colon) matches `protocol`, trimmed of surrounding space. */
export const url = ({ protocol }: { protocol: RegExp }): Schema<string> =>
  new Schema<string>({ type: "url", protocol }, (input, issues) => {
    if (typeof input !== "string") {
      issues.push(wrongType("string", input));
      return input;
    }
    const trimmed = input.trim();
    const parsed = URL.parse(trimmed);
    if (!parsed || !protocol.test(parsed.protocol.slice(0, -1))) issues.push({ code: "invalid_format", format: "url", path: [] });
    return trimmed;
  });

// ── Checks ───────────────────────────────────────────────────────────────────────────────

export const regex = (pattern: RegExp, message?: string): Check<string> =>
  new Check({ check: "regex", pattern, message }, (value, issues) => {
    if (!pattern.test(value)) issues.push({ code: "invalid_format", format: "regex", pattern: String(pattern), path: [], message });
    return value;
  });

const originOf = (value: unknown) => (typeof value === "string" ? "string" : Array.isArray(value) ? "array" : "number");

function bound(check: "min_length" | "max_length" | "gte" | "lte", limit: number, holds: (n: number) => boolean): Check<number | { length: number }> {
  return new Check({ check, bound: limit }, (value, issues) => {
    if (!holds(typeof value === "number" ? value : value.length)) {
      issues.push({ code: check === "min_length" || check === "gte" ? "too_small" : "too_big", origin: originOf(value), bound: limit, path: [] });
    }
    return value;
  });
}

export const minLength = (n: number): Check<string | readonly unknown[]> => bound("min_length", n, (length) => length >= n) as Check<string | readonly unknown[]>;
export const maxLength = (n: number): Check<string | readonly unknown[]> => bound("max_length", n, (length) => length <= n) as Check<string | readonly unknown[]>;
export const gte = (n: number): Check<number> => bound("gte", n, (value) => value >= n);
export const lte = (n: number): Check<number> => bound("lte", n, (value) => value <= n);

/** A whole number within ±2⁵³ − 1. */
export const int = (): Check<number> =>
  new Check({ check: "int" }, (value, issues) => {
    if (!Number.isInteger(value)) issues.push(wrongType("int", value));
    else if (!Number.isSafeInteger(value)) {
      issues.push(value > 0 ? { code: "too_big", origin: "number", bound: Number.MAX_SAFE_INTEGER, path: [] } : { code: "too_small", origin: "number", bound: Number.MIN_SAFE_INTEGER, path: [] });
    }
    return value;
  });

/** The value with its surrounding white space removed, for the checks after it. */
export const trim = (): Check<string> => new Check({ check: "trim" }, (value) => value.trim());

export const refine = <T>(fn: (value: T) => unknown, message?: string): Check<T> =>
  new Check<T>({ check: "refine", fn, message }, (value, issues) => {
    if (!fn(value)) issues.push({ code: "custom", path: [], message });
    return value;
  });

/** Documentation only: the description the OpenAPI document gives the value. */
export const describe = (text: string): Check<unknown> => new Check({ check: "describe", text }, (value) => value);

// ── Words ────────────────────────────────────────────────────────────────────────────────

const UNITS: Record<string, string> = { string: "character", array: "item" };

/**
 * The words of an issue whose check gave none of its own, in the README's style
 * ("ttl_seconds: must be at most 3600"; a field that is not there "is required").
 */
function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return `must be ${issue.expected === "int" ? "an integer" : /^[aeiou]/.test(issue.expected) ? `an ${issue.expected}` : `a ${issue.expected}`}`;
    case "invalid_value":
      return issue.values.length === 1 ? `must be ${JSON.stringify(issue.values[0])}` : oneOf(issue.values);
    case "too_big":
    case "too_small": {
      const relation = issue.code === "too_big" ? "at most" : "at least";
      const unit = UNITS[issue.origin];
      if (!unit) return `must be ${relation} ${issue.bound}`;
      return `must be ${relation} ${issue.bound} ${unit}${issue.bound === 1 ? "" : "s"} long`;
    }
    case "invalid_format":
      return issue.pattern ? `must match ${issue.pattern}` : `must be a valid ${issue.format}`;
    case "invalid_union":
      // A discriminated union names its discriminator's accepted values (`provider`).
      return issue.options ? oneOf(issue.options) : "matches none of the accepted forms";
    default:
      return "is invalid";
  }
}

const oneOf = (values: readonly unknown[]): string => `must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
