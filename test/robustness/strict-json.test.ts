/**
 * parseStrictJson (src/strict-json.ts) on its own: JSON.parse's value when every object names
 * each member once, else where the repeat is; names compared decoded; depth bounded; and
 * linear on the worst 32 KiB bodies we could be sent. The wire behaviour of every route is
 * in request-bodies.test.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, parseStrictJson } from "../../src/strict-json";

const duplicateAt = (text: string) => {
  const parsed = parseStrictJson(text);
  return parsed.ok ? null : parsed.why === "duplicate" ? parsed.path : parsed.why;
};

describe("parseStrictJson: repeated names", () => {
  it("returns JSON.parse's value when no object repeats a name", () => {
    const text = '{"a":1,"b":{"a":2,"c":[{"a":3},{"a":4}]},"c":"\\"a\\":1,\\"a\\":2"}';
    expect(parseStrictJson(text)).toEqual({ ok: true, value: JSON.parse(text) });
  });

  it("refuses a repeated top-level name", () => {
    expect(duplicateAt('{"a":1,"a":2}')).toEqual(["a"]);
    expect(duplicateAt('{"a":1,"a":1}')).toEqual(["a"]);
  });

  it("compares names decoded: an escape spells the same name", () => {
    expect(duplicateAt('{"a":1,"\\u0061":2}')).toEqual(["a"]);
    expect(duplicateAt('{"\\u0061":1,"a":2}')).toEqual(["a"]);
    expect(duplicateAt('{"a\\/b":1,"a/b":2}')).toEqual(["a/b"]);
    expect(duplicateAt('{"\\ud83e\\udd80":1,"🦀":2}')).toEqual(["🦀"]);
    expect(duplicateAt('{"\\"":1,"\\u0022":2}')).toEqual(['"']);
    // Lone surrogates are names too, compared by code unit like JSON.parse's own keys.
    // (Compared as JSON, which escapes them: a lone surrogate cannot travel in a test report.)
    expect(JSON.stringify(duplicateAt('{"\\ud800":1,"\\uD800":2}'))).toBe('["\\ud800"]');
    expect(duplicateAt('{"\\ud800":1,"\\udc00":2}')).toBeNull();
  });

  it("tells names that differ only in case or by an escape of another character apart", () => {
    expect(duplicateAt('{"a":1,"A":2,"\\u0062":3,"b ":4}')).toBeNull();
  });

  it("refuses names inherited members could shadow, like any other", () => {
    expect(duplicateAt('{"__proto__":1,"__proto__":2}')).toEqual(["__proto__"]);
    expect(duplicateAt('{"constructor":1,"toString":2,"hasOwnProperty":3}')).toBeNull();
  });

  it("finds a repeat at any depth and says where", () => {
    expect(duplicateAt('{"provider":"github","conditions":{"ref":"refs/heads/main","ref":"*"}}')).toEqual(["conditions", "ref"]);
    expect(duplicateAt('{"x":[{"a":1},{"b":1,"b":2}]}')).toEqual(["x", "1", "b"]);
    expect(duplicateAt('[[{"a":{"b":{"c":1,"c":2}}}]]')).toEqual(["0", "0", "a", "b", "c"]);
  });

  it("allows the same name in different objects, and a value equal to a name", () => {
    expect(duplicateAt('{"a":{"a":{"a":"a"}},"b":[{"a":1},{"a":1}],"c":"a"}')).toBeNull();
    expect(duplicateAt('[{"a":1},{"a":2}]')).toBeNull();
  });

  it("does not take a string value, or a string inside an array, for a name", () => {
    expect(duplicateAt('{"a":"b","b":["a","a"],"c":{"d":"a"}}')).toBeNull();
    expect(duplicateAt('{"a":"x\\\\","a\\\\":1}')).toBeNull();
  });

  it("passes anything JSON.parse refuses on as malformed", () => {
    for (const text of ["", "{", '{"a":1,}', "{'a':1}", '{"a":1}x', "\ufeff{}", "[1,]", '{"a" 1}', "NaN"]) {
      expect(parseStrictJson(text), text).toEqual({ ok: false, why: "malformed" });
    }
  });

  it("accepts every top-level JSON value", () => {
    for (const text of ["1", '"a"', "null", "true", "[]", "{}", " \n{ } "]) expect(parseStrictJson(text)).toEqual({ ok: true, value: JSON.parse(text) });
  });
});

describe("parseStrictJson: depth", () => {
  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses ${MAX_JSON_DEPTH + 1}`, () => {
    const nest = (n: number) => '{"a":'.repeat(n - 1) + "[" + "]" + "}".repeat(n - 1);
    expect(parseStrictJson(nest(MAX_JSON_DEPTH)).ok).toBe(true);
    expect(parseStrictJson(nest(MAX_JSON_DEPTH + 1))).toEqual({ ok: false, why: "too_deep" });
  });
});

/** A JSON value as a tree whose objects are member lists, so a name may appear twice. */
type Tree = { kind: "leaf"; value: null | number | string } | { kind: "array"; items: Tree[] } | { kind: "object"; members: [string, Tree][] };

const NAMES = ["a", "b", "A", "é", '"', "\\", "/", "\ud83e\udd80", "__proto__", "a b"];

const tree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.oneof(fc.constant(null), fc.integer(), fc.constantFrom(...NAMES)).map((value): Tree => ({ kind: "leaf", value })),
    fc.array(tie("tree"), { maxLength: 4 }).map((items): Tree => ({ kind: "array", items })),
    fc.array(fc.tuple(fc.constantFrom(...NAMES), tie("tree")), { maxLength: 4 }).map((members): Tree => ({ kind: "object", members })),
  ),
})).tree;

/** Where a reader going through the text in order first meets a name its object already has. */
function firstRepeat(t: Tree, path: string[] = []): string[] | null {
  if (t.kind === "array") {
    for (const [i, item] of t.items.entries()) {
      const found = firstRepeat(item, [...path, String(i)]);
      if (found) return found;
    }
  }
  if (t.kind === "object") {
    const seen = new Set<string>();
    for (const [name, value] of t.members) {
      if (seen.has(name)) return [...path, name];
      seen.add(name);
      const found = firstRepeat(value, [...path, name]);
      if (found) return found;
    }
  }
  return null;
}

/** Serializes with a chosen spelling for every character of every string (raw or \uXXXX) and random whitespace. */
function serialize(t: Tree, choices: () => number): string {
  const space = () => [" ", "", "\n", "\t", "", ""][choices() % 6]!;
  const string = (s: string) =>
    '"' +
    // By UTF-16 code unit: a pair may be written as two escapes, one escape and a raw unit, or raw.
    Array.from({ length: s.length }, (_, k) => {
      const code = s.charCodeAt(k);
      const mustEscape = code === 0x22 || code === 0x5c || code < 0x20;
      if (mustEscape || choices() % 3 === 0) {
        const hex = code.toString(16).padStart(4, "0");
        return `\\u${choices() % 2 === 0 ? hex : hex.toUpperCase()}`;
      }
      return s[k]!;
    }).join("") +
    '"';
  switch (t.kind) {
    case "leaf":
      return typeof t.value === "string" ? string(t.value) : JSON.stringify(t.value);
    case "array":
      return `[${space()}${t.items.map((i) => serialize(i, choices)).join(`${space()},${space()}`)}${space()}]`;
    case "object":
      return `{${space()}${t.members.map(([n, v]) => `${string(n)}${space()}:${space()}${serialize(v, choices)}`).join(`${space()},${space()}`)}${space()}}`;
  }
}

describe("parseStrictJson: against a reference, property-based", () => {
  it("finds exactly the first repeated name, however names and whitespace are spelled", () => {
    fc.assert(
      fc.property(tree, fc.array(fc.nat(), { minLength: 1, maxLength: 64 }), (t, seeds) => {
        let i = 0;
        const text = serialize(t, () => seeds[i++ % seeds.length]!);
        const expected = firstRepeat(t);
        const parsed = parseStrictJson(text);
        if (expected === null) expect(parsed, text).toEqual({ ok: true, value: JSON.parse(text) });
        else expect(parsed, text).toEqual({ ok: false, why: "duplicate", path: expected });
      }),
      { numRuns: 2000 },
    );
  });

  it("agrees with JSON.parse on any JSON.stringify output (which never repeats a name)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value);
        expect(parseStrictJson(text)).toEqual({ ok: true, value: JSON.parse(text) });
      }),
      { numRuns: 1000 },
    );
  });
});

describe("parseStrictJson: cost stays linear on the worst 32 KiB bodies", () => {
  const KIB32 = 32 * 1024;
  const fill = (unit: string, open = "", close = "") => open + unit.repeat(Math.floor((KIB32 - open.length - close.length) / unit.length)) + close;
  const cases: [string, string][] = [
    ["many distinct names", `{${Array.from({ length: 4000 }, (_, i) => `"k${i}":1`).join(",")}}`.slice(0, KIB32 - 1).replace(/,[^,]*$/, "}")],
    ["many escaped names", `{${Array.from({ length: 1800 }, (_, i) => `"\\u006b${i}":1`).join(",")}}`],
    ["many empty objects", fill("{},", "[", "{}]")],
    ["one long escaped string", fill("\\\\", '{"a":"', '"}')],
    ["one long escaped name", fill("\\u0061", '{"', '":1}')],
    ["deep nesting", "[".repeat(KIB32 / 2) + "]".repeat(KIB32 / 2)],
    ["a repeat at the very end", `{${Array.from({ length: 3000 }, (_, i) => `"k${i}":1`).join(",")},"k0":2}`],
  ];
  for (const [name, text] of cases) {
    it(`${name}: answers in well under a second`, () => {
      expect(text.length).toBeLessThanOrEqual(KIB32 + 64);
      const started = performance.now();
      for (let i = 0; i < 10; i++) parseStrictJson(text);
      const perCall = (performance.now() - started) / 10;
      console.log(`strict-json ${name}: ${(text.length / 1024).toFixed(1)} KiB in ${perCall.toFixed(2)} ms`);
      // Generous: a linear pass over 32 KiB takes about a millisecond; this only catches a blow-up.
      expect(perCall).toBeLessThan(250);
    });
  }
});
