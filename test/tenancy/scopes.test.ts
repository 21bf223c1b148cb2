/**
 * Every row of the scope table (SPEC §4, `src/tokens/scopes.ts`), checked over the wire:
 * what introspection reports, whether the admin API (`api`) is open, whether pull tokens
 * (registry access) can be minted, and how far the credential reaches.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { SCOPES, TOKEN_KINDS, type TokenKind } from "../../src/tokens/scopes";
import { admin, createProject, decodeJwt, expectError } from "../support/api";
import { introspect, json, mintJobToken, mintPullToken, seedTenant, type Tenant } from "./helpers";

/** The credential of each kind in the seeded tenant (the user is an admin member). */
const CREDENTIAL: Record<TokenKind, keyof Tenant["credentials"]> = {
  user: "adminUser",
  organization: "org",
  project: "project",
  pull: "pull",
  oidc: "oidc",
};

const KINDS = Object.keys(TOKEN_KINDS) as TokenKind[];

let tenant: Tenant;
let sibling: string; // another project of the same organization
beforeAll(async () => {
  tenant = await seedTenant();
  sibling = (await createProject(tenant.orgId, "sibling")).projectId;
});

describe.each(KINDS)("%s tokens", (kind) => {
  const row = TOKEN_KINDS[kind];
  const token = () => tenant.credentials[CREDENTIAL[kind]];

  it("introspect with exactly the table's scopes", async () => {
    const answer = await introspect(token());
    expect(answer).toMatchObject({ active: true, token_use: kind, scope: row.scopes.join(" ") });
  });

  it(`${row.scopes.includes("api") ? "may" : "may not"} use the admin API`, async () => {
    const read = await admin("GET", `/v1/projects/${tenant.projectId}`, undefined, token());
    if (row.scopes.includes("api")) expect(read.status).toBe(200);
    else await expectError(read, 403, "insufficient_scope");
  });

  it("mints pull tokens for its own project only with registry access, and never from a pull token", async () => {
    const response = await admin("POST", `/v1/projects/${tenant.projectId}/pull-tokens`, undefined, token());
    if (row.scopes.includes("registry:pull") && kind !== "pull") {
      const { token: pull } = await json<{ token: string }>(response, 201);
      expect(decodeJwt(pull)).toMatchObject({ token_use: "pull", scope: "registry:pull", project_id: tenant.projectId });
    } else {
      await expectError(response, 403, "insufficient_scope");
    }
  });

  it(`reaches ${row.reach === "project" ? "only its own project" : "every project of its organization"}`, async () => {
    const response = await admin("POST", `/v1/projects/${sibling}/pull-tokens`, undefined, token());
    if (kind === "pull") await expectError(response, 403, "insufficient_scope");
    else if (row.reach === "project") await expectError(response, 404, "not_found");
    else expect(response.status).toBe(201);
  });
});

describe("the scope table", () => {
  it("has one row per kind of credential, as in SPEC §4", () => {
    expect(TOKEN_KINDS).toEqual({
      user: { scopes: SCOPES, reach: "memberships" },
      organization: { scopes: SCOPES, reach: "organization" },
      project: { scopes: ["builds", "registry:pull", "registry:push"], reach: "project" },
      pull: { scopes: ["registry:pull"], reach: "project" },
      oidc: { scopes: ["builds", "registry:pull", "registry:push"], reach: "project" },
    });
    expect(SCOPES).toEqual(["builds", "registry:pull", "registry:push", "ci", "cache", "agents", "api"]);
  });

  it("keeps the operator above the table: every route, operator-only ones included", async () => {
    expect((await admin("GET", `/v1/projects/${tenant.projectId}`)).status).toBe(200);
    expect((await admin("POST", `/v1/projects/${tenant.projectId}/pull-tokens`)).status).toBe(201);
    for (const kind of KINDS) {
      const response = await admin("POST", "/v1/orgs", { name: "nope" }, tenant.credentials[CREDENTIAL[kind]]);
      await expectError(response, 403, "insufficient_scope");
    }
    expect((await admin("POST", "/v1/orgs", { name: "yes" }, env.ADMIN_TOKEN)).status).toBe(201);
  });

  it("honours a job token narrowed at the exchange: without registry:pull it mints no pull token", async () => {
    const { projectId } = await createProject();
    const narrowed = await mintJobToken(projectId, { scope: "builds" });
    expect(await introspect(narrowed.token)).toMatchObject({ active: true, scope: "builds" });
    await expectError(await admin("POST", `/v1/projects/${projectId}/pull-tokens`, undefined, narrowed.token), 403, "insufficient_scope");
    const pullOnly = await mintJobToken(projectId, { scope: "registry:pull" });
    expect((await mintPullToken(projectId, pullOnly.token)).token).toBeTruthy();
  });

  it("lets a plain member mint pull tokens (reading an image is reading)", async () => {
    expect((await mintPullToken(tenant.projectId, tenant.credentials.memberUser)).token).toBeTruthy();
  });
});
