import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/config";
import worker from "../../src/index";
import { admin, BASE, call, createProject, createRelationship, decodeHeader, decodeJwt, exchangeToken, expectError } from "../support/api";
import { expectDocumented } from "../support/conformance";
import { githubClaims, ISSUERS, signToken } from "../support/issuer";
import { createStaticToken, ISS, json, mintJobToken, mintPullToken } from "./helpers";

const now = () => Math.floor(Date.now() / 1000);

describe("POST /v1/projects/{id}/pull-tokens", () => {
  it("mints a one-hour registry:pull token for the project, signed by us", async () => {
    const { orgId, projectId } = await createProject();
    const projectToken = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    const before = now();
    const created = await mintPullToken(projectId, projectToken.token);
    expect(Object.keys(created).sort()).toEqual(["expires_at", "token"]);
    expect(created.expires_at).toBeGreaterThanOrEqual(before + 3600);
    expect(created.expires_at).toBeLessThanOrEqual(now() + 3600);
    expect(decodeHeader(created.token)).toMatchObject({ typ: "at+jwt", alg: "ES256" });
    expect(decodeJwt(created.token)).toEqual({
      iss: ISS,
      aud: ISS,
      sub: `project:${projectId}`,
      scope: "registry:pull",
      token_use: "pull",
      org_id: orgId,
      project_id: projectId,
      act: { sub: `project:${projectId}` },
      client_id: projectToken.id,
      jti: expect.any(String),
      iat: expect.any(Number),
      nbf: expect.any(Number),
      exp: created.expires_at,
    });
  });

  it("can be verified offline by a registry with our published JWKS", async () => {
    const { projectId } = await createProject();
    const { token } = await mintPullToken(projectId, env.ADMIN_TOKEN);
    const jwks = (await (await call("/.well-known/jwks.json")).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISS, audience: ISS, typ: "at+jwt" });
    expect(payload.scope).toBe("registry:pull");
  });

  it("takes a shorter lifetime and refuses one outside 60 s to 1 h, naming expires_in", async () => {
    const { projectId } = await createProject();
    const short = await mintPullToken(projectId, env.ADMIN_TOKEN, { expires_in: 120 });
    expect(short.expires_at).toBeLessThanOrEqual(now() + 120);
    for (const expires_in of [3601, 59, 0, "600", 1.5]) {
      const body = await expectError(await admin("POST", `/v1/projects/${projectId}/pull-tokens`, { expires_in }), 400, "invalid_request");
      expect(body.error_description).toMatch(/^expires_in/);
    }
  });

  it("never outlives the job token it was made from", async () => {
    const { projectId } = await createProject();
    const issuer = env.GITHUB_ISSUER ?? ISSUERS.github;
    const claims = githubClaims({ iss: issuer });
    const [owner, repository] = String(claims.repository).split("/");
    await createRelationship(projectId, { provider: "github", owner, repository, token_ttl_seconds: 300 });
    const job = await json<{ access_token: string }>(await exchangeToken(await signToken(issuer, claims)), 200);
    const pull = await mintPullToken(projectId, job.access_token);
    expect(pull.expires_at).toBe(decodeJwt(job.access_token).exp);
    expect(decodeJwt(pull.token).exp).toBe(pull.expires_at);
    expect(decodeJwt(pull.token).act).toEqual({ sub: `project:${projectId}` });
  });

  it("is refused to a pull token, so a leaked one cannot renew itself", async () => {
    const { projectId } = await createProject();
    const { token } = await mintPullToken(projectId, env.ADMIN_TOKEN);
    await expectError(await admin("POST", `/v1/projects/${projectId}/pull-tokens`, undefined, token), 403, "insufficient_scope");
  });

  it("is not listed among the project's tokens", async () => {
    const { projectId } = await createProject();
    const { token } = await mintJobToken(projectId);
    await mintPullToken(projectId, token);
    const list = await json<{ tokens: unknown[] }>(await admin("GET", `/v1/projects/${projectId}/tokens`), 200);
    expect(list.tokens).toEqual([]);
  });

  it("answers 404 for a project that does not exist and 401 without a credential", async () => {
    await expectError(await admin("POST", "/v1/projects/prj_000000000000000000000000/pull-tokens"), 404, "not_found");
    const { projectId } = await createProject();
    await expectError(await call(`/v1/projects/${projectId}/pull-tokens`, { method: "POST" }), 401, "invalid_token");
  });

  it("fails with 500 server_error when signing keys are not configured", async () => {
    const { projectId } = await createProject();
    const ctx = createExecutionContext();
    const request = new Request(`${BASE}/v1/projects/${projectId}/pull-tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` },
    });
    const response = await worker.fetch(request, { ...env, SIGNING_KEYS: undefined } as Env, ctx);
    await waitOnExecutionContext(ctx);
    await expectDocumented(request, response);
    const body = await expectError(response, 500, "server_error");
    expect(body.error_description).toContain("signing keys");
  });
});
