/**
 * The schemas (src/schema) hold to zod's answers: every schema a route, a provider or the
 * config validates with is parsed by our code and by zod (the same schema rebuilt with zod,
 * schema/zod.ts) over valid inputs and their hostile variations, and both must agree on
 * success, the parsed value, and every issue's code and path. Then the words our issues say.
 */
import { describe, expect, it } from "vitest";
import * as zod from "zod/mini";
import { RELATIONSHIP_EXAMPLES } from "../../src/routes/admin";
import { OPERATIONS } from "../../src/routes/operations";
import { PROVIDERS, PROVIDER_NAMES } from "../../src/providers/registry";
import * as z from "../../src/schema";
import { toZod } from "../../src/schema/zod";
import { StsError } from "../../src/errors";
import { validate } from "../../src/validate";
import { buildkiteClaims, circleciClaims, githubClaims, rwxClaims } from "../support/issuer";

type Verdict = { success: boolean; data?: unknown; issues?: string[] };

const ours = (schema: z.Schema, input: unknown): Verdict => {
  const r = schema.safeParse(input);
  return r.success ? { success: true, data: r.data } : { success: false, issues: r.error.issues.map(spell) };
};
const zods = (schema: z.Schema, input: unknown): Verdict => {
  const r = toZod(schema).safeParse(input);
  return r.success ? { success: true, data: r.data } : { success: false, issues: r.error.issues.map(spell) };
};
/** An issue as both libraries spell it: code, what was expected, where. */
const spell = (issue: { code: string; path: PropertyKey[]; expected?: unknown }) =>
  `${issue.code}${typeof issue.expected === "string" ? `(${issue.expected})` : ""} at ${issue.path.map(String).join(".")}`;

const HOSTILE: unknown[] = [
  undefined, null, 0, -1, 1.5, 2 ** 53, -(2 ** 60), 3600, true, false, "", " ", "x", "  padded  ", "A".repeat(600), "0", "12",
  "https://example.com/", "ftp://example.com", "a@b.co", "enforce", "github", [], ["x"], [1, 2], {}, { a: 1 },
  JSON.parse('{"__proto__": {"polluted": true}}'),
];

/** The input with one key removed, replaced by each hostile value, or one unknown key added. */
function* variations(input: unknown): Generator<unknown> {
  yield input;
  if (typeof input !== "object" || input === null || Array.isArray(input)) return;
  const record = input as Record<string, unknown>;
  yield { ...record, unknown_field: "x" };
  yield JSON.parse(`{"__proto__": 1${Object.keys(record).length > 0 ? "," : ""} ${JSON.stringify(record).slice(1)}`);
  for (const key of Object.keys(record)) {
    const { [key]: _removed, ...rest } = record;
    yield rest;
    for (const value of HOSTILE) yield { ...record, [key]: value };
    for (const value of variationsOf(record[key])) yield { ...record, [key]: value };
  }
}
const variationsOf = (value: unknown): unknown[] =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? [...variations(value)].slice(1) : [];

/** Each schema with the inputs it is tried with (beyond the hostile values and `{}` every one gets). */
function schemasUnderTest(): [string, z.Schema, unknown[]][] {
  const cases: [string, z.Schema, unknown[]][] = [];
  for (const [key, op] of Object.entries(OPERATIONS)) {
    if (op.body) cases.push([`${key} body`, op.body.schema, Object.values(op.body.examples ?? {}).map((e) => e.value)]);
    if (op.query) cases.push([`${key} query`, op.query, []]);
  }
  cases.push(["relationship body", OPERATIONS["POST /v1/projects/{project_id}/trust-relationships"]!.body!.schema, Object.values(RELATIONSHIP_EXAMPLES).map((e) => e.value)]);
  const claims = { github: githubClaims(), circleci: circleciClaims(), buildkite: buildkiteClaims(), rwx: rwxClaims() };
  for (const name of PROVIDER_NAMES) {
    cases.push([`${name} claims`, PROVIDERS[name].claims, [claims[name]]]);
    const schema = PROVIDERS[name].relationshipSchema;
    const example = Object.entries(RELATIONSHIP_EXAMPLES[name].value as Record<string, unknown>);
    cases.push([`${name} relationship`, schema, [Object.fromEntries(example.filter(([key]) => key in schema.shape))]]);
  }
  return cases;
}

describe("each schema agrees with zod", () => {
  it.each(schemasUnderTest())("%s", (_name, schema, seeds) => {
    let tried = 0;
    let accepted = 0;
    for (const seed of [...seeds, {}]) {
      for (const input of [...variations(seed), ...HOSTILE]) {
        const verdict = ours(schema, input);
        expect(verdict, JSON.stringify(input)).toEqual(zods(schema, input));
        tried++;
        if (verdict.success) accepted++;
      }
    }
    // Where there were valid inputs, both sides of the parse were exercised.
    if (seeds.length > 0) expect(accepted).toBeGreaterThan(0);
    expect(tried).toBeGreaterThan(accepted);
  });
});

describe("the kinds of schema", () => {
  const cases: [string, z.Schema, unknown[]][] = [
    ["optional, defaulted and required keys", z.strictObject({ a: z.optional(z.string()), b: z._default(z.number(), 7), c: z.nullable(z.boolean()) }), [{ c: null }, { a: undefined, c: true }, { b: 1, c: false, d: 1 }]],
    ["a piped optional", z.object({ s: z.pipe(z.optional(z.string()), z.transform((s) => (s ? s.toUpperCase() : undefined))) }), [{}, { s: "" }, { s: "ab" }, { s: 1 }]],
    ["a catchall", z.catchall(z.object({ a: z.string() }), z.number()), [{ a: "x", n: 1 }, { a: "x", n: "1" }, { a: 1, n: "1" }]],
    ["a loose object", z.looseObject({ a: z.string() }), [{ a: "x", b: [1] }, { b: 1 }]],
    ["an array's bounds", z.array(z.string().check(z.trim(), z.minLength(1))).check(z.minLength(1), z.maxLength(2)), [[], [" "], ["a", "b", "c"], ["a", 1]]],
    ["a record", z.record(z.string(), z.string()).check(z.refine((r) => Object.keys(r).length <= 1, "at most 1")), [{ a: "x" }, { a: "x", b: "y" }, { a: 1 }, []]],
    ["numbers", z.number().check(z.int(), z.gte(1), z.lte(10)), [1, 10, 11, 0, 1.5, 2 ** 60, -(2 ** 60), Infinity, NaN, "1"]],
    ["a union", z.union([z.string(), z.number()]), ["a", 1, null]],
    ["a discriminated union", z.discriminatedUnion("k", [z.object({ k: z.literal("a"), n: z.number() }), z.object({ k: z.enum(["b", "c"]) })]), [{ k: "a", n: 1 }, { k: "a" }, { k: "c" }, { k: "d" }, "a"]],
    ["a checked string", z.string().check(z.trim(), z.regex(/^[a-z]+$/, "lower case"), z.maxLength(3)), [" ab ", "abcd", "AB", "ABCDE"]],
    ["an email", z.pipe(z.email().check(z.maxLength(254)), z.transform((e) => e.toLowerCase())), ["A@Example.COM", "a@b", "a..b@c.de", ".a@b.de"]],
  ];
  it.each(cases)("%s", (_name, schema, inputs) => {
    for (const input of [...inputs, ...HOSTILE]) expect(ours(schema, input), String(input)).toEqual(zods(schema, input));
  });

  it("takes an absolute http(s) URL only, trimmed", () => {
    const url = z.url({ protocol: /^https?$/ });
    expect(url.safeParse(" https://sts.example/ ").data).toBe("https://sts.example/");
    for (const bad of ["ftp://x.example", "sts.example", "https//x", "", 1]) expect(url.safeParse(bad).success, String(bad)).toBe(false);
  });
});

describe("the words of a refusal", () => {
  const said = (schema: z.Schema, input: unknown) => {
    try {
      validate(schema, input);
      return "accepted";
    } catch (error) {
      return (error as StsError).detail;
    }
  };
  const body = z.strictObject({
    name: z.string().check(z.trim(), z.minLength(1), z.maxLength(3)),
    ttl: z.optional(z.number().check(z.int(), z.lte(3600))),
    role: z.optional(z.enum(["admin", "member"])),
    tags: z.optional(z.array(z.string()).check(z.maxLength(1))),
    slug: z.optional(z.string().check(z.regex(/^[a-z]+$/))),
    kind: z.optional(z.literal("x")),
  });

  it.each([
    [{}, "name: is required"],
    [{ name: 1 }, "name: must be a string"],
    [{ name: "  " }, "name: must be at least 1 character long"],
    [{ name: "abcd" }, "name: must be at most 3 characters long"],
    [{ name: "a", ttl: 1.5 }, "ttl: must be an integer"],
    [{ name: "a", ttl: 4000 }, "ttl: must be at most 3600"],
    [{ name: "a", role: "owner" }, 'role: must be one of "admin", "member"'],
    [{ name: "a", tags: ["a", "b"] }, "tags: must be at most 1 item long"],
    [{ name: "a", slug: "A" }, "slug: must match /^[a-z]+$/"],
    [{ name: "a", kind: "y" }, 'kind: must be "x"'],
    [{ name: "a", other: 1 }, "unknown field: other"],
    [[], "body: must be an object"],
  ])("%j → %s", (input, words) => {
    expect(said(body, input)).toBe(words);
  });
});

it("a zod rebuild is built once per schema, so a named component is one zod object", () => {
  const schema = z.object({ a: z.string() });
  expect(toZod(schema)).toBe(toZod(schema));
  expect(toZod(schema)).toBeInstanceOf(zod.ZodMiniObject);
});
