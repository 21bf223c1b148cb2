import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/config";
import worker from "../../src/index";
import { generateStaticToken, hashStaticToken } from "../../src/tokens/static-tokens";
import { admin, BASE, call, createOrg, createProject, expectError } from "../support/api";
import { expectDocumented } from "../support/conformance";
import { addMember, createStaticToken, createUser, introspect, introspectWith, json, mintJobToken, mintPullToken } from "./helpers";

type Owner = { label: string; path: () => Promise<string>; column: "user_id" | "org_id" | "project_id"; prefix: string };

/** Each kind of static token, with a fresh owner. */
const OWNERS: Owner[] = [
  { label: "project", path: async () => `/v1/projects/${(await createProject()).projectId}/tokens`, column: "project_id", prefix: "sts_prj_" },
  { label: "organization", path: async () => `/v1/orgs/${await createOrg()}/tokens`, column: "org_id", prefix: "sts_org_" },
  { label: "user", path: async () => `/v1/users/${await createUser()}/tokens`, column: "user_id", prefix: "sts_usr_" },
];

const ownerIdOf = (path: string) => path.split("/")[3]!;

async function storedRows(column: Owner["column"], ownerId: string) {
  const { results } = await env.DB.prepare(`SELECT * FROM static_tokens WHERE ${column} = ?`).bind(ownerId).all<Record<string, unknown>>();
  return results;
}

/** Calls the worker with a modified environment (config is parsed per env object). */
async function callWith(overrides: Partial<Env>, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(`${BASE}${path}`, init);
  const response = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  await expectDocumented(request, response);
  return response;
}

const bearer = (token: string, body?: unknown): RequestInit => ({
  method: body === undefined ? "GET" : "POST",
  headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
  body: body === undefined ? undefined : JSON.stringify(body),
});

/** A D1 stand-in that records any use: proof that a request never touched the database. */
function trapDatabase() {
  const touched: string[] = [];
  const trap = (name: string) => () => {
    touched.push(name);
    throw new Error("database touched");
  };
  // Starting a session (read replicas) sends nothing to D1; its queries are trapped like the binding's.
  const session = { prepare: trap("prepare"), batch: trap("batch"), getBookmark: () => null };
  const db = { prepare: trap("prepare"), batch: trap("batch"), exec: trap("exec"), dump: trap("dump"), withSession: () => session };
  return { db: db as unknown as D1Database, touched };
}

afterEach(() => vi.restoreAllMocks());

describe.each(OWNERS)("$label tokens", ({ path: makePath, column, prefix }) => {
  it("returns the plaintext once, with id, preview, description and creation time", async () => {
    const path = await makePath();
    const created = await createStaticToken(path, env.ADMIN_TOKEN, "deploys");
    expect(Object.keys(created).sort()).toEqual(["created_at", "description", "id", "preview", "token"]);
    expect(created.id).toMatch(/^tok_[0-9a-f]{24}$/);
    expect(created.token).toMatch(new RegExp(`^${prefix}[0-9A-Za-z]{36}$`));
    expect(created.preview).toBe(`${prefix}...${created.token.slice(-4)}`);
    expect(created.description).toBe("deploys");
  });

  it("stores only the HMAC of the token, never the plaintext", async () => {
    const path = await makePath();
    const created = await createStaticToken(path);
    const [row] = await storedRows(column, ownerIdOf(path));
    expect(row!.token_hash).toBe(await hashStaticToken(created.token, env.TOKEN_HASH_SALT));
    for (const value of Object.values(row!)) expect(String(value)).not.toContain(created.token.slice(prefix.length));
  });

  it("lists tokens without plaintext or hash", async () => {
    const path = await makePath();
    const a = await createStaticToken(path, env.ADMIN_TOKEN, "a");
    const b = await createStaticToken(path, env.ADMIN_TOKEN, "b");
    const response = await admin("GET", path);
    const text = await response.clone().text();
    const list = await json<{ tokens: Record<string, unknown>[] }>(response, 200);
    expect(list.tokens).toEqual([
      { id: a.id, preview: a.preview, description: "a", created_at: a.created_at, last_used_at: null },
      { id: b.id, preview: b.preview, description: "b", created_at: b.created_at, last_used_at: null },
    ]);
    for (const created of [a, b]) {
      expect(text).not.toContain(created.token.slice(prefix.length, -4));
      expect(text).not.toContain(await hashStaticToken(created.token, env.TOKEN_HASH_SALT));
    }
  });

  it("revokes at once on delete: the token is refused everywhere", async () => {
    const path = await makePath();
    const created = await createStaticToken(path);
    expect((await introspect(created.token)).active).toBe(true);
    expect((await admin("DELETE", `${path}/${created.id}`)).status).toBe(204);
    expect(await introspect(created.token)).toEqual({ active: false });
    await expectError(await admin("GET", path, undefined, created.token), 401, "invalid_token");
    await expectError(await admin("DELETE", `${path}/${created.id}`), 404, "not_found");
    expect(await storedRows(column, ownerIdOf(path))).toEqual([]);
  });

  it("fails with 500 server_error naming TOKEN_HASH_SALT when it is missing, writing nothing", async () => {
    const path = await makePath();
    const response = await callWith({ TOKEN_HASH_SALT: undefined }, path, bearer(env.ADMIN_TOKEN, { description: "x" }));
    const body = await expectError(response, 500, "server_error");
    expect(body.error_description).toContain("TOKEN_HASH_SALT");
    expect(await storedRows(column, ownerIdOf(path))).toEqual([]);
  });
});

describe("static tokens over the wire", () => {
  it("accepts a body-less POST and an empty description", async () => {
    const { projectId } = await createProject();
    const response = await call(`/v1/projects/${projectId}/tokens`, { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    expect((await json(response, 201)).description).toBe("");
  });

  it("names a bad description or an unknown field", async () => {
    const { projectId } = await createProject();
    const long = await expectError(await admin("POST", `/v1/projects/${projectId}/tokens`, { description: "x".repeat(501) }), 400, "invalid_request");
    expect(long.error_description).toMatch(/^description/);
    const unknown = await expectError(await admin("POST", `/v1/projects/${projectId}/tokens`, { scope: "api" }), 400, "invalid_request");
    expect(unknown.error_description).toContain("scope");
    expect(await storedRows("project_id", projectId)).toEqual([]);
  });

  it("caps an owner at 100 tokens with 409 conflict, writing nothing more", async () => {
    const { orgId, projectId } = await createProject();
    const insert = env.DB.prepare(
      "INSERT INTO static_tokens (id, kind, token_hash, preview, description, org_id, project_id, created_at) VALUES (?, 'project', ?, 'sts_prj_...0000', '', ?, ?, 0)",
    );
    await env.DB.batch(
      Array.from({ length: 100 }, (_, i) => insert.bind(`tok_${projectId.slice(4)}`.slice(0, 28 - 4) + String(i).padStart(4, "0"), `${projectId}-${i}`, orgId, projectId)),
    );
    await expectError(await admin("POST", `/v1/projects/${projectId}/tokens`, {}), 409, "conflict");
    expect(await storedRows("project_id", projectId)).toHaveLength(100);
  });

  it("records when a token was last used, off the response path", async () => {
    const orgId = await createOrg();
    const created = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    expect((await admin("GET", `/v1/orgs/${orgId}`, undefined, created.token)).status).toBe(200);
    await vi.waitFor(
      async () => {
        const list = await json<{ tokens: { last_used_at: number | null }[] }>(await admin("GET", `/v1/orgs/${orgId}/tokens`), 200);
        expect(list.tokens[0]!.last_used_at).toEqual(expect.any(Number));
      },
      { timeout: 5000, interval: 100 },
    );
  });

  it("lets a user manage their own tokens with a user token, and nobody else's", async () => {
    const me = await createUser();
    const other = await createUser();
    const mine = await createStaticToken(`/v1/users/${me}/tokens`);
    const second = await createStaticToken(`/v1/users/${me}/tokens`, mine.token);
    const list = await json<{ tokens: { id: string }[] }>(await admin("GET", `/v1/users/${me}/tokens`, undefined, mine.token), 200);
    expect(list.tokens.map((t) => t.id)).toEqual([mine.id, second.id]);
    await expectError(await admin("POST", `/v1/users/${other}/tokens`, {}, mine.token), 404, "not_found");
    expect((await admin("DELETE", `/v1/users/${me}/tokens/${second.id}`, undefined, mine.token)).status).toBe(204);
  });

  it("does not delete a token through another owner's path or kind", async () => {
    const { orgId, projectId } = await createProject();
    const projectToken = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    const orgToken = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    const other = await createProject();
    await expectError(await admin("DELETE", `/v1/orgs/${orgId}/tokens/${projectToken.id}`), 404, "not_found");
    await expectError(await admin("DELETE", `/v1/projects/${projectId}/tokens/${orgToken.id}`), 404, "not_found");
    await expectError(await admin("DELETE", `/v1/projects/${other.projectId}/tokens/${projectToken.id}`), 404, "not_found");
    await expectError(await admin("DELETE", `/v1/projects/${projectId}/tokens/not-a-token`), 404, "not_found");
    expect((await introspect(projectToken.token)).active).toBe(true);
    expect((await introspect(orgToken.token)).active).toBe(true);
  });

  it("refuses existing static tokens (but not the operator) while TOKEN_HASH_SALT is missing", async () => {
    const orgId = await createOrg();
    const created = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    await expectError(await callWith({ TOKEN_HASH_SALT: undefined }, `/v1/orgs/${orgId}`, bearer(created.token)), 401, "invalid_token");
    expect((await callWith({ TOKEN_HASH_SALT: undefined }, `/v1/orgs/${orgId}`, bearer(env.ADMIN_TOKEN))).status).toBe(200);
  });
});

describe("the checksum", () => {
  it("refuses a mistyped or truncated token without reading the database", async () => {
    const orgId = await createOrg();
    const { token } = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    const flipped = token.slice(0, 20) + (token[20] === "a" ? "b" : "a") + token.slice(21);
    for (const wrong of [flipped, token.slice(0, -1), `${token}0`]) {
      const trap = trapDatabase();
      await expectError(await callWith({ DB: trap.db }, `/v1/orgs/${orgId}`, bearer(wrong)), 401, "invalid_token");
      const inactive = await callWith({ DB: trap.db }, "/introspect", {
        method: "POST",
        headers: { authorization: `Bearer ${env.INTROSPECTION_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: wrong }),
      });
      expect(await inactive.json()).toEqual({ active: false });
      expect(trap.touched).toEqual([]);
    }
  });

  it("reads the database only for a token whose checksum holds", async () => {
    const trap = trapDatabase();
    const orgId = await createOrg();
    // A well-formed token that was never issued: the lookup happens (and here hits the trap).
    await expectError(await callWith({ DB: trap.db }, `/v1/orgs/${orgId}`, bearer(generateStaticToken("organization"))), 503, "temporarily_unavailable");
    expect(trap.touched.length).toBeGreaterThan(0);
  });
});

describe("secrets stay out of logs", () => {
  it("never writes a plaintext token, its hash or a minted token to a log line", async () => {
    const logs = vi.spyOn(console, "log");
    const { orgId, projectId } = await createProject();
    const userId = await createUser();
    await addMember(orgId, userId, "admin");
    const secrets: string[] = [];
    const userToken = await createStaticToken(`/v1/users/${userId}/tokens`);
    const orgToken = await createStaticToken(`/v1/orgs/${orgId}/tokens`, userToken.token);
    const projectToken = await createStaticToken(`/v1/projects/${projectId}/tokens`, orgToken.token);
    const job = await mintJobToken(projectId);
    const pull = await mintPullToken(projectId, job.token);
    for (const t of [userToken, orgToken, projectToken]) {
      secrets.push(t.token, await hashStaticToken(t.token, env.TOKEN_HASH_SALT));
      await introspect(t.token);
    }
    secrets.push(job.token, pull.token, env.ADMIN_TOKEN, env.INTROSPECTION_TOKEN, env.TOKEN_HASH_SALT);
    await admin("GET", `/v1/projects/${projectId}/tokens`, undefined, userToken.token);
    await admin("GET", `/v1/projects/${projectId}`, undefined, projectToken.token);
    await admin("GET", `/v1/orgs/${orgId}`, undefined, `${orgToken.token.slice(0, -1)}x`);
    await introspect(job.token);
    await introspectWith(pull.token, "wrong-introspection-token");
    await call("/revoke", { method: "POST", headers: { authorization: `Bearer ${job.token}` } });
    expect(logs.mock.calls.length).toBeGreaterThan(10);
    const logged = logs.mock.calls.map((args) => args.map(String).join(" ")).join("\n");
    for (const secret of secrets) expect(logged).not.toContain(secret);
    for (const t of [userToken, orgToken, projectToken]) expect(logged).not.toContain(t.token.slice(8, 30));
  });
});
