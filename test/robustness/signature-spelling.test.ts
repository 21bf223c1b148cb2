/**
 * Signature spelling (issue 4 §5): base64url has more than one way to write the same
 * bytes (padding, unused trailing bits, the standard alphabet). A token must have exactly
 * one accepted spelling, so one ID token can never be exchanged twice by re-spelling it.
 * Transport encodings (percent-encoding in a form, \u escapes in JSON) are the same
 * token after decoding and must count as a replay.
 */
import { describe, expect, it } from "vitest";
import { decodeHeader } from "../support/api";
import { client, expectAccepted, expectError, isolatedIssuers, PROVIDERS, seedJob } from "./support";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Other spellings of the last character of a segment that decode to the same bytes. */
function unusedBitVariants(segment: string): string[] {
  const unused = segment.length % 4 === 2 ? 4 : segment.length % 4 === 3 ? 2 : 0;
  if (unused === 0) return [];
  const last = ALPHABET.indexOf(segment.at(-1)!);
  return Array.from({ length: (1 << unused) - 1 }, (_, i) => segment.slice(0, -1) + ALPHABET[last ^ (i + 1)]!);
}

/** Every alternative spelling of `token` whose segments decode to the same bytes (or nearly). */
function respellings(token: string): { name: string; token: string }[] {
  const [h, p, s] = token.split(".") as [string, string, string];
  const out: { name: string; token: string }[] = [];
  const pad = (x: string) => x + "=".repeat((4 - (x.length % 4)) % 4 || 0);
  out.push({ name: "padded signature", token: `${h}.${p}.${pad(s)}` });
  out.push({ name: "signature with one '='", token: `${h}.${p}.${s}=` });
  out.push({ name: "padded header and payload", token: `${pad(h)}.${pad(p)}.${s}` });
  for (const [i, v] of unusedBitVariants(s).entries()) out.push({ name: `signature unused bits #${i + 1}`, token: `${h}.${p}.${v}` });
  for (const [i, v] of unusedBitVariants(p).entries()) out.push({ name: `payload unused bits #${i + 1}`, token: `${h}.${v}.${s}` });
  for (const [i, v] of unusedBitVariants(h).entries()) out.push({ name: `header unused bits #${i + 1}`, token: `${v}.${p}.${s}` });
  const standard = (x: string) => x.replace(/-/g, "+").replace(/_/g, "/");
  if (standard(s) !== s) out.push({ name: "signature in the standard alphabet", token: `${h}.${p}.${standard(s)}` });
  out.push({ name: "signature in the standard alphabet with padding", token: `${h}.${p}.${pad(standard(s))}` });
  out.push({ name: "trailing newline", token: `${token}\n` });
  out.push({ name: "leading space", token: ` ${token}` });
  out.push({ name: "line-wrapped signature", token: `${h}.${p}.${s.slice(0, 64)}\n${s.slice(64)}` });
  out.push({ name: "trailing dot", token: `${token}.` });
  out.push({ name: "empty fourth segment", token: `${h}.${p}.${s}..` });
  // Padding a segment whose length is a multiple of 4 adds nothing: that is the token itself.
  return out.filter((v) => v.token !== token);
}

describe("signature spelling", () => {
  it("builds unused-bit variants that decode to the very same bytes (the test's own premise)", () => {
    const segment = "AAB"; // 2 bytes, 2 unused bits
    const decode = (x: string) => atob(x.replace(/-/g, "+").replace(/_/g, "/"));
    for (const v of unusedBitVariants(segment)) expect(decode(v)).toBe(decode(segment));
    expect(unusedBitVariants("AAAAAQ")).toHaveLength(15);
  });

  it.each(PROVIDERS)("refuses every re-spelling of a valid %s token as malformed, before and after it is exchanged", async (provider) => {
    const issuers = isolatedIssuers("spell");
    const api = client(issuers);
    const job = await seedJob(api, provider, issuers);
    const token = await job.token();
    const variants = respellings(token);
    expect(variants.length).toBeGreaterThan(10);
    for (const v of variants) {
      const response = await api.exchange(v.token);
      expect(response.status, v.name).toBe(400);
      const body = await expectError(response, 400, "invalid_request");
      expect(body.error_description, v.name).not.toContain("already been exchanged");
    }
    // The refusals spent nothing: the canonical spelling is accepted.
    await expectAccepted(await api.exchange(token));
    for (const v of variants) {
      const response = await api.exchange(v.token);
      expect(response.status, v.name).toBe(400);
      await expectError(response, 400, "invalid_request");
    }
    if (job.singleUse) {
      const body = await expectError(await api.exchange(token), 400, "invalid_request");
      expect(body.error_description).toContain("already been exchanged");
    }
  });

  it.each(["github", "buildkite"] as const)("counts a transport re-encoding of a %s token as the same token: exchanged once only", async (provider) => {
    const issuers = isolatedIssuers("spell-transport");
    const api = client(issuers);
    const job = await seedJob(api, provider, issuers);
    const token = await job.token();
    await expectAccepted(await api.exchange(token));
    const grant = "urn:ietf:params:oauth:grant-type:token-exchange";
    const type = "urn:ietf:params:oauth:token-type:id_token";
    // Every character percent-encoded in the form body.
    const percent = Array.from(token, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`).join("");
    const formBody = `grant_type=${encodeURIComponent(grant)}&subject_token_type=${encodeURIComponent(type)}&subject_token=${percent}`;
    const viaForm = await api.fetch("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: formBody });
    expect((await expectError(viaForm, 400, "invalid_request")).error_description).toContain("already been exchanged");
    // Every character \u-escaped in a JSON body.
    const escaped = Array.from(token, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
    const jsonBody = `{"grant_type":"${grant}","subject_token_type":"${type}","subject_token":"${escaped}"}`;
    const viaJson = await api.fetch("/token", { method: "POST", headers: { "content-type": "application/json" }, body: jsonBody });
    expect((await expectError(viaJson, 400, "invalid_request")).error_description).toContain("already been exchanged");
  });

  it("refuses a token whose header is re-encoded as different JSON text (the signature no longer covers it)", async () => {
    const issuers = isolatedIssuers("spell-header");
    const api = client(issuers);
    const job = await seedJob(api, "github", issuers);
    const token = await job.token();
    const [, p, s] = token.split(".") as [string, string, string];
    const header = decodeHeader(token);
    // Same header members, different JSON text: the signature no longer covers it.
    const spaced = btoa(JSON.stringify(header, null, 1)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    await expectError(await api.exchange(`${spaced}.${p}.${s}`), 400, "invalid_request");
    await expectAccepted(await api.exchange(token));
  });
});
