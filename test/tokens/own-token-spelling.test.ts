/**
 * Our own JWTs (job and pull tokens) have exactly one accepted spelling. base64url can write
 * the same bytes several ways (unused bits of the last character, padding, the standard
 * alphabet); jose decodes leniently, so a signature re-spelled in its unused bits verified
 * as the same token: two strings, one valid token. Each re-spelling must be refused at every
 * door that verifies our tokens — /introspect (active:false), /revoke (200, nothing stored,
 * the token stays live) and the admin API (401 invalid_token) — and the canonical spelling
 * must go on working.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, call, createProject, decodeJwt, expectError } from "../support/api";
import { introspect, mintJobToken, mintPullToken } from "../tenancy/helpers";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The other last characters of a segment that decode to the same bytes under a lenient decoder. */
function unusedBitVariants(segment: string): string[] {
  const unused = segment.length % 4 === 2 ? 4 : segment.length % 4 === 3 ? 2 : 0;
  const last = ALPHABET.indexOf(segment.at(-1)!);
  return Array.from({ length: (1 << unused) - 1 }, (_, i) => segment.slice(0, -1) + ALPHABET[last ^ (i + 1)]!);
}

function respellings(token: string): { name: string; token: string }[] {
  const [h, p, s] = token.split(".") as [string, string, string];
  const pad = (x: string) => x + "=".repeat((4 - (x.length % 4)) % 4);
  const standard = (x: string) => x.replace(/-/g, "+").replace(/_/g, "/");
  const out = [
    ...unusedBitVariants(s).map((v, i) => ({ name: `signature unused bits #${i + 1}`, token: `${h}.${p}.${v}` })),
    ...unusedBitVariants(p).map((v, i) => ({ name: `payload unused bits #${i + 1}`, token: `${h}.${v}.${s}` })),
    ...unusedBitVariants(h).map((v, i) => ({ name: `header unused bits #${i + 1}`, token: `${v}.${p}.${s}` })),
    { name: "signature with one '='", token: `${h}.${p}.${s}=` },
    { name: "padded signature", token: `${h}.${p}.${pad(s)}` },
    { name: "padded header and payload", token: `${pad(h)}.${pad(p)}.${s}` },
    { name: "signature in the standard alphabet, padded", token: `${h}.${p}.${pad(standard(s))}` },
    { name: "a '+' for a '-' in the signature", token: `${h}.${p}.${s.slice(0, 10)}+${s.slice(11)}` },
    { name: "a '/' for a '_' in the signature", token: `${h}.${p}.${s.slice(0, 10)}/${s.slice(11)}` },
  ];
  return out.filter((v) => v.token !== token);
}

function revoke(token: string): Promise<Response> {
  return call("/revoke", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token }).toString() });
}

const revokedRow = (jti: unknown) => env.DB.prepare("SELECT jti FROM revoked_tokens WHERE jti = ?").bind(String(jti)).first();

describe("own tokens: one spelling only", () => {
  it("the signatures we mint are 64 bytes (86 characters), so their last character carries 4 unused bits", async () => {
    const { projectId } = await createProject();
    const { token } = await mintJobToken(projectId);
    const signature = token.split(".")[2]!;
    expect(signature).toHaveLength(86);
    // The premise: a lenient decoder (atob) reads every unused-bit variant as the very same bytes.
    const loose = (x: string) => atob(x.replace(/-/g, "+").replace(/_/g, "/"));
    for (const v of unusedBitVariants(signature)) expect(loose(v)).toBe(loose(signature));
    expect(unusedBitVariants(signature)).toHaveLength(15);
  });

  it.each(["job", "pull"] as const)("a re-spelled %s token is inactive at /introspect; the canonical one is active", async (kind) => {
    const { projectId } = await createProject();
    const token = kind === "job" ? (await mintJobToken(projectId)).token : (await mintPullToken(projectId, env.ADMIN_TOKEN)).token;
    expect((await introspect(token)).active).toBe(true);
    for (const v of respellings(token)) expect(await introspect(v.token), v.name).toEqual({ active: false });
  });

  it("a re-spelled token is refused by the admin API as invalid_token (401)", async () => {
    const { projectId } = await createProject();
    const { token } = await mintJobToken(projectId);
    for (const v of respellings(token)) {
      await expectError(await admin("POST", `/v1/projects/${projectId}/pull-tokens`, undefined, v.token), 401, "invalid_token");
    }
    // The canonical spelling is the token: it may make a pull token.
    expect((await admin("POST", `/v1/projects/${projectId}/pull-tokens`, undefined, token)).status).toBe(201);
  });

  it("revoking a re-spelled token answers 200 (RFC 7009 §2.2) but stores nothing: the token stays live", async () => {
    const { projectId } = await createProject();
    const { token } = await mintJobToken(projectId);
    const { jti } = decodeJwt(token);
    for (const v of respellings(token)) expect((await revoke(v.token)).status, v.name).toBe(200);
    expect(await revokedRow(jti)).toBeNull();
    expect((await introspect(token)).active).toBe(true);
    // The canonical spelling revokes it.
    expect((await revoke(token)).status).toBe(200);
    expect(await revokedRow(jti)).not.toBeNull();
    expect(await introspect(token)).toEqual({ active: false });
  });
});
