import { describe, expect, it } from "vitest";
import {
  generateStaticToken,
  hashStaticToken,
  parseStaticToken,
  previewStaticToken,
  STATIC_TOKEN_PREFIXES,
  type StaticTokenKind,
} from "../../src/tokens/static-tokens";

const KINDS: StaticTokenKind[] = ["user", "organization", "project"];

describe("static token format", () => {
  it.each(KINDS)("generates a %s token with its type prefix, 30 random characters and a checksum", (kind) => {
    const token = generateStaticToken(kind);
    expect(token.startsWith(STATIC_TOKEN_PREFIXES[kind])).toBe(true);
    expect(token).toMatch(/^sts_(usr|org|prj)_[0-9A-Za-z]{36}$/);
    expect(parseStaticToken(token)).toBe(kind);
  });

  it("never generates the same token twice", () => {
    const tokens = new Set(Array.from({ length: 500 }, () => generateStaticToken("project")));
    expect(tokens.size).toBe(500);
  });

  it("refuses every single-character typo by its checksum", () => {
    const token = generateStaticToken("organization");
    const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (let i = "sts_org_".length; i < token.length; i++) {
      const replacement = alphabet[(alphabet.indexOf(token[i]!) + 1 + (i % 61)) % 62]!;
      expect(parseStaticToken(token.slice(0, i) + replacement + token.slice(i + 1))).toBeNull();
    }
  });

  it("refuses a truncated, extended or re-prefixed token", () => {
    const token = generateStaticToken("user");
    expect(parseStaticToken(token.slice(0, -1))).toBeNull();
    expect(parseStaticToken(`${token}a`)).toBeNull();
    expect(parseStaticToken(token.replace("sts_usr_", "sts_org_"))).toBeNull();
    expect(parseStaticToken(token.replace("sts_usr_", "sts_adm_"))).toBeNull();
    expect(parseStaticToken(`${token.slice(0, 10)}-${token.slice(11)}`)).toBeNull();
  });

  it("previews only the prefix and the last four characters", () => {
    const token = generateStaticToken("project");
    expect(previewStaticToken(token)).toBe(`sts_prj_...${token.slice(-4)}`);
  });

  it("hashes with HMAC-SHA-256 keyed by the salt", async () => {
    const token = generateStaticToken("project");
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("salt-1"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const expected = Array.from(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(token))), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join("");
    expect(await hashStaticToken(token, "salt-1")).toBe(expected);
    expect(await hashStaticToken(token, "salt-2")).not.toBe(expected);
  });
});
