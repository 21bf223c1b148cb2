/**
 * The admin API for organizations, projects and trust relationships (SPEC §5, issue 2
 * item 8) as the exchange depends on it: authentication, zod validation naming the bad
 * field, condition claim names checked per provider, 404s, and deletion taking effect.
 */
import { describe, expect, it } from "vitest";
import { admin, call, createOrg, createProject, createRelationship, exchangeToken, expectError } from "../support/api";
import { expectRefused } from "../support/exchange-forge";
import { expectExchanged, seedGithub } from "../support/exchange-seed";
import { ISSUERS, signToken, uuid } from "../support/issuer";

const UNKNOWN = { org: "org_0123456789abcdef01234567", prj: "prj_0123456789abcdef01234567", trl: "trl_0123456789abcdef01234567" };

const github = (extra: Record<string, unknown> = {}) => ({ provider: "github", owner: "acme", repository: "app", ...extra });
const circleci = (extra: Record<string, unknown> = {}) => ({ provider: "circleci", organization_uuid: uuid(), project_uuid: uuid(), ...extra });
const buildkite = (extra: Record<string, unknown> = {}) => ({ provider: "buildkite", organization_slug: "acme", pipeline_slug: "app", ...extra });
const rwx = (extra: Record<string, unknown> = {}) => ({ provider: "rwx", subject: `mint:${uuid()}:vault`, ...extra });

async function expectFieldRefused(projectId: string, body: unknown, field: string) {
  const response = await admin("POST", `/v1/projects/${projectId}/trust-relationships`, body);
  const error = await expectError(response, 400, "invalid_request");
  expect(error.error_description).toContain(field);
  return error;
}

describe("admin API: authentication", () => {
  const requests: [string, string, unknown?][] = [
    ["POST", "/v1/orgs", { name: "acme" }],
    ["GET", `/v1/orgs/${UNKNOWN.org}`],
    ["GET", `/v1/projects/${UNKNOWN.prj}/trust-relationships`],
    ["POST", `/v1/projects/${UNKNOWN.prj}/trust-relationships`, github()],
    ["DELETE", `/v1/projects/${UNKNOWN.prj}/trust-relationships/${UNKNOWN.trl}`],
  ];

  for (const [method, path, body] of requests) {
    it(`answers 401 invalid_token with WWW-Authenticate: Bearer to ${method} ${path.replace(/_[0-9a-f]+/g, "_…")} without a bearer`, async () => {
      const response = await call(path, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await expectError(response, 401, "invalid_token");
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
    });
  }

  it("answers 401 to a wrong bearer token", async () => {
    const response = await admin("POST", "/v1/orgs", { name: "acme" }, "not-the-admin-token");
    await expectError(response, 401, "invalid_token");
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
  });

  it("answers 401 to the admin token under another scheme", async () => {
    const { env } = await import("cloudflare:workers");
    const response = await call("/v1/orgs", {
      method: "POST",
      headers: { authorization: `Basic ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "acme" }),
    });
    await expectError(response, 401, "invalid_token");
  });

  it("answers 401 to a CI ID token presented as a bearer", async () => {
    const { claims } = await seedGithub();
    const response = await admin("POST", "/v1/orgs", { name: "acme" }, await signToken(ISSUERS.github, claims));
    await expectError(response, 401, "invalid_token");
  });
});

describe("admin API: organizations and projects", () => {
  it("creates an organization and a project, and reads them back", async () => {
    const orgId = await createOrg("Acme");
    const org = await admin("GET", `/v1/orgs/${orgId}`);
    expect(org.status).toBe(200);
    expect(org.headers.get("cache-control")).toBe("no-store");
    expect(await org.json()).toMatchObject({ id: orgId, name: "Acme" });
    const { projectId } = await createProject(orgId, "web");
    const list = (await (await admin("GET", `/v1/orgs/${orgId}/projects`)).json()) as { projects: Record<string, unknown>[] };
    expect(list.projects).toEqual([expect.objectContaining({ id: projectId, org_id: orgId, name: "web" })]);
  });

  it("refuses an organization without a name, naming the field", async () => {
    const error = await expectError(await admin("POST", "/v1/orgs", {}), 400, "invalid_request");
    expect(error.error_description).toContain("name");
  });

  it("refuses an unknown field on an organization", async () => {
    const error = await expectError(await admin("POST", "/v1/orgs", { name: "acme", plan: "free" }), 400, "invalid_request");
    expect(error.error_description).toContain("plan");
  });

  it("answers 415 to a body that is not JSON", async () => {
    const { env } = await import("cloudflare:workers");
    const response = await call("/v1/orgs", {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
      body: "name=acme",
    });
    await expectRefused(response, "media_type_unsupported");
  });

  it("answers 400 to JSON that does not parse", async () => {
    const { projectId } = await createProject();
    const { env } = await import("cloudflare:workers");
    const response = await call(`/v1/projects/${projectId}/trust-relationships`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: "{\"provider\":",
    });
    await expectRefused(response, "body_malformed");
  });

  for (const [name, method, path] of [
    ["an unknown organization", "GET", `/v1/orgs/${UNKNOWN.org}`],
    ["projects of an unknown organization", "GET", `/v1/orgs/${UNKNOWN.org}/projects`],
    ["an unknown project", "GET", `/v1/projects/${UNKNOWN.prj}`],
    ["relationships of an unknown project", "GET", `/v1/projects/${UNKNOWN.prj}/trust-relationships`],
    ["an organization ID that cannot exist", "GET", "/v1/orgs/not-an-id"],
  ] as const) {
    it(`answers 404 for ${name}`, async () => {
      await expectError(await admin(method, path), 404, "not_found");
    });
  }

  it("answers 404 when creating a project in an unknown organization", async () => {
    await expectError(await admin("POST", `/v1/orgs/${UNKNOWN.org}/projects`, { name: "app" }), 404, "not_found");
  });

  it("answers 404 when creating a relationship in an unknown project", async () => {
    await expectError(await admin("POST", `/v1/projects/${UNKNOWN.prj}/trust-relationships`, github()), 404, "not_found");
  });
});

describe("admin API: trust relationships are validated", () => {
  it("creates one relationship per provider with defaults filled in", async () => {
    const { projectId } = await createProject();
    for (const body of [github(), circleci(), buildkite(), rwx()]) {
      const created = await createRelationship(projectId, body);
      expect(created).toMatchObject({ ...body, project_id: projectId, conditions: {}, description: "", token_ttl_seconds: 3600 });
      expect(String(created.id)).toMatch(/^trl_[0-9a-f]{24}$/);
    }
    const list = (await (await admin("GET", `/v1/projects/${projectId}/trust-relationships`)).json()) as { trust_relationships: unknown[] };
    expect(list.trust_relationships).toHaveLength(4);
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ["a missing provider", { owner: "acme", repository: "app" }, "provider"],
    ["an unknown provider", { provider: "gitlab", owner: "acme", repository: "app" }, "provider"],
    ["a missing GitHub owner", { provider: "github", repository: "app" }, "owner"],
    ["a GitHub owner that is not a name", github({ owner: "acme/app" }), "owner"],
    ["a GitHub repository that includes the owner", github({ repository: "acme/app" }), "repository"],
    ["a non-numeric owner_id", github({ owner_id: "acme" }), "owner_id"],
    ["a repository_id given as a number", github({ repository_id: 123 }), "repository_id"],
    ["an enterprise that is not a slug", github({ enterprise: "https://github.com/enterprises/acme" }), "enterprise"],
    ["a CircleCI organization given by name", circleci({ organization_uuid: "acme" }), "organization_uuid"],
    ["a CircleCI project UUID in upper case", circleci({ project_uuid: uuid().toUpperCase() }), "project_uuid"],
    ["a Buildkite slug with spaces", buildkite({ organization_slug: "Acme Inc" }), "organization_slug"],
    ["a Buildkite pipeline_uuid that is not a UUID", buildkite({ pipeline_uuid: "42" }), "pipeline_uuid"],
    ["an RWX subject with a space", rwx({ subject: "mint: vault" }), "subject"],
    ["a missing RWX subject", { provider: "rwx" }, "subject"],
    ["a field of another provider", github({ subject: "mint:x" }), "subject"],
    ["an unknown field", github({ branch: "main" }), "branch"],
    ["token_ttl_seconds below 60", github({ token_ttl_seconds: 59 }), "token_ttl_seconds"],
    ["token_ttl_seconds above 43200", github({ token_ttl_seconds: 43_201 }), "token_ttl_seconds"],
    ["a fractional token_ttl_seconds", github({ token_ttl_seconds: 600.5 }), "token_ttl_seconds"],
    ["token_ttl_seconds as a string", github({ token_ttl_seconds: "600" }), "token_ttl_seconds"],
    ["a description over 500 characters", github({ description: "x".repeat(501) }), "description"],
    ["conditions that are not an object", github({ conditions: ["ref"] }), "conditions"],
    ["a condition pattern that is not a string", github({ conditions: { ref: 1 } }), "conditions"],
    ["an empty condition pattern", github({ conditions: { ref: "" } }), "conditions"],
    ["a condition on a claim GitHub does not issue", github({ conditions: { branch: "main" } }), "conditions"],
    ["a condition on a CircleCI claim for GitHub", github({ conditions: { "oidc.circleci.com/vcs-origin": "x" } }), "conditions"],
    ["a condition on a GitHub claim for CircleCI", circleci({ conditions: { ref: "refs/heads/main" } }), "conditions"],
    ["a condition on a GitHub claim for RWX", rwx({ conditions: { repository: "acme/app" } }), "conditions"],
    ["a condition on a GitHub claim for Buildkite", buildkite({ conditions: { event_name: "push" } }), "conditions"],
    ["a condition named __proto__ (lost by a plain record parse)", github({ conditions: JSON.parse('{"__proto__":"x"}') }), "conditions"],
    ["more than 16 conditions", github({ conditions: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`repo_property_p${i}`, "x"])) }), "conditions"],
  ];

  for (const [name, body, field] of bad) {
    it(`refuses ${name}, naming ${field}`, async () => {
      const { projectId } = await createProject();
      await expectFieldRefused(projectId, body, field);
      const list = (await (await admin("GET", `/v1/projects/${projectId}/trust-relationships`)).json()) as { trust_relationships: unknown[] };
      expect(list.trust_relationships).toHaveLength(0);
    });
  }

  it("refuses a body that is a JSON array", async () => {
    const { projectId } = await createProject();
    await expectError(await admin("POST", `/v1/projects/${projectId}/trust-relationships`, [github()]), 400, "invalid_request");
  });

  for (const ttl of [60, 43_200]) {
    it(`accepts token_ttl_seconds = ${ttl}`, async () => {
      const { projectId } = await createProject();
      expect((await createRelationship(projectId, github({ token_ttl_seconds: ttl }))).token_ttl_seconds).toBe(ttl);
    });
  }

  it("accepts conditions on each provider's own claims, including GitHub's repo_property_ prefix", async () => {
    const { projectId } = await createProject();
    await createRelationship(projectId, github({ conditions: { ref: "refs/heads/main", repo_property_tier: "gold", event_name: "push" } }));
    await createRelationship(projectId, circleci({ conditions: { "oidc.circleci.com/vcs-origin": "github.com/acme/app", "oidc.circleci.com/ssh-rerun": "true" } }));
    await createRelationship(projectId, buildkite({ conditions: { build_branch: "main", step_key: "deploy" } }));
    await createRelationship(projectId, rwx({ conditions: { task_id: "*" } }));
  });

  it("refuses the bare repo_property_ prefix as a claim name", async () => {
    const { projectId } = await createProject();
    await expectFieldRefused(projectId, github({ conditions: { repo_property_: "x" } }), "conditions");
  });
});

describe("admin API: deleting relationships", () => {
  it("stops exchanges once the relationship that admitted them is deleted", async () => {
    const { claims, projectId, relationshipId } = await seedGithub();
    await expectExchanged(await signToken(ISSUERS.github, claims));
    expect((await admin("DELETE", `/v1/projects/${projectId}/trust-relationships/${relationshipId}`)).status).toBe(204);
    await expectRefused(await exchangeToken(await signToken(ISSUERS.github, { ...claims, jti: uuid() })), "no_trust_relationship");
  });

  it("answers 404 for a relationship that does not exist", async () => {
    const { projectId } = await createProject();
    await expectError(await admin("DELETE", `/v1/projects/${projectId}/trust-relationships/${UNKNOWN.trl}`), 404, "not_found");
  });

  it("answers 404 for a relationship of another project, and leaves it in place", async () => {
    const { claims, projectId, relationshipId } = await seedGithub();
    const other = await createProject();
    await expectError(await admin("DELETE", `/v1/projects/${other.projectId}/trust-relationships/${relationshipId}`), 404, "not_found");
    expect((await admin("GET", `/v1/projects/${projectId}/trust-relationships/${relationshipId}`)).status).toBe(200);
    await expectExchanged(await signToken(ISSUERS.github, claims));
  });

  it("answers 404 for a relationship deleted twice", async () => {
    const { projectId, relationshipId } = await seedGithub();
    expect((await admin("DELETE", `/v1/projects/${projectId}/trust-relationships/${relationshipId}`)).status).toBe(204);
    await expectError(await admin("DELETE", `/v1/projects/${projectId}/trust-relationships/${relationshipId}`), 404, "not_found");
  });

  it("stops exchanges for a deleted project", async () => {
    const { claims, projectId } = await seedGithub();
    expect((await admin("DELETE", `/v1/projects/${projectId}`)).status).toBe(204);
    await expectRefused(await exchangeToken(await signToken(ISSUERS.github, claims)), "no_trust_relationship");
  });
});
