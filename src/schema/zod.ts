/**
 * Each schema rebuilt with zod/mini from its `def`, for what only builds and tests do: the
 * OpenAPI document, through zod's own `toJSONSchema`, and the tests that hold these schemas
 * to zod's answers. The Worker never imports this file, so zod stays out of its bundle.
 *
 * One zod schema per schema (memoized), so a schema named in the document's components is
 * the same zod object wherever it appears.
 */
import * as zod from "zod/mini";
import type { Check, Schema } from "./index";

const rebuilt = new WeakMap<Schema, zod.ZodMiniType>();

export function toZod(schema: Schema<unknown, unknown>): zod.ZodMiniType {
  let made = rebuilt.get(schema);
  if (!made) {
    made = withChecks(base(schema), schema.checks);
    rebuilt.set(schema, made);
  }
  return made;
}

function base(schema: Schema<unknown, unknown>): zod.ZodMiniType {
  const def = schema.def;
  switch (def.type) {
    case "string":
      return zod.string();
    case "number":
      return zod.number();
    case "boolean":
      return zod.boolean();
    case "unknown":
      return zod.unknown();
    case "email":
      return zod.email();
    case "url":
      return zod.url({ protocol: def.protocol });
    case "literal":
      return zod.literal(def.value);
    case "enum":
      return zod.enum(def.values as [string, ...string[]]);
    case "optional":
      return zod.optional(toZod(def.inner));
    case "nullable":
      return zod.nullable(toZod(def.inner));
    case "array":
      return zod.array(toZod(def.inner));
    case "default":
      return zod._default(toZod(def.inner), def.value as never);
    case "record":
      return zod.record(toZod(def.keys) as zod.ZodMiniString, toZod(def.values));
    case "object": {
      const shape = Object.fromEntries(Object.entries(def.shape).map(([key, value]) => [key, toZod(value)]));
      if (def.rest === "strip") return zod.object(shape);
      if (def.rest === "strict") return zod.strictObject(shape);
      if (def.rest === "loose") return zod.looseObject(shape);
      return zod.catchall(zod.object(shape), toZod(def.rest));
    }
    case "union":
      return zod.union(def.options.map(toZod) as [zod.ZodMiniType, ...zod.ZodMiniType[]]);
    case "discriminated_union":
      return zod.discriminatedUnion(def.key, def.options.map(toZod) as unknown as [zod.ZodMiniObject, ...zod.ZodMiniObject[]]);
    case "pipe":
      return zod.pipe(toZod(def.in), toZod(def.out) as zod.ZodMiniType<unknown, unknown>);
    case "transform":
      return zod.transform(def.fn as (input: unknown) => unknown);
  }
}

function withChecks(made: zod.ZodMiniType, checks: readonly Check<never>[]): zod.ZodMiniType {
  if (checks.length === 0) return made;
  return made.check(
    ...checks.map((check) => {
      const def = check.def;
      switch (def.check) {
        case "regex":
          return zod.regex(def.pattern, def.message);
        case "min_length":
          return zod.minLength(def.bound);
        case "max_length":
          return zod.maxLength(def.bound);
        case "gte":
          return zod.gte(def.bound);
        case "lte":
          return zod.lte(def.bound);
        case "int":
          return zod.int();
        case "trim":
          return zod.trim();
        case "refine":
          return zod.refine(def.fn as (value: unknown) => unknown, def.message);
        case "describe":
          return zod.describe(def.text);
      }
    }) as never[],
  );
}

