import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, call, createProject, createRelationship, decodeJwt, exchangeToken, expectError } from "../support/api";
import { githubClaims, ISSUERS, signToken } from "../support/issuer";
import { createStaticToken, forgeOwnToken, introspect, json, mintJobToken, mintPullToken, pullClaims } from "./helpers";

function revoke(init: { bearer?: string; form?: Record<string, string>; json?: Record<string, string> }): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.bearer) headers.authorization = `Bearer ${init.bearer}`;
  let body: string | undefined;
  if (init.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(init.form).toString();
  } else if (init.json) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  return call("/revoke", { method: "POST", headers, body });
}

async function revokedRow(jti: string) {
  return env.DB.prepare("SELECT jti, expires_at FROM revoked_tokens WHERE jti = ?").bind(jti).first<{ jti: string; expires_at: number }>();
}

describe("POST /revoke (RFC 7009)", () => {
  it("lets a job revoke its own token with the token as bearer; it is then refused everywhere", async () => {
    const { projectId } = await createProject();
    const { token } = await mintJobToken(projectId);
    const response = await revoke({ bearer: token });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await introspect(token)).toEqual({ active: false });
    await expectError(await admin("POST", `/v1/projects/${projectId}/pull-tokens`, undefined, token), 401, "invalid_token");
    const claims = decodeJwt(token);
    expect(await revokedRow(String(claims.jti))).toEqual({ jti: claims.jti, expires_at: claims.exp });
  });

  it("takes the token as a form or JSON parameter, and revoking twice is fine", async () => {
    const { projectId } = await createProject();
    const first = await mintJobToken(projectId);
    const second = await mintJobToken(projectId);
    expect((await revoke({ form: { token: first.token, token_type_hint: "access_token" } })).status).toBe(200);
    expect((await revoke({ json: { token: second.token } })).status).toBe(200);
    expect((await revoke({ form: { token: first.token } })).status).toBe(200);
    expect(await introspect(first.token)).toEqual({ active: false });
    expect(await introspect(second.token)).toEqual({ active: false });
  });

  it("revokes only the token named, not its siblings", async () => {
    const { projectId } = await createProject();
    const revoked = await mintJobToken(projectId);
    const kept = await mintJobToken(projectId);
    expect((await revoke({ bearer: revoked.token })).status).toBe(200);
    expect((await introspect(kept.token)).active).toBe(true);
  });

  it("revokes pull tokens too", async () => {
    const { projectId } = await createProject();
    const { token } = await mintPullToken(projectId, env.ADMIN_TOKEN);
    expect((await revoke({ form: { token } })).status).toBe(200);
    expect(await introspect(token)).toEqual({ active: false });
  });

  it("answers 200 for unknown, expired or foreign tokens and stores nothing for them (RFC 7009 §2.2)", async () => {
    const { orgId, projectId } = await createProject();
    const now = Math.floor(Date.now() / 1000);
    const expired = pullClaims(orgId, projectId, { iat: now - 700, nbf: now - 700, exp: now - 100 });
    const foreign = pullClaims(orgId, projectId, { iss: "https://evil.example" });
    for (const token of ["garbage", await forgeOwnToken(expired), await forgeOwnToken(foreign)]) {
      expect((await revoke({ form: { token } })).status).toBe(200);
    }
    expect(await revokedRow(String(expired.jti))).toBeNull();
    expect(await revokedRow(String(foreign.jti))).toBeNull();
  });

  it("requires a token, as a parameter or as the bearer", async () => {
    const body = await expectError(await revoke({}), 400, "invalid_request");
    expect(body.error_description).toMatch(/^token/);
  });

  it("points static tokens to their delete route (unsupported_token_type) and leaves them active", async () => {
    const { projectId } = await createProject();
    const { token } = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    await expectError(await revoke({ form: { token } }), 400, "unsupported_token_type");
    await expectError(await revoke({ bearer: token }), 400, "unsupported_token_type");
    expect((await introspect(token)).active).toBe(true);
  });
});

describe("deleting what tokens hang from", () => {
  it("deleting a project removes its relationships and static tokens and revokes its minted tokens", async () => {
    const { orgId, projectId } = await createProject();
    const job = await mintJobToken(projectId);
    const pull = await mintPullToken(projectId, job.token);
    const projectToken = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    const orgToken = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    expect((await admin("DELETE", `/v1/projects/${projectId}`)).status).toBe(204);
    for (const token of [job.token, pull.token, projectToken.token]) expect(await introspect(token)).toEqual({ active: false });
    expect((await introspect(orgToken.token)).active).toBe(true);
    const left = await env.DB.prepare(
      "SELECT (SELECT COUNT(*) FROM trust_relationships WHERE project_id = ?1) AS relationships, (SELECT COUNT(*) FROM static_tokens WHERE project_id = ?1) AS tokens",
    )
      .bind(projectId)
      .first();
    expect(left).toEqual({ relationships: 0, tokens: 0 });
    await expectError(await admin("GET", `/v1/projects/${projectId}/tokens`), 404, "not_found");
  });

  it("deleting a relationship stops its exchanges and deactivates the tokens minted through it", async () => {
    const { projectId } = await createProject();
    const issuer = env.GITHUB_ISSUER ?? ISSUERS.github;
    const claims = githubClaims({ iss: issuer });
    const [owner, repository] = String(claims.repository).split("/");
    const relationship = await createRelationship(projectId, { provider: "github", owner, repository });
    const minted = await json<{ access_token: string }>(await exchangeToken(await signToken(issuer, claims)), 200);
    const other = await mintJobToken(projectId); // through a second relationship of the same project

    expect((await admin("DELETE", `/v1/projects/${projectId}/trust-relationships/${relationship.id}`)).status).toBe(204);
    const again = await exchangeToken(await signToken(issuer, { ...claims, jti: crypto.randomUUID() }));
    await expectError(again, 400, "invalid_request");
    expect(await introspect(minted.access_token)).toEqual({ active: false });
    expect((await introspect(other.token)).active).toBe(true);
  });
});
