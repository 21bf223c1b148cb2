/**
 * Tenant boundaries: every credential of organization A against every route aimed at
 * organization B's resources. A credential with `api` gets 404 (B's resources do not exist
 * for it); one without `api` gets 403 before anything is looked up; nothing of B changes.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { admin, expectError } from "../support/api";
import { introspect, json, seedTenant, type Tenant } from "./helpers";

type Route = { method: string; path: string; body?: unknown; registry?: boolean };

/** Every tenant-scoped route of the API, aimed at B. */
function routesAt(b: Tenant, a: Tenant): Route[] {
  const p = `/v1/projects/${b.projectId}`;
  const o = `/v1/orgs/${b.orgId}`;
  const u = `/v1/users/${b.adminUser}`;
  return [
    { method: "GET", path: o },
    { method: "POST", path: `${o}/projects`, body: { name: "intruder" } },
    { method: "GET", path: `${o}/projects` },
    { method: "GET", path: p },
    { method: "DELETE", path: p },
    { method: "POST", path: `${p}/trust-relationships`, body: { provider: "rwx", subject: "intruder" } },
    { method: "GET", path: `${p}/trust-relationships` },
    { method: "GET", path: `${p}/trust-relationships/${b.relationshipId}` },
    { method: "DELETE", path: `${p}/trust-relationships/${b.relationshipId}` },
    { method: "POST", path: `${p}/tokens`, body: { description: "intruder" } },
    { method: "GET", path: `${p}/tokens` },
    { method: "DELETE", path: `${p}/tokens/${b.tokens.project.id}` },
    { method: "POST", path: `${o}/tokens`, body: { description: "intruder" } },
    { method: "GET", path: `${o}/tokens` },
    { method: "DELETE", path: `${o}/tokens/${b.tokens.org.id}` },
    { method: "POST", path: `${o}/members`, body: { user_id: a.adminUser, role: "admin" } },
    { method: "GET", path: `${o}/members` },
    { method: "DELETE", path: `${o}/members/${b.memberUser}` },
    { method: "GET", path: u },
    { method: "POST", path: `${u}/tokens`, body: { description: "intruder" } },
    { method: "GET", path: `${u}/tokens` },
    { method: "DELETE", path: `${u}/tokens/${b.tokens.adminUser.id}` },
    { method: "POST", path: `${p}/pull-tokens`, registry: true },
  ];
}

/** What B looks like to the operator; must be identical before and after the attack. */
async function snapshot(b: Tenant) {
  const get = async (path: string) => json(await admin("GET", path), 200);
  return {
    org: await get(`/v1/orgs/${b.orgId}`),
    projects: await get(`/v1/orgs/${b.orgId}/projects`),
    relationships: await get(`/v1/projects/${b.projectId}/trust-relationships`),
    members: await get(`/v1/orgs/${b.orgId}/members`),
    projectTokens: (await get(`/v1/projects/${b.projectId}/tokens`)).tokens,
    orgTokens: (await get(`/v1/orgs/${b.orgId}/tokens`)).tokens,
    userTokens: (await get(`/v1/users/${b.adminUser}/tokens`)).tokens,
  };
}

/** The answer a credential of A must get on a route at B. */
function expected(credential: keyof Tenant["credentials"], route: Route): [number, string] {
  switch (credential) {
    case "adminUser":
    case "memberUser":
    case "org":
      return [404, "not_found"];
    case "project":
    case "oidc":
      return route.registry ? [404, "not_found"] : [403, "insufficient_scope"];
    case "pull":
      return [403, "insufficient_scope"];
  }
}

// last_used_at moves whenever B's own tokens are used; the boundary is about everything else.
const withoutLastUse = (s: Awaited<ReturnType<typeof snapshot>>) =>
  JSON.parse(JSON.stringify(s, (k, v) => (k === "last_used_at" ? undefined : v)));

let a: Tenant;
let b: Tenant;
beforeAll(async () => {
  [a, b] = [await seedTenant(), await seedTenant()];
});

describe.each(["adminUser", "memberUser", "org", "project", "oidc", "pull"] as const)("org A's %s credential", (credential) => {
  it("gets nothing of org B by any route, and changes nothing", async () => {
    const before = withoutLastUse(await snapshot(b));
    for (const route of routesAt(b, a)) {
      const [status, error] = expected(credential, route);
      const response = await admin(route.method, route.path, route.body, a.credentials[credential]);
      expect(response.status, `${route.method} ${route.path}`).toBe(status);
      await expectError(response, status, error);
    }
    expect(withoutLastUse(await snapshot(b))).toEqual(before);
    for (const token of Object.values(b.credentials)) expect((await introspect(token)).active).toBe(true);
  });
});

describe("org A's own paths with org B's IDs", () => {
  it("finds none of B's relationships, tokens or members under A", async () => {
    const attempts: [string, string][] = [
      ["GET", `/v1/projects/${a.projectId}/trust-relationships/${b.relationshipId}`],
      ["DELETE", `/v1/projects/${a.projectId}/trust-relationships/${b.relationshipId}`],
      ["DELETE", `/v1/projects/${a.projectId}/tokens/${b.tokens.project.id}`],
      ["DELETE", `/v1/orgs/${a.orgId}/tokens/${b.tokens.org.id}`],
      ["DELETE", `/v1/orgs/${a.orgId}/members/${b.memberUser}`],
    ];
    for (const credential of ["adminUser", "org"] as const) {
      for (const [method, path] of attempts) {
        await expectError(await admin(method, path, undefined, a.credentials[credential]), 404, "not_found");
      }
    }
    await expectError(
      await admin("DELETE", `/v1/users/${a.adminUser}/tokens/${b.tokens.adminUser.id}`, undefined, a.credentials.adminUser),
      404,
      "not_found",
    );
    for (const token of Object.values(b.credentials)) expect((await introspect(token)).active).toBe(true);
  });

  it("answers 404 identically for B's resources and for resources that do not exist", async () => {
    const missing = await expectError(await admin("GET", "/v1/projects/prj_000000000000000000000000", undefined, a.credentials.org), 404, "not_found");
    const foreign = await expectError(await admin("GET", `/v1/projects/${b.projectId}`, undefined, a.credentials.org), 404, "not_found");
    expect(foreign).toEqual(missing);
  });
});
