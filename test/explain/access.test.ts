/**
 * Who may explain and suggest: a project's admins (the operator, an organization token, an
 * admin member's user token). Members, project tokens, job and pull tokens are refused with
 * 403 before anything is looked up, another tenant's admin gets 404, and the body is read
 * only once the caller may act. Each caller has its own EXPLAIN_LIMITER budget.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createProject, expectError } from "../support/api";
import { seedRwx } from "../support/exchange-seed";
import { signToken } from "../support/issuer";
import { fakeLimiter, snapshotDb } from "../robustness/support";
import { seedTenant } from "../tenancy/helpers";
import { post } from "./support";

const ROUTES = ["explain", "trust-relationships/suggest"] as const;
const IGNORED = ["static_tokens.last_used_at"];

describe("explain and suggest: access", () => {
  it("answers the project's admins: the operator, an organization token, an admin member", async () => {
    const tenant = await seedTenant();
    const s = await seedRwx();
    // A relationship in the tenant's project for this token, so suggest and explain both have something to say.
    const token = await signToken(String(s.claims.iss), s.claims);
    for (const route of ROUTES) {
      for (const credential of [env.ADMIN_TOKEN, tenant.credentials.org, tenant.credentials.adminUser]) {
        const response = await post(`/v1/projects/${tenant.projectId}/${route}`, { subject_token: token }, credential);
        expect(response.status, `${route}: ${await response.clone().text()}`).toBe(200);
      }
    }
  });

  it("refuses members, project tokens, job and pull tokens with 403 insufficient_scope, and reads nothing of the body", async () => {
    const tenant = await seedTenant();
    const before = await snapshotDb(env.DB, IGNORED);
    for (const route of ROUTES) {
      for (const kind of ["memberUser", "project", "oidc", "pull"] as const) {
        // A body that would be a 400 if it were read: the refusal comes first.
        await expectError(await post(`/v1/projects/${tenant.projectId}/${route}`, "{", tenant.credentials[kind]), 403, "insufficient_scope");
      }
    }
    expect(await snapshotDb(env.DB, IGNORED)).toEqual(before);
  });

  it("answers another tenant's admin, and a project that does not exist, with 404 not_found", async () => {
    const tenant = await seedTenant();
    const other = await seedTenant();
    for (const route of ROUTES) {
      await expectError(await post(`/v1/projects/${other.projectId}/${route}`, { subject_token: "a.b.c" }, tenant.credentials.org), 404, "not_found");
      await expectError(await post(`/v1/projects/${other.projectId}/${route}`, { subject_token: "a.b.c" }, tenant.credentials.adminUser), 404, "not_found");
      await expectError(await post(`/v1/projects/prj_${"0".repeat(24)}/${route}`, { subject_token: "a.b.c" }), 404, "not_found");
      await expectError(await post(`/v1/projects/not-an-id/${route}`, { subject_token: "a.b.c" }), 404, "not_found");
    }
  });

  it("answers no credential or an unknown one with 401 invalid_token", async () => {
    const { projectId } = await createProject();
    for (const route of ROUTES) {
      const response = await post(`/v1/projects/${projectId}/${route}`, { subject_token: "a.b.c" }, "sts_org_unknown");
      await expectError(response, 401, "invalid_token");
    }
  });

  it("refuses a body without subject_token, with other fields, or not JSON, naming the problem", async () => {
    const { projectId } = await createProject();
    for (const route of ROUTES) {
      const path = `/v1/projects/${projectId}/${route}`;
      expect((await expectError(await post(path, {}), 400, "invalid_request")).error_description).toBe("subject_token: is required");
      expect((await expectError(await post(path, { subject_token: "" }), 400, "invalid_request")).error_description).toMatch(/^subject_token: /);
      expect((await expectError(await post(path, { subject_token: 1 }), 400, "invalid_request")).error_description).toMatch(/^subject_token: /);
      expect((await expectError(await post(path, { subject_token: "a.b.c", audience: "x" }), 400, "invalid_request")).error_description).toBe("unknown field: audience");
      await expectError(await post(path, "{"), 400, "invalid_request");
      await expectError(await post(path, { subject_token: "x".repeat(40 * 1024) }), 413, "invalid_request");
    }
  });
});

describe("explain and suggest: EXPLAIN_LIMITER", () => {
  it("counts each caller on its own budget and answers 429 with Retry-After when it is spent", async () => {
    const tenant = await seedTenant();
    const limiter = fakeLimiter((key) => key !== `cred:${tenant.tokens.org.id}`);
    for (const route of ROUTES) {
      const path = `/v1/projects/${tenant.projectId}/${route}`;
      const refused = await post(path, { subject_token: "a.b.c" }, tenant.credentials.org, { EXPLAIN_LIMITER: limiter });
      await expectError(refused, 429, "rate_limited");
      expect(refused.headers.get("retry-after")).toBe("10");
      const explained = await post(`/v1/projects/${tenant.projectId}/explain`, { subject_token: "a.b.c" }, env.ADMIN_TOKEN, { EXPLAIN_LIMITER: limiter });
      expect(explained.status).toBe(200);
    }
    expect(new Set(limiter.keys)).toEqual(new Set([`cred:${tenant.tokens.org.id}`, "cred:operator"]));
  });

  it("is bound as wrangler.toml declares it: 60 a minute per credential", async () => {
    // 121 calls of one credential: whatever minute boundary the run crosses (it takes
    // seconds), at most two windows of 60 are admitted, so at least one call is refused.
    const tenant = await seedTenant();
    const statuses = new Map<number, number>();
    for (let i = 0; i < 121; i++) {
      const response = await call(`/v1/projects/${tenant.projectId}/explain`, {
        method: "POST",
        headers: { authorization: `Bearer ${tenant.credentials.org}`, "content-type": "application/json" },
        body: JSON.stringify({ subject_token: "a.b.c" }),
      });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
    expect([...statuses.keys()].sort()).toEqual([200, 429]);
    expect(statuses.get(200)).toBeGreaterThanOrEqual(60);
    expect(statuses.get(200)).toBeLessThanOrEqual(120);
  }, 60_000);
});
