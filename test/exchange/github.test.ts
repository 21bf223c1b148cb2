import { describe, expect, it } from "vitest";
import { createProject, createRelationship, decodeJwt, exchangeToken, expectError, admin } from "../support/api";
import { githubClaims, ISSUERS, signToken } from "../support/issuer";

async function githubSetup(overrides: Record<string, unknown> = {}, relationship: Record<string, unknown> = {}) {
  const claims = githubClaims(overrides);
  const { projectId, orgId } = await createProject();
  const [owner, repository] = String(claims.repository).split("/");
  const rel = await createRelationship(projectId, { provider: "github", owner, repository, ...relationship });
  return { claims, projectId, orgId, rel };
}

describe("GitHub Actions exchange", () => {
  it("exchanges a push token for a project token", async () => {
    const { claims, projectId, orgId, rel } = await githubSetup();
    const response = await exchangeToken(await signToken(ISSUERS.github, claims));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      issued_token_type: "urn:ietf:params:oauth:token-type:jwt",
      token_type: "Bearer",
      expires_in: 3600,
      scope: "builds registry:pull registry:push",
    });
    const minted = decodeJwt(String(body.access_token));
    expect(minted).toMatchObject({
      iss: "https://sts.test",
      aud: "https://sts.test",
      sub: `project:${projectId}`,
      project_id: projectId,
      org_id: orgId,
      token_use: "oidc",
      trust_relationship_id: rel.id,
      ci: { provider: "github", issuer: ISSUERS.github, repository: claims.repository, repository_id: claims.repository_id },
    });
  });

  it("pins owner_id and repository_id from the first verified token", async () => {
    const { claims, projectId } = await githubSetup();
    expect((await exchangeToken(await signToken(ISSUERS.github, claims))).status).toBe(200);
    const list = (await (await admin("GET", `/v1/projects/${projectId}/trust-relationships`)).json()) as {
      trust_relationships: Record<string, unknown>[];
    };
    expect(list.trust_relationships[0]).toMatchObject({ owner_id: claims.repository_owner_id, repository_id: claims.repository_id });
  });

  it("refuses a token whose repository_id differs from the pinned one (repo-jacking)", async () => {
    const { claims } = await githubSetup();
    expect((await exchangeToken(await signToken(ISSUERS.github, claims))).status).toBe(200);
    const jacked = { ...claims, jti: crypto.randomUUID(), repository_id: "999999999", repository_owner_id: "888888888" };
    await expectError(await exchangeToken(await signToken(ISSUERS.github, jacked)), 400, "invalid_request");
  });

  it("refuses a replayed token", async () => {
    const { claims } = await githubSetup();
    const token = await signToken(ISSUERS.github, claims);
    expect((await exchangeToken(token)).status).toBe(200);
    const body = await expectError(await exchangeToken(token), 400, "invalid_request");
    expect(body.error_description).toContain("already been exchanged");
  });

  it("denies pull_request_target by default", async () => {
    const { claims } = await githubSetup({ event_name: "pull_request_target" });
    await expectError(await exchangeToken(await signToken(ISSUERS.github, claims)), 400, "invalid_request");
  });
});
