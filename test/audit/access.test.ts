/**
 * Who may read an organization's audit log (issue 10 §4): its admins — the operator, the
 * organization's token, an admin member's user token. A plain member and a project, job or
 * pull token are 403 `insufficient_scope`; another organization's credentials are 404, as
 * if the organization did not exist; no credential is 401. And an organization's listing
 * never holds another organization's events, whatever the filters say.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { admin, expectError } from "../support/api";
import { seedTenant, type Tenant } from "../tenancy/helpers";
import { listAudit, waitForAudit } from "./support";

let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  [a, b] = [await seedTenant(), await seedTenant()];
  // Each tenant's seeding exchanged a job token and made admin changes: wait until its job's exchange is in.
  for (const t of [a, b]) await waitForAudit(t.orgId, (events) => events.some((e) => e.kind === "exchange" && e.outcome === "minted"));
});

const read = (orgId: string, token?: string, query = "") => admin("GET", `/v1/orgs/${orgId}/audit${query}`, undefined, token);

describe("GET /v1/orgs/{org_id}/audit: who may read", () => {
  it.each(["operator", "org", "adminUser"] as const)("answers the organization's %s with its events", async (who) => {
    const token = who === "operator" ? env.ADMIN_TOKEN : a.credentials[who];
    const response = await read(a.orgId, token);
    expect(response.status).toBe(200);
    const { events } = (await response.json()) as { events: { org_id: string; kind: string; project_id: string }[] };
    expect(events.some((e) => e.kind === "exchange" && e.project_id === a.projectId)).toBe(true);
    for (const e of events) expect(e.org_id).toBe(a.orgId);
  });

  it.each(["memberUser", "project", "oidc", "pull"] as const)("refuses the organization's %s credential with 403 insufficient_scope", async (who) => {
    const response = await read(a.orgId, a.credentials[who]);
    await expectError(response, 403, "insufficient_scope");
    expect(response.headers.get("www-authenticate")).toContain("insufficient_scope");
  });

  it.each(["org", "adminUser"] as const)("answers another organization's %s with 404, as if there were no such organization", async (who) => {
    await expectError(await read(a.orgId, b.credentials[who]), 404, "not_found");
  });

  it("answers 401 without a credential and 404 for an organization ID that cannot exist", async () => {
    const response = await admin("GET", `/v1/orgs/${a.orgId}/audit`, undefined, "");
    await expectError(response, 401, "invalid_token");
    await expectError(await read("org_nope"), 404, "not_found");
  });
});

describe("an organization's listing holds only its own events", () => {
  it("never shows another organization's events, even filtered by that organization's project", async () => {
    const all = await listAudit(a.orgId, { limit: "200" });
    expect(all.events.length).toBeGreaterThan(0);
    for (const e of all.events) expect(e.org_id).toBe(a.orgId);
    expect(JSON.stringify(all)).not.toContain(b.projectId);
    expect((await listAudit(a.orgId, { project_id: b.projectId })).events).toEqual([]);
  });
});
