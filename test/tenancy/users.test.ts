import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, call, createOrg, createProject, expectError } from "../support/api";
import { addMember, createStaticToken, createUser, json } from "./helpers";

const unique = () => Math.random().toString(36).slice(2, 10);

async function usersWithEmail(email: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM users WHERE email = ?").bind(email).first<{ n: number }>();
  return row!.n;
}

describe("POST /v1/users", () => {
  it("creates a user for the operator, storing the email in lower case", async () => {
    const email = `Grace-${unique()}@Example.COM`;
    const user = await json(await admin("POST", "/v1/users", { name: "Grace", email }), 201);
    expect(user).toEqual({ id: expect.stringMatching(/^usr_[0-9a-f]{24}$/), name: "Grace", email: email.toLowerCase(), created_at: expect.any(Number) });
  });

  it("refuses anyone but the operator with 403 insufficient_scope, writing nothing", async () => {
    const { orgId } = await createProject();
    const userId = await createUser();
    await addMember(orgId, userId, "admin");
    const userToken = (await createStaticToken(`/v1/users/${userId}/tokens`)).token;
    const orgToken = (await createStaticToken(`/v1/orgs/${orgId}/tokens`)).token;
    for (const token of [userToken, orgToken]) {
      const email = `x-${unique()}@example.com`;
      await expectError(await admin("POST", "/v1/users", { name: "X", email }, token), 403, "insufficient_scope");
      expect(await usersWithEmail(email)).toBe(0);
    }
  });

  it("answers 401 invalid_token with WWW-Authenticate without a credential", async () => {
    const response = await call("/v1/users", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expectError(response, 401, "invalid_token");
  });

  it("names the bad field", async () => {
    const bad = await expectError(await admin("POST", "/v1/users", { name: "X", email: "not-an-email" }), 400, "invalid_request");
    expect(bad.error_description).toMatch(/^email/);
    const missing = await expectError(await admin("POST", "/v1/users", { email: `a-${unique()}@example.com` }), 400, "invalid_request");
    expect(missing.error_description).toMatch(/^name/);
    const unknown = await expectError(await admin("POST", "/v1/users", { name: "X", email: `a-${unique()}@example.com`, admin: true }), 400, "invalid_request");
    expect(unknown.error_description).toContain("admin");
  });

  it("refuses a second user with the same email with 409 conflict", async () => {
    const email = `dup-${unique()}@example.com`;
    await json(await admin("POST", "/v1/users", { name: "A", email }), 201);
    await expectError(await admin("POST", "/v1/users", { name: "B", email: email.toUpperCase() }), 409, "conflict");
    expect(await usersWithEmail(email)).toBe(1);
  });
});

describe("GET /v1/users/{id}", () => {
  it("shows a user to themselves and to the operator, and is 404 to anyone else", async () => {
    const me = await createUser();
    const other = await createUser();
    const myToken = (await createStaticToken(`/v1/users/${me}/tokens`)).token;
    expect((await json(await admin("GET", `/v1/users/${me}`, undefined, myToken), 200)).id).toBe(me);
    expect((await json(await admin("GET", `/v1/users/${other}`), 200)).id).toBe(other);
    await expectError(await admin("GET", `/v1/users/${other}`, undefined, myToken), 404, "not_found");
    await expectError(await admin("GET", "/v1/users/usr_000000000000000000000000"), 404, "not_found");
  });
});

describe("memberships", () => {
  it("adds a member with a role and lists the members", async () => {
    const orgId = await createOrg();
    const userId = await createUser();
    const added = await json(await admin("POST", `/v1/orgs/${orgId}/members`, { user_id: userId, role: "member" }), 201);
    expect(added).toEqual({ org_id: orgId, user_id: userId, role: "member", created_at: expect.any(Number) });
    const list = await json<{ members: unknown[] }>(await admin("GET", `/v1/orgs/${orgId}/members`), 200);
    expect(list.members).toEqual([added]);
  });

  it("refuses an existing member with 409, an unknown user and a bad role with 400 naming the field", async () => {
    const orgId = await createOrg();
    const userId = await createUser();
    await addMember(orgId, userId, "member");
    await expectError(await admin("POST", `/v1/orgs/${orgId}/members`, { user_id: userId, role: "admin" }), 409, "conflict");
    const unknown = await expectError(
      await admin("POST", `/v1/orgs/${orgId}/members`, { user_id: "usr_000000000000000000000000", role: "admin" }),
      400,
      "invalid_request",
    );
    expect(unknown.error_description).toMatch(/^user_id/);
    const role = await expectError(await admin("POST", `/v1/orgs/${orgId}/members`, { user_id: userId, role: "owner" }), 400, "invalid_request");
    expect(role.error_description).toMatch(/^role/);
    const list = await json<{ members: { role: string }[] }>(await admin("GET", `/v1/orgs/${orgId}/members`), 200);
    expect(list.members.map((m) => m.role)).toEqual(["member"]);
  });

  it("lets an admin member manage the org's projects, relationships, tokens and members", async () => {
    const orgId = await createOrg();
    const adminUser = await createUser();
    await addMember(orgId, adminUser, "admin");
    const token = (await createStaticToken(`/v1/users/${adminUser}/tokens`)).token;
    const project = await json<{ id: string }>(await admin("POST", `/v1/orgs/${orgId}/projects`, { name: "web" }, token), 201);
    const relationship = await json<{ id: string }>(
      await admin("POST", `/v1/projects/${project.id}/trust-relationships`, { provider: "rwx", subject: `vault-${unique()}` }, token),
      201,
    );
    await createStaticToken(`/v1/projects/${project.id}/tokens`, token);
    await createStaticToken(`/v1/orgs/${orgId}/tokens`, token);
    await addMember(orgId, await createUser(), "member", token);
    expect((await admin("DELETE", `/v1/projects/${project.id}/trust-relationships/${relationship.id}`, undefined, token)).status).toBe(204);
    expect((await admin("DELETE", `/v1/projects/${project.id}`, undefined, token)).status).toBe(204);
  });

  it("lets a plain member read but not change anything (403 insufficient_scope)", async () => {
    const { orgId, projectId } = await createProject();
    const memberUser = await createUser();
    await addMember(orgId, memberUser, "member");
    const token = (await createStaticToken(`/v1/users/${memberUser}/tokens`)).token;
    for (const path of [`/v1/orgs/${orgId}`, `/v1/orgs/${orgId}/projects`, `/v1/orgs/${orgId}/members`, `/v1/orgs/${orgId}/tokens`,
      `/v1/projects/${projectId}`, `/v1/projects/${projectId}/trust-relationships`, `/v1/projects/${projectId}/tokens`]) {
      expect((await admin("GET", path, undefined, token)).status, path).toBe(200);
    }
    const writes: [string, string, unknown?][] = [
      ["POST", `/v1/orgs/${orgId}/projects`, { name: "x" }],
      ["POST", `/v1/orgs/${orgId}/members`, { user_id: memberUser, role: "admin" }],
      ["POST", `/v1/orgs/${orgId}/tokens`, {}],
      ["POST", `/v1/projects/${projectId}/tokens`, {}],
      ["POST", `/v1/projects/${projectId}/trust-relationships`, { provider: "rwx", subject: "s" }],
      ["DELETE", `/v1/projects/${projectId}`],
    ];
    for (const [method, path, body] of writes) {
      await expectError(await admin(method, path, body, token), 403, "insufficient_scope");
    }
    expect((await admin("GET", `/v1/projects/${projectId}`)).status).toBe(200);
  });

  it("lets an org token manage its org's members", async () => {
    const orgId = await createOrg();
    const orgToken = (await createStaticToken(`/v1/orgs/${orgId}/tokens`)).token;
    const userId = await createUser();
    await addMember(orgId, userId, "member", orgToken);
    expect((await admin("DELETE", `/v1/orgs/${orgId}/members/${userId}`, undefined, orgToken)).status).toBe(204);
    await expectError(await admin("DELETE", `/v1/orgs/${orgId}/members/${userId}`, undefined, orgToken), 404, "not_found");
  });

  it("takes an organization out of a user's reach when the membership is removed", async () => {
    const orgId = await createOrg();
    const userId = await createUser();
    await addMember(orgId, userId, "admin");
    const token = (await createStaticToken(`/v1/users/${userId}/tokens`)).token;
    expect((await admin("GET", `/v1/orgs/${orgId}`, undefined, token)).status).toBe(200);
    expect((await admin("DELETE", `/v1/orgs/${orgId}/members/${userId}`)).status).toBe(204);
    await expectError(await admin("GET", `/v1/orgs/${orgId}`, undefined, token), 404, "not_found");
  });

  it("gives a user token the reach of every organization the user belongs to", async () => {
    const [first, second, third] = [await createOrg(), await createOrg(), await createOrg()];
    const userId = await createUser();
    await addMember(first, userId, "admin");
    await addMember(second, userId, "member");
    const token = (await createStaticToken(`/v1/users/${userId}/tokens`)).token;
    expect((await admin("GET", `/v1/orgs/${first}`, undefined, token)).status).toBe(200);
    expect((await admin("GET", `/v1/orgs/${second}`, undefined, token)).status).toBe(200);
    await expectError(await admin("GET", `/v1/orgs/${third}`, undefined, token), 404, "not_found");
  });
});
