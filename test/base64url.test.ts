/**
 * The one base64url codec (src/base64url.ts): one spelling per byte string, so a token's text
 * is its identity. The wire consequences are tested where tokens arrive (test/robustness/
 * signature-spelling.test.ts for CI tokens, test/tokens/own-token-spelling.test.ts for ours).
 */
import { describe, expect, it } from "vitest";
import { decodeBase64Url, encodeBase64Url } from "../src/base64url";

const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes));

describe("base64url", () => {
  it("decodes canonical base64url", () => expect(text(decodeBase64Url("aGk"))).toBe("hi"));
  it("decodes the empty string to no bytes", () => expect(decodeBase64Url("")).toEqual(new Uint8Array()));
  it("refuses padding", () => expect(decodeBase64Url("aGk=")).toBeNull());
  it("refuses unused bits set in the last character", () => {
    // "aGk" and "aGl" both decode to "hi" under atob; only the first is canonical.
    expect(atob("aGl")).toBe("hi");
    expect(decodeBase64Url("aGl")).toBeNull();
  });
  it("refuses an impossible length", () => expect(decodeBase64Url("aGkaa")).toBeNull());
  it("refuses standard base64 characters", () => {
    expect(decodeBase64Url("a+/k")).toBeNull();
    expect(decodeBase64Url("a-_k")).not.toBeNull();
  });
  it("refuses whitespace atob would skip", () => {
    expect(decodeBase64Url("aG k")).toBeNull();
    expect(decodeBase64Url("aGk\n")).toBeNull();
  });

  it("round-trips every byte length and value, and every other spelling of the last character is refused", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let length = 0; length < 8; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 97 + 255) & 0xff);
      const encoded = encodeBase64Url(bytes);
      expect(encoded).not.toMatch(/[=+/]/);
      expect(decodeBase64Url(encoded)).toEqual(bytes);
      if (length === 0) continue;
      const others = [...alphabet].filter((c) => c !== encoded.at(-1)).map((c) => encoded.slice(0, -1) + c);
      // Exactly one spelling of these bytes: every other last character decodes to other bytes or not at all.
      for (const other of others) {
        const decoded = decodeBase64Url(other);
        if (decoded) expect(decoded).not.toEqual(bytes);
      }
    }
  });

  it("encodes strings as UTF-8", () => expect(encodeBase64Url("é")).toBe("w6k"));
});
