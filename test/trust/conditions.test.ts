/** Pure: `conditions` globs (anchored, `*` never crosses `/`, no regex) and claim values. */
import { describe, expect, it } from "vitest";
import { claimStrings, conditionsHold, isKnownClaim, matchesPattern } from "../../src/trust/conditions";

describe("matchesPattern", () => {
  const table: [pattern: string, value: string, matches: boolean][] = [
    ["main", "main", true],
    ["main", "mainline", false],
    ["main", "domain", false],
    ["main", "Main", false],
    ["", "", true],
    ["", "x", false],
    ["*", "", true],
    ["*", "anything-at-all", true],
    ["*", "a/b", false],
    ["refs/heads/*", "refs/heads/main", true],
    ["refs/heads/*", "refs/heads/release/1.0", false],
    ["refs/heads/*", "refs/tags/v1", false],
    ["refs/heads/*", "refs/heads", false],
    ["refs/*/main", "refs/heads/main", true],
    ["refs/*/main", "refs/heads/x/main", false],
    ["*/*", "acme/app", true],
    ["*/*", "acme/app/extra", false],
    ["**", "a/b", false],
    ["v*", "v1.2.3", true],
    ["v*.*", "v1.2", true],
    ["v*.*", "v1", false],
    ["*-prod", "us-east-prod", true],
    ["*-prod", "prod", false],
    ["*-prod", "us-east-prod-2", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXXbYYc", true],
    ["a*b*c", "acb", false],
    ["*a", "bbbba", true],
    ["*a", "bbbab", false],
    ["a*", "a", true],
    ["a.c", "abc", false],
    ["a?c", "abc", false],
    ["[ab]", "a", false],
    ["a+", "aa", false],
    ["^main$", "main", false],
    ["(main|dev)", "main", false],
    ["a\\*", "a\\xyz", true],
  ];
  for (const [pattern, value, matches] of table) {
    it(`${matches ? "matches" : "does not match"} ${JSON.stringify(value)} against ${JSON.stringify(pattern)}`, () => {
      expect(matchesPattern(pattern, value)).toBe(matches);
    });
  }

  it("stays fast on a pattern built to backtrack", () => {
    const started = Date.now();
    expect(matchesPattern(`${"*a".repeat(100)}b`, "a".repeat(256))).toBe(false);
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe("claimStrings", () => {
  it("keeps a string as it is", () => expect(claimStrings("refs/heads/main")).toEqual(["refs/heads/main"]));
  it("spells numbers as JSON", () => expect(claimStrings(42)).toEqual(["42"]));
  it("spells booleans as JSON", () => expect(claimStrings(false)).toEqual(["false"]));
  it("takes arrays element by element", () => expect(claimStrings(["a", 1, true])).toEqual(["a", "1", "true"]));
  it("skips nested arrays and objects", () => expect(claimStrings(["a", ["b"], { c: "d" }])).toEqual(["a"]));
  for (const value of [null, undefined, { a: "b" }]) {
    it(`gives nothing for ${JSON.stringify(value) ?? "undefined"}`, () => expect(claimStrings(value)).toEqual([]));
  }
});

describe("conditionsHold", () => {
  const claims = {
    ref: "refs/heads/main",
    event_name: "push",
    build_number: 42,
    "oidc.circleci.com/ssh-rerun": false,
    "oidc.circleci.com/context-ids": ["c1", "c2"],
    build_tag: null,
  };

  it("holds for no conditions", () => expect(conditionsHold({}, claims)).toBe(true));
  it("holds when every condition holds", () => expect(conditionsHold({ ref: "refs/heads/*", event_name: "push" }, claims)).toBe(true));
  it("fails when one condition fails", () => expect(conditionsHold({ ref: "refs/heads/*", event_name: "pull_request" }, claims)).toBe(false));
  it("fails for an absent claim, even with '*'", () => expect(conditionsHold({ environment: "*" }, claims)).toBe(false));
  it("fails for a null claim, even with '*'", () => expect(conditionsHold({ build_tag: "*" }, claims)).toBe(false));
  it("matches a number by its JSON spelling", () => expect(conditionsHold({ build_number: "42" }, claims)).toBe(true));
  it("does not match a number by a different spelling", () => expect(conditionsHold({ build_number: "42.0" }, claims)).toBe(false));
  it("matches a boolean by its JSON spelling", () => expect(conditionsHold({ "oidc.circleci.com/ssh-rerun": "false" }, claims)).toBe(true));
  it("does not match a boolean by another spelling", () => expect(conditionsHold({ "oidc.circleci.com/ssh-rerun": "False" }, claims)).toBe(false));
  it("holds for an array when any element matches", () => expect(conditionsHold({ "oidc.circleci.com/context-ids": "c2" }, claims)).toBe(true));
  it("fails for an array when no element matches", () => expect(conditionsHold({ "oidc.circleci.com/context-ids": "c3" }, claims)).toBe(false));
  it("does not look up inherited names as claims", () => expect(conditionsHold({ constructor: "*" }, claims)).toBe(false));
});

describe("isKnownClaim", () => {
  const known = ["ref", "event_name", "repo_property_*"];
  it("knows a listed claim", () => expect(isKnownClaim("ref", known)).toBe(true));
  it("does not know an unlisted claim", () => expect(isKnownClaim("branch", known)).toBe(false));
  it("knows a claim under a listed prefix", () => expect(isKnownClaim("repo_property_tier", known)).toBe(true));
  it("does not know the bare prefix", () => expect(isKnownClaim("repo_property_", known)).toBe(false));
  it("does not treat a listed name as a prefix", () => expect(isKnownClaim("ref_type", known)).toBe(false));
});
