/**
 * The minted job token (SPEC §2) checked as a downstream service would: against our
 * published JWKS; and the public documents of SPEC §3.
 */
import { env } from "cloudflare:workers";
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet } from "jose";
import { describe, expect, it } from "vitest";
import { call, decodeHeader, decodeJwt, expectError } from "../support/api";
import { callWorker, exchangeWithEnv, expectRefused } from "../support/exchange-forge";
import { expectExchanged, seedBuildkite, seedGithub } from "../support/exchange-seed";
import { ISSUERS, now, signToken } from "../support/issuer";

const PUBLIC_URL = "https://sts.test";
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

async function publishedJwks(): Promise<JSONWebKeySet> {
  const response = await call("/.well-known/jwks.json");
  expect(response.status).toBe(200);
  return (await response.json()) as JSONWebKeySet;
}

describe("the minted token", () => {
  it("is an ES256 at+jwt whose kid is in our JWKS and whose signature verifies against it", async () => {
    const { claims } = await seedGithub();
    const { access_token } = await expectExchanged(await signToken(ISSUERS.github, claims));
    const header = decodeHeader(access_token);
    expect(header).toMatchObject({ alg: "ES256", typ: "at+jwt" });
    const jwks = await publishedJwks();
    expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
    const { payload, protectedHeader } = await jwtVerify(access_token, createLocalJWKSet(jwks), {
      issuer: PUBLIC_URL,
      audience: PUBLIC_URL,
      typ: "at+jwt",
      algorithms: ["ES256"],
    });
    expect(protectedHeader.kid).toBe(header.kid);
    expect(payload.sub).toMatch(/^project:prj_/);
  });

  it("carries exactly the claims of SPEC §2", async () => {
    const { claims, projectId, orgId, relationshipId } = await seedGithub();
    const before = now();
    const { access_token, expires_in } = await expectExchanged(await signToken(ISSUERS.github, claims));
    const minted = decodeJwt(access_token);
    expect(Object.keys(minted).sort()).toEqual(
      ["aud", "ci", "client_id", "exp", "iat", "iss", "jti", "nbf", "org_id", "project_id", "scope", "sub", "token_use", "trust_relationship_id"].sort(),
    );
    expect(minted).toMatchObject({
      iss: PUBLIC_URL,
      aud: PUBLIC_URL,
      sub: `project:${projectId}`,
      scope: "builds registry:pull registry:push",
      org_id: orgId,
      project_id: projectId,
      token_use: "oidc",
      trust_relationship_id: relationshipId,
      client_id: relationshipId,
    });
    expect(minted.iat).toBeGreaterThanOrEqual(before);
    expect(minted.iat).toBeLessThanOrEqual(now());
    expect(minted.nbf).toBe(minted.iat);
    expect(Number(minted.exp) - Number(minted.iat)).toBe(expires_in);
    expect(String(minted.jti)).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("carries the job's provenance in ci, and never a claim the provider did not send", async () => {
    const { claims } = await seedGithub({ environment: "production" });
    const minted = decodeJwt((await expectExchanged(await signToken(ISSUERS.github, claims))).access_token);
    expect(minted.ci).toEqual({
      provider: "github",
      issuer: ISSUERS.github,
      subject: claims.sub,
      repository: claims.repository,
      repository_id: claims.repository_id,
      repository_owner: claims.repository_owner,
      repository_owner_id: claims.repository_owner_id,
      ref: claims.ref,
      sha: claims.sha,
      workflow_ref: claims.workflow_ref,
      job_workflow_ref: claims.job_workflow_ref,
      event_name: claims.event_name,
      environment: "production",
      run_id: claims.run_id,
      run_attempt: claims.run_attempt,
      runner_environment: claims.runner_environment,
    });
  });

  it("drops null claims from ci rather than copying them", async () => {
    const { claims } = await seedBuildkite({ build_tag: null, step_key: null });
    const ci = decodeJwt((await expectExchanged(await signToken(ISSUERS.buildkite, claims))).access_token).ci as Record<string, unknown>;
    expect(ci).not.toHaveProperty("build_tag");
    expect(ci).not.toHaveProperty("step_key");
  });

  it("gets a fresh jti on every exchange", async () => {
    const { claims } = await seedGithub();
    const first = decodeJwt((await expectExchanged(await signToken(ISSUERS.github, claims))).access_token);
    const second = decodeJwt((await expectExchanged(await signToken(ISSUERS.github, { ...claims, jti: crypto.randomUUID() }))).access_token);
    expect(first.jti).not.toBe(second.jti);
  });

  for (const ttl of [60, 43_200]) {
    it(`lives token_ttl_seconds = ${ttl}`, async () => {
      const { claims } = await seedGithub({}, { token_ttl_seconds: ttl });
      const { access_token, expires_in } = await expectExchanged(await signToken(ISSUERS.github, claims));
      const minted = decodeJwt(access_token);
      expect(expires_in).toBe(ttl);
      expect(Number(minted.exp) - Number(minted.iat)).toBe(ttl);
    });
  }

  it("is signed by the first of several signing keys, and all are published", async () => {
    const second = await generateKeyPair("ES256", { extractable: true });
    const extra = { ...(await exportJWK(second.privateKey)), kid: "second-key", alg: "ES256" };
    const keys = JSON.stringify([...JSON.parse(env.SIGNING_KEYS), extra]);
    const { claims } = await seedGithub();
    const response = await exchangeWithEnv({ SIGNING_KEYS: keys }, await signToken(ISSUERS.github, claims));
    expect(response.status).toBe(200);
    const { access_token } = (await response.json()) as { access_token: string };
    expect(decodeHeader(access_token).kid).toBe(JSON.parse(env.SIGNING_KEYS)[0].kid);
    const jwks = (await (await callWorker(new Request("https://sts.test/.well-known/jwks.json"), { SIGNING_KEYS: keys })).json()) as JSONWebKeySet;
    expect(jwks.keys.map((k) => k.kid)).toEqual([JSON.parse(env.SIGNING_KEYS)[0].kid, "second-key"]);
    for (const key of jwks.keys) expect(key).not.toHaveProperty("d");
  });

  it("can be signed with EdDSA", async () => {
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: "ed-key", alg: "EdDSA" };
    const { claims } = await seedGithub();
    const response = await exchangeWithEnv({ SIGNING_KEYS: JSON.stringify([jwk]) }, await signToken(ISSUERS.github, claims));
    expect(response.status).toBe(200);
    const { access_token } = (await response.json()) as { access_token: string };
    expect(decodeHeader(access_token)).toMatchObject({ alg: "EdDSA", kid: "ed-key", typ: "at+jwt" });
  });

  it("is refused as server_error, not minted, when SIGNING_KEYS is invalid", async () => {
    const { claims } = await seedGithub();
    const response = await exchangeWithEnv({ SIGNING_KEYS: '[{"kty":"oct","k":"c2VjcmV0","kid":"x"}]' }, await signToken(ISSUERS.github, claims));
    await expectRefused(response, "signing_keys_missing");
  });
});

describe("public documents", () => {
  it("publishes only public members in the JWKS, with a max-age of at most 300 s", async () => {
    const response = await call("/.well-known/jwks.json");
    expect(response.status).toBe(200);
    const maxAge = Number(/max-age=(\d+)/.exec(response.headers.get("cache-control") ?? "")?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(300);
    const { keys } = (await response.json()) as JSONWebKeySet;
    expect(keys.length).toBe(JSON.parse(env.SIGNING_KEYS).length);
    for (const key of keys) {
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
      expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    }
  });

  for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
    it(`serves ${path} with the fields of SPEC §3`, async () => {
      const response = await call(path);
      expect(response.status).toBe(200);
      const doc = (await response.json()) as Record<string, unknown>;
      expect(doc).toMatchObject({
        issuer: PUBLIC_URL,
        jwks_uri: `${PUBLIC_URL}/.well-known/jwks.json`,
        token_endpoint: `${PUBLIC_URL}/token`,
        introspection_endpoint: `${PUBLIC_URL}/introspect`,
        revocation_endpoint: `${PUBLIC_URL}/revoke`,
        grant_types_supported: ["urn:ietf:params:oauth:grant-type:token-exchange"],
      });
      expect(doc.subject_token_types_supported).toEqual(
        expect.arrayContaining(["urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt"]),
      );
      expect(doc.issued_token_types_supported).toEqual(["urn:ietf:params:oauth:token-type:jwt"]);
      expect(doc.subject_token_signing_alg_values_supported).toEqual(["RS256"]);
      expect(doc.token_signing_alg_values_supported).toEqual(expect.arrayContaining(["ES256"]));
    });
  }

  it("answers /healthz with 200 when the database answers", async () => {
    const response = await call("/healthz");
    expect(response.status).toBe(200);
  });

  for (const [method, path] of [["GET", "/nope"], ["GET", "/token"], ["PUT", "/v1/orgs"]] as const) {
    it(`answers ${method} ${path} with 404 not_found, no-store`, async () => {
      await expectError(await call(path, { method }), 404, "not_found");
    });
  }
});
