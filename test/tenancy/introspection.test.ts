import { env } from "cloudflare:workers";
import { generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { generateStaticToken } from "../../src/tokens/static-tokens";
import { admin, call, createProject, expectError } from "../support/api";
import { createStaticToken, forgeOwnToken, introspect, introspectWith, ISS, json, mintJobToken, pullClaims, seedTenant, type Tenant } from "./helpers";

let tenant: Tenant;
beforeAll(async () => {
  tenant = await seedTenant();
});

describe("POST /introspect: who may ask", () => {
  it("answers 401 invalid_token without the introspection token, or with any other credential", async () => {
    const token = tenant.credentials.oidc;
    for (const bearer of ["", "wrong", env.ADMIN_TOKEN, tenant.credentials.org, tenant.credentials.adminUser]) {
      const response = await introspectWith(token, bearer);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      await expectError(response, 401, "invalid_token");
    }
    const bare = await call("/introspect", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token }),
    });
    await expectError(bare, 401, "invalid_token");
  });

  it("requires the token parameter", async () => {
    const response = await call("/introspect", {
      method: "POST",
      headers: { authorization: `Bearer ${env.INTROSPECTION_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
      body: "token_type_hint=access_token",
    });
    const body = await expectError(response, 400, "invalid_request");
    expect(body.error_description).toMatch(/^token/);
  });

  it("accepts form-encoded (RFC 7662 §2.1) and JSON bodies alike", async () => {
    const form = await json(await introspectWith(tenant.credentials.project, env.INTROSPECTION_TOKEN, "form"), 200);
    const asJson = await json(await introspectWith(tenant.credentials.project, env.INTROSPECTION_TOKEN, "json"), 200);
    expect(asJson).toEqual(form);
    expect(form.active).toBe(true);
  });
});

describe("POST /introspect: active tokens", () => {
  it("describes a minted job token", async () => {
    const answer = await introspect(tenant.credentials.oidc);
    expect(answer).toEqual({
      active: true,
      token_type: "Bearer",
      token_use: "oidc",
      scope: "builds registry:pull registry:push",
      sub: `project:${tenant.projectId}`,
      iss: ISS,
      aud: ISS,
      org_id: tenant.orgId,
      project_id: tenant.projectId,
      trust_relationship_id: tenant.relationshipId,
      client_id: tenant.relationshipId,
      jti: expect.any(String),
      iat: expect.any(Number),
      nbf: expect.any(Number),
      exp: expect.any(Number),
    });
  });

  it("describes a pull token, with the credential it was made from as client_id", async () => {
    expect(await introspect(tenant.credentials.pull)).toEqual({
      active: true,
      token_type: "Bearer",
      token_use: "pull",
      scope: "registry:pull",
      sub: `project:${tenant.projectId}`,
      iss: ISS,
      aud: ISS,
      org_id: tenant.orgId,
      project_id: tenant.projectId,
      client_id: tenant.tokens.project.id,
      jti: expect.any(String),
      iat: expect.any(Number),
      nbf: expect.any(Number),
      exp: expect.any(Number),
    });
  });

  it("describes static tokens by kind, with their reach", async () => {
    expect(await introspect(tenant.credentials.project)).toMatchObject({
      active: true,
      token_use: "project",
      sub: `project:${tenant.projectId}`,
      org_id: tenant.orgId,
      project_id: tenant.projectId,
    });
    const org = await introspect(tenant.credentials.org);
    expect(org).toMatchObject({ active: true, token_use: "organization", sub: `organization:${tenant.orgId}`, org_id: tenant.orgId });
    expect(org).not.toHaveProperty("project_id");
    expect(org).not.toHaveProperty("exp");
    expect(await introspect(tenant.credentials.memberUser)).toMatchObject({
      active: true,
      token_use: "user",
      sub: `user:${tenant.memberUser}`,
      org_ids: [tenant.orgId],
    });
  });

  it("counts introspection as a use of a static token", async () => {
    const { projectId } = await createProject();
    const created = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    await introspect(created.token);
    await expect
      .poll(async () => (await json<{ tokens: { last_used_at: number | null }[] }>(await admin("GET", `/v1/projects/${projectId}/tokens`), 200)).tokens[0]!.last_used_at, {
        timeout: 5000,
      })
      .toEqual(expect.any(Number));
  });
});

describe("POST /introspect: inactive tokens are indistinguishable", () => {
  it("answers exactly {\"active\":false} for revoked, expired, mistyped, unknown and foreign tokens", async () => {
    const { orgId, projectId } = await createProject();
    const { privateKey: foreignKey } = await generateKeyPair("ES256");
    const now = Math.floor(Date.now() / 1000);

    const revoked = await mintJobToken(projectId);
    expect((await call("/revoke", { method: "POST", headers: { authorization: `Bearer ${revoked.token}` } })).status).toBe(200);
    const deleted = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    expect((await admin("DELETE", `/v1/orgs/${orgId}/tokens/${deleted.id}`)).status).toBe(204);
    const live = await createStaticToken(`/v1/orgs/${orgId}/tokens`);

    const cases: Record<string, string> = {
      "revoked job token": revoked.token,
      "deleted static token": deleted.token,
      "expired pull token": await forgeOwnToken(pullClaims(orgId, projectId, { iat: now - 700, nbf: now - 700, exp: now - 100 })),
      "not yet valid": await forgeOwnToken(pullClaims(orgId, projectId, { nbf: now + 600 })),
      "mistyped static token": `${live.token.slice(0, -2)}${live.token.endsWith("aa") ? "bb" : "aa"}`,
      "truncated static token": live.token.slice(0, -1),
      "well-formed but never issued": generateStaticToken("project"),
      "signed by a foreign key under our kid": await forgeOwnToken(pullClaims(orgId, projectId), {}, foreignKey),
      "another issuer": await forgeOwnToken(pullClaims(orgId, projectId, { iss: "https://evil.example" })),
      "another audience": await forgeOwnToken(pullClaims(orgId, projectId, { aud: "https://registry.example" })),
      "wrong typ": await forgeOwnToken(pullClaims(orgId, projectId), { typ: "JWT" }),
      // We define no JWS extension, so any `crit` is one we do not understand (RFC 7515 §4.1.11).
      "a crit header": await forgeOwnToken(pullClaims(orgId, projectId), { crit: ["b64"], b64: true }),
      "no iat": await forgeOwnToken(pullClaims(orgId, projectId, { iat: undefined })),
      "expiring this very second": await forgeOwnToken(pullClaims(orgId, projectId, { iat: now - 600, nbf: now - 600, exp: now })),
      "unknown kid": await forgeOwnToken(pullClaims(orgId, projectId), { kid: "nope" }),
      "sub not its project": await forgeOwnToken(pullClaims(orgId, projectId, { sub: "project:prj_000000000000000000000000" })),
      "project of another org": await forgeOwnToken(pullClaims("org_000000000000000000000000", projectId)),
      "pull token living longer than an hour": await forgeOwnToken(pullClaims(orgId, projectId, { exp: now + 7200 })),
      "pull token naming no parent (client_id)": await forgeOwnToken(pullClaims(orgId, projectId, { client_id: undefined })),
      "pull token naming an unknown kind of parent": await forgeOwnToken(pullClaims(orgId, projectId, { client_id: "someone" })),
      "pull token of a job parent without its jti": await forgeOwnToken(pullClaims(orgId, projectId, { client_id: revoked.relationshipId })),
      "pull token of a static parent that never existed": await forgeOwnToken(pullClaims(orgId, projectId, { client_id: "tok_000000000000000000000000" })),
      "job token whose client_id is not its relationship": await forgeOwnToken(
        pullClaims(orgId, projectId, { token_use: "oidc", trust_relationship_id: revoked.relationshipId, client_id: "trl_000000000000000000000000", scope: "builds" }),
      ),
      "alg none": `${btoa(JSON.stringify({ alg: "none", typ: "at+jwt" })).replace(/=+$/, "")}.${btoa(JSON.stringify(pullClaims(orgId, projectId))).replace(/=+$/, "")}.`,
      "the admin token": env.ADMIN_TOKEN,
      "the introspection token": env.INTROSPECTION_TOKEN,
      garbage: "definitely-not-a-token",
      "a very long token": "a".repeat(20_000),
    };
    const bodies = new Set<string>();
    for (const [label, token] of Object.entries(cases)) {
      const response = await introspectWith(token);
      expect(response.status, label).toBe(200);
      const text = await response.text();
      expect(JSON.parse(text), label).toEqual({ active: false });
      bodies.add(text);
    }
    expect([...bodies]).toEqual(['{"active":false}']);
    // The control: the same forging path with nothing wrong is active.
    expect((await introspect(await forgeOwnToken(pullClaims(orgId, projectId)))).active).toBe(true);
  });

  it("is inactive for every token of a deleted project", async () => {
    const t = await seedTenant();
    expect((await admin("DELETE", `/v1/projects/${t.projectId}`)).status).toBe(204);
    for (const kind of ["project", "oidc", "pull"] as const) expect(await introspect(t.credentials[kind]), kind).toEqual({ active: false });
    for (const kind of ["org", "adminUser"] as const) expect((await introspect(t.credentials[kind])).active, kind).toBe(true);
  });
});
