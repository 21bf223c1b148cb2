/**
 * Seeds for exchange tests: a fresh organization, project and trust relationship per
 * test, matching a fresh, realistic claim set of one provider. Nothing is shared between
 * tests, so each test's writes are its own.
 */
import { expect } from "vitest";
import { admin, createProject, createRelationship, exchangeToken } from "./api";
import { buildkiteClaims, circleciClaims, githubClaims, rwxClaims, uuid } from "./issuer";

export async function seedGithub(overrides: Record<string, unknown> = {}, relationship: Record<string, unknown> = {}) {
  const claims = githubClaims(overrides);
  const { orgId, projectId } = await createProject();
  const [owner, repository] = String(claims.repository).split("/") as [string, string];
  const rel = await createRelationship(projectId, { provider: "github", owner, repository, ...relationship });
  return { claims, orgId, projectId, relationshipId: String(rel.id), owner, repository };
}

export async function seedCircleci(overrides: Record<string, unknown> = {}, relationship: Record<string, unknown> = {}) {
  const org = uuid();
  const project = uuid();
  const claims = circleciClaims(org, project, overrides);
  const { orgId, projectId } = await createProject();
  const rel = await createRelationship(projectId, {
    provider: "circleci",
    organization_uuid: org,
    project_uuid: project,
    ...relationship,
  });
  return { claims, org, project, orgId, projectId, relationshipId: String(rel.id) };
}

export async function seedBuildkite(overrides: Record<string, unknown> = {}, relationship: Record<string, unknown> = {}) {
  const claims = buildkiteClaims(overrides);
  const { orgId, projectId } = await createProject();
  const rel = await createRelationship(projectId, {
    provider: "buildkite",
    organization_slug: claims.organization_slug,
    pipeline_slug: claims.pipeline_slug,
    ...relationship,
  });
  return { claims, orgId, projectId, relationshipId: String(rel.id) };
}

export async function seedRwx(overrides: Record<string, unknown> = {}, relationship: Record<string, unknown> = {}) {
  const claims = rwxClaims(overrides);
  const { orgId, projectId } = await createProject();
  const rel = await createRelationship(projectId, { provider: "rwx", subject: claims.sub, ...relationship });
  return { claims, orgId, projectId, relationshipId: String(rel.id) };
}

export interface TokenResponse {
  access_token: string;
  issued_token_type: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

/** Exchanges and asserts success; returns the RFC 8693 response body. */
export async function expectExchanged(subjectToken: string, extra: Record<string, string> = {}): Promise<TokenResponse> {
  const response = await exchangeToken(subjectToken, extra);
  const body = (await response.json()) as TokenResponse & { error?: string; error_description?: string };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** The relationship as the admin API lists it (with pinned IDs). */
export async function listedRelationship(projectId: string, id: string): Promise<Record<string, unknown>> {
  const response = await admin("GET", `/v1/projects/${projectId}/trust-relationships`);
  expect(response.status).toBe(200);
  const { trust_relationships } = (await response.json()) as { trust_relationships: Record<string, unknown>[] };
  const found = trust_relationships.find((r) => r.id === id);
  expect(found).toBeDefined();
  return found!;
}
