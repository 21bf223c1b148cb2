/**
 * The operator's scripts on their refusal paths: the rotation helper refuses a value in the
 * wrong state (so no step runs twice), and the smoke test fails on each thing it checks.
 * Their success paths run in readme-commands.test.ts against a real local deployment.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { smoke } from "../../../scripts/smoke.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function signingKeys(step: string, input: string) {
  const result = spawnSync(process.execPath, [join(ROOT, "scripts", "signing-keys.mjs"), step], { input, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const keygen = () => spawnSync(process.execPath, [join(ROOT, "scripts", "keygen.mjs")], { encoding: "utf8" }).stdout.trim();

describe("scripts/signing-keys.mjs", () => {
  it("walks [k0] → [k0, k1] → [k1, k0] → [k1], printing the value alone on stdout", () => {
    const start = keygen();
    const published = signingKeys("publish", start);
    expect(published.status, published.stderr).toBe(0);
    const [k0, k1] = JSON.parse(published.stdout);
    expect(k0).toEqual(JSON.parse(start)[0]);
    expect(k1).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(k1.kid).not.toBe(k0.kid);
    expect(typeof k1.d).toBe("string");
    const switched = signingKeys("switch", published.stdout);
    expect(JSON.parse(switched.stdout).map((k: { kid: string }) => k.kid)).toEqual([k1.kid, k0.kid]);
    const retired = signingKeys("retire", switched.stdout);
    expect(JSON.parse(retired.stdout)).toEqual([k1]);
    expect(signingKeys("status", retired.stdout).stdout).toBe(`signs: ${k1.kid}; published: ${k1.kid}\n`);
    // Only kids, never key material, on stderr.
    for (const step of [published, switched, retired]) expect(step.stderr).not.toContain(k1.d);
  });

  it("refuses a value in the wrong state for the step, changing nothing", () => {
    const one = keygen();
    const two = signingKeys("publish", one).stdout;
    const cases: [string, string, RegExp][] = [
      ["publish", two, /publish starts from one key; this value has 2/],
      ["switch", one, /switch expects \[current, next\] \(two keys\); this value has 1/],
      ["retire", one, /retire expects \[next, current\] \(two keys\); this value has 1/],
      ["switch", "not json", /not JSON/],
      ["switch", "[]", /non-empty JSON array/],
      ["switch", JSON.stringify([{ kid: "a", d: "x" }, { kid: "a", d: "y" }]), /repeats kid a/],
      ["retire", JSON.stringify([{ kid: "a" }, { kid: "b" }]), /private JWK/],
    ];
    for (const [step, input, message] of cases) {
      const result = signingKeys(step, input);
      expect({ step, status: result.status, stdout: result.stdout }).toEqual({ step, status: 2, stdout: "" });
      expect(result.stderr).toMatch(message);
    }
  });
});

describe("scripts/smoke.mjs", () => {
  const URL_ = "https://sts.example.org";
  const metadata = (issuer = URL_) => ({
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    token_endpoint: `${issuer}/token`,
    introspection_endpoint: `${issuer}/introspect`,
    revocation_endpoint: `${issuer}/revoke`,
  });
  /** A deployment answering `overrides[path]` instead of the healthy answer. */
  const deployment = (overrides: Record<string, Response> = {}) => async (input: string | URL | Request) => {
    const path = new URL(String(input)).pathname;
    if (overrides[path]) return overrides[path]!;
    if (path === "/healthz") return Response.json({ status: "ok" });
    if (path === "/.well-known/jwks.json") {
      return Response.json({ keys: [{ kty: "EC", kid: "a" }, { kty: "EC", kid: "b" }] }, { headers: { "cache-control": "public, max-age=300" } });
    }
    return Response.json(metadata());
  };

  it("passes a healthy deployment, through --via too", async () => {
    expect((await smoke({ publicUrl: URL_, fetchImpl: deployment() })).failures).toEqual([]);
    const seen: string[] = [];
    const via = async (input: string | URL | Request) => (seen.push(String(input)), deployment()(String(input).replace("http://127.0.0.1:1", URL_)));
    expect((await smoke({ publicUrl: URL_, via: "http://127.0.0.1:1", expectKids: ["a", "b"], fetchImpl: via })).failures).toEqual([]);
    expect(seen.every((u) => u.startsWith("http://127.0.0.1:1/"))).toBe(true);
  });

  it("fails on an unhealthy database, a wrong issuer, a private member, a long max-age, and keys other than expected", async () => {
    const cases: [Record<string, Response>, string[] | undefined, RegExp][] = [
      [{ "/healthz": Response.json({ status: "unavailable" }, { status: 503 }) }, undefined, /GET \/healthz: 503/],
      [{ "/.well-known/openid-configuration": Response.json(metadata("http://localhost:8787")) }, undefined, /issuer is "http:\/\/localhost:8787"/],
      [{ "/.well-known/jwks.json": Response.json({ keys: [{ kid: "a", d: "secret" }] }, { headers: { "cache-control": "max-age=300" } }) }, undefined, /private member/],
      [{ "/.well-known/jwks.json": Response.json({ keys: [{ kid: "a" }] }, { headers: { "cache-control": "max-age=3600" } }) }, undefined, /max-age ≤ 300/],
      [{ "/.well-known/jwks.json": Response.json({ keys: [] }, { headers: { "cache-control": "max-age=300" } }) }, undefined, /no keys published/],
      [{}, ["b", "a"], /publishes \[a, b\], the SIGNING_KEYS value on stdin has \[b, a\]/],
    ];
    for (const [overrides, expectKids, message] of cases) {
      const { failures } = await smoke({ publicUrl: URL_, expectKids, fetchImpl: deployment(overrides) });
      expect(failures.join("\n")).toMatch(message);
    }
  });
});
