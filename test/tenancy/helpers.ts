/**
 * Seeds for the tenancy tests: users, memberships, static tokens, minted job tokens and
 * pull tokens, all made through the public API as an operator or admin would. Also a
 * forger that signs JWTs with our own key (for expired and malformed-claim cases).
 */
import { env } from "cloudflare:workers";
import { importJWK, SignJWT, type JWK, type JWTPayload } from "jose";
import { expect } from "vitest";
import { admin, call, createProject, createRelationship, exchangeToken } from "../support/api";
import { githubClaims, ISSUERS, signToken } from "../support/issuer";

export const ISS = "https://sts.test";

export async function json<T = Record<string, unknown>>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as T;
}

const unique = () => Math.random().toString(36).slice(2, 10);

export async function createUser(token: string = env.ADMIN_TOKEN): Promise<string> {
  const response = await admin("POST", "/v1/users", { name: "Ada", email: `ada-${unique()}@example.com` }, token);
  return (await json<{ id: string }>(response, 201)).id;
}

export async function addMember(orgId: string, userId: string, role: "admin" | "member", token: string = env.ADMIN_TOKEN) {
  await json(await admin("POST", `/v1/orgs/${orgId}/members`, { user_id: userId, role }, token), 201);
}

/** POST …/tokens; returns the created token's id and one-time plaintext. */
export async function createStaticToken(path: string, token: string = env.ADMIN_TOKEN, description = "ci") {
  return json<{ id: string; token: string; preview: string; description: string; created_at: number }>(
    await admin("POST", path, { description }, token),
    201,
  );
}

/** A real job token, through POST /token with a GitHub ID token, for a fresh relationship of the project. */
export async function mintJobToken(projectId: string, extra: Record<string, string> = {}) {
  // Whatever GitHub issuer this worker is configured with (a local .dev.vars may point it
  // at the stand-in issuer); the fake issuer at the network edge serves any of them.
  const issuer = env.GITHUB_ISSUER ?? ISSUERS.github;
  const claims = githubClaims({ iss: issuer });
  const [owner, repository] = String(claims.repository).split("/");
  const relationship = await createRelationship(projectId, { provider: "github", owner, repository });
  const response = await exchangeToken(await signToken(issuer, claims), { audience: projectId, ...extra });
  const body = await json<{ access_token: string }>(response, 200);
  return { token: body.access_token, relationshipId: String(relationship.id) };
}

export async function mintPullToken(projectId: string, bearer: string, body?: unknown) {
  return json<{ token: string; expires_at: number }>(await admin("POST", `/v1/projects/${projectId}/pull-tokens`, body, bearer), 201);
}

export function introspectWith(token: string, bearer: string = env.INTROSPECTION_TOKEN, as: "form" | "json" = "form") {
  return call("/introspect", {
    method: "POST",
    headers: {
      authorization: `Bearer ${bearer}`,
      "content-type": as === "form" ? "application/x-www-form-urlencoded" : "application/json",
    },
    body: as === "form" ? new URLSearchParams({ token }) : JSON.stringify({ token }),
  });
}

export async function introspect(token: string): Promise<Record<string, unknown>> {
  return json(await introspectWith(token), 200);
}

/** Signs claims with our own active signing key (what only the service should be able to do). */
export async function forgeOwnToken(claims: JWTPayload, header: Record<string, unknown> = {}, key?: CryptoKey): Promise<string> {
  const own = (JSON.parse(env.SIGNING_KEYS) as JWK[])[0]!;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: own.kid, typ: "at+jwt", ...header })
    .sign(key ?? ((await importJWK(own, "ES256")) as CryptoKey));
}

/** Claims like a live pull token's (made by the operator), for forging variants. */
export function pullClaims(orgId: string, projectId: string, overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISS,
    aud: ISS,
    sub: `project:${projectId}`,
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: crypto.randomUUID(),
    scope: "registry:pull",
    org_id: orgId,
    project_id: projectId,
    token_use: "pull",
    client_id: "operator",
    act: { sub: "operator" },
    ...overrides,
  };
}

/**
 * One organization with every kind of credential: an admin member's and a plain member's
 * user tokens, an org token, a project token, a job token and a pull token, plus a trust
 * relationship and a static token of each kind to aim at.
 */
export async function seedTenant() {
  const { orgId, projectId } = await createProject(undefined, "app");
  const adminUser = await createUser();
  const memberUser = await createUser();
  await addMember(orgId, adminUser, "admin");
  await addMember(orgId, memberUser, "member");
  const adminUserToken = await createStaticToken(`/v1/users/${adminUser}/tokens`);
  const memberUserToken = await createStaticToken(`/v1/users/${memberUser}/tokens`);
  const orgToken = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
  const projectToken = await createStaticToken(`/v1/projects/${projectId}/tokens`);
  const job = await mintJobToken(projectId);
  const pull = await mintPullToken(projectId, projectToken.token);
  return {
    orgId,
    projectId,
    adminUser,
    memberUser,
    relationshipId: job.relationshipId,
    tokens: {
      adminUser: adminUserToken,
      memberUser: memberUserToken,
      org: orgToken,
      project: projectToken,
    },
    credentials: {
      adminUser: adminUserToken.token,
      memberUser: memberUserToken.token,
      org: orgToken.token,
      project: projectToken.token,
      oidc: job.token,
      pull: pull.token,
    },
  };
}

export type Tenant = Awaited<ReturnType<typeof seedTenant>>;

/** Row count of a table, read straight from D1 (to prove a refusal wrote nothing). */
export async function countRows(table: "static_tokens" | "users" | "memberships" | "projects" | "trust_relationships" | "revoked_tokens") {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first<{ n: number }>();
  return row!.n;
}
