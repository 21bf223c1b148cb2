/**
 * Faults inside (issue 4 §2): D1 failing on chosen statements during the exchange and
 * the admin API, and missing or invalid signing keys. Every D1 fault answers 503
 * `temporarily_unavailable` with Retry-After, is never an accept, and leaves nothing
 * stored; a refused token is still good once the database is back.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { issuerRequests, setFault } from "../support/issuer";
import { client, counts, expectAccepted, expectError, faultyDb, isolatedIssuers, PROVIDERS, seedJob, snapshotDb, type Client } from "./support";

async function expectDatabaseUnavailable(response: Response) {
  await expectError(response, 503, "temporarily_unavailable");
  expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
}

const LOOKUP = /FROM trust_relationships t JOIN projects p ON p\.id = t\.project_id\s+WHERE t\.provider = \?|LEFT JOIN trust_relationships t\s+ON t\.provider = \?/;
const REPLAY_INSERT = /INSERT INTO used_subject_tokens/;
const PIN = /UPDATE trust_relationships SET subject/;
const REPLAY_RELEASE = /DELETE FROM used_subject_tokens/;
const KEYS_LOAD = /SELECT jwks, fetched_at FROM issuer_keys/;
/** The question asked before a cold key fetch from a per-tenant issuer. */
const ISSUER_GATE = /FROM trust_relationships WHERE provider = \?1 AND lookup_key = \?2 AND issuer_tenant = \?3/;
const KEYS_SAVE = /INSERT INTO issuer_keys/;
const WRITES = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

/** A job whose keys are already cached, with a client on a database that fails `fails`. */
async function jobWithFaultyDb(provider: (typeof PROVIDERS)[number], fails: RegExp) {
  const issuers = isolatedIssuers("db");
  const healthy = client(issuers);
  const job = await seedJob(healthy, provider, issuers);
  // Warm the key cache (and its D1 copy) with a token that is then spent.
  await expectAccepted(await healthy.exchange(await job.token()));
  const broken = client({ ...issuers, DB: faultyDb(env.DB, (sql) => fails.test(sql)) });
  return { job, healthy, broken };
}

describe("D1 faults during the exchange", () => {
  it.each(PROVIDERS)("answers 503 when the relationship lookup fails for %s, stores nothing, and accepts the token once D1 is back", async (provider) => {
    const { job, healthy, broken } = await jobWithFaultyDb(provider, LOOKUP);
    const token = await job.token();
    const before = await snapshotDb();
    await expectDatabaseUnavailable(await broken.exchange(token));
    expect(await snapshotDb()).toEqual(before);
    await expectAccepted(await healthy.exchange(token));
  });

  it.each(["github", "buildkite"] as const)("answers 503 when the replay insert fails for %s, stores nothing, and accepts the token once D1 is back", async (provider) => {
    const { job, healthy, broken } = await jobWithFaultyDb(provider, REPLAY_INSERT);
    const token = await job.token();
    const before = await snapshotDb();
    await expectDatabaseUnavailable(await broken.exchange(token));
    expect(await snapshotDb()).toEqual(before);
    await expectAccepted(await healthy.exchange(token));
  });

  it("answers 503 when pinning first-seen IDs fails, releases the replay record, and accepts the token later", async () => {
    const issuers = isolatedIssuers("pin");
    const healthy = client(issuers);
    const job = await seedJob(healthy, "github", issuers);
    const broken = client({ ...issuers, DB: faultyDb(env.DB, (sql) => PIN.test(sql)) });
    const token = await job.token();
    const before = await snapshotDb();
    await expectDatabaseUnavailable(await broken.exchange(token));
    expect(await snapshotDb()).toEqual(before);
    await expectAccepted(await healthy.exchange(token));
  });

  it("never accepts when the database fails on every statement, for any provider", async () => {
    for (const provider of PROVIDERS) {
      const { job, broken } = await jobWithFaultyDb(provider, /./);
      const before = await snapshotDb();
      await expectDatabaseUnavailable(await broken.exchange(await job.token()));
      expect(await snapshotDb()).toEqual(before);
    }
  });

  it("answers 503 when the persisted issuer keys cannot be read on a cold cache", async () => {
    const issuers = isolatedIssuers("keys-load");
    const job = await seedJob(client(issuers), "rwx", issuers);
    const broken = client({ ...issuers, DB: faultyDb(env.DB, (sql) => KEYS_LOAD.test(sql)) });
    await expectDatabaseUnavailable(await broken.exchange(await job.token()));
    // Reading is retried on the next request rather than remembered as "nothing stored".
    await expectAccepted(await client(issuers).exchange(await job.token()));
  });

  it("answers 503 when the relationship check before a cold CircleCI key fetch fails, without contacting the issuer", async () => {
    const issuers = isolatedIssuers("org-gate");
    const job = await seedJob(client(issuers), "circleci", issuers);
    const broken = client({ ...issuers, DB: faultyDb(env.DB, (sql) => ISSUER_GATE.test(sql)) });
    const token = await job.token();
    await expectDatabaseUnavailable(await broken.exchange(token));
    expect(await issuerRequests(job.issuer)).toBe(0);
    await expectAccepted(await client(issuers).exchange(token));
  });

  it("still exchanges when persisting freshly fetched issuer keys fails (the copy in D1 is only a cache)", async () => {
    const issuers = isolatedIssuers("keys-save");
    const job = await seedJob(client(issuers), "buildkite", issuers);
    const broken = client({ ...issuers, DB: faultyDb(env.DB, (sql) => KEYS_SAVE.test(sql)) });
    await expectAccepted(await broken.exchange(await job.token()));
  });

  it("still answers the refusal, never an accept, when releasing the replay record of a refused exchange fails", async () => {
    const { job, broken } = await jobWithFaultyDb("github", REPLAY_RELEASE);
    const other = await seedJob(client(), "rwx", isolatedIssuers("other"));
    // The audience names a project this token's relationships do not reach: refused after the claim.
    const response = await broken.exchange(await job.token(), { audience: other.projectId });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_target");
  });

  it("answers /healthz with 503 when the database does not answer", async () => {
    const broken = client({ DB: faultyDb(env.DB, () => true) });
    expect((await broken.fetch("/healthz")).status).toBe(503);
    expect((await client().fetch("/healthz")).status).toBe(200);
  });
});

describe("D1 faults on admin writes", () => {
  /** An org with a project, a relationship, a user member and static tokens, all created while D1 is healthy. */
  async function seedTenant(api: Client) {
    const json = async (r: Response) => {
      expect(r.status, await r.clone().text()).toBeLessThan(300);
      return (await r.json()) as Record<string, string>;
    };
    const org = await json(await api.admin("POST", "/v1/orgs", { name: "tenant" }));
    const project = await json(await api.admin("POST", `/v1/orgs/${org.id}/projects`, { name: "app" }));
    const rel = await json(
      await api.admin("POST", `/v1/projects/${project.id}/trust-relationships`, { provider: "rwx", subject: `mint:${crypto.randomUUID()}:vault` }),
    );
    const user = await json(await api.admin("POST", "/v1/users", { name: "Ada", email: `ada-${crypto.randomUUID()}@example.com` }));
    await json(await api.admin("POST", `/v1/orgs/${org.id}/members`, { user_id: user.id, role: "admin" }));
    const orgToken = await json(await api.admin("POST", `/v1/orgs/${org.id}/tokens`, { description: "ci" }));
    const projectToken = await json(await api.admin("POST", `/v1/projects/${project.id}/tokens`, { description: "ci" }));
    const userToken = await json(await api.admin("POST", `/v1/users/${user.id}/tokens`, { description: "laptop" }));
    return { org: org.id!, project: project.id!, rel: rel.id!, user: user.id!, orgToken: orgToken.id!, projectToken: projectToken.id!, userToken: userToken.id! };
  }

  type Ids = Awaited<ReturnType<typeof seedTenant>>;
  const WRITE_CALLS: [string, (ids: Ids) => [string, string, unknown?]][] = [
    ["create an organization", () => ["POST", "/v1/orgs", { name: "new" }]],
    ["create a project", (ids) => ["POST", `/v1/orgs/${ids.org}/projects`, { name: "new" }]],
    ["create a trust relationship", (ids) => ["POST", `/v1/projects/${ids.project}/trust-relationships`, { provider: "rwx", subject: "mint:new:vault" }]],
    ["delete a trust relationship", (ids) => ["DELETE", `/v1/projects/${ids.project}/trust-relationships/${ids.rel}`]],
    ["delete a project", (ids) => ["DELETE", `/v1/projects/${ids.project}`]],
    ["create a user", () => ["POST", "/v1/users", { name: "Bob", email: `bob-${crypto.randomUUID()}@example.com` }]],
    ["add a member", (ids) => ["POST", `/v1/orgs/${ids.org}/members`, { user_id: ids.user, role: "member" }]],
    ["remove a member", (ids) => ["DELETE", `/v1/orgs/${ids.org}/members/${ids.user}`]],
    ["create an org token", (ids) => ["POST", `/v1/orgs/${ids.org}/tokens`, { description: "new" }]],
    ["create a project token", (ids) => ["POST", `/v1/projects/${ids.project}/tokens`, { description: "new" }]],
    ["create a user token", (ids) => ["POST", `/v1/users/${ids.user}/tokens`, { description: "new" }]],
    ["revoke an org token", (ids) => ["DELETE", `/v1/orgs/${ids.org}/tokens/${ids.orgToken}`]],
    ["revoke a project token", (ids) => ["DELETE", `/v1/projects/${ids.project}/tokens/${ids.projectToken}`]],
    ["revoke a user token", (ids) => ["DELETE", `/v1/users/${ids.user}/tokens/${ids.userToken}`]],
  ];

  it.each(WRITE_CALLS)("answers 503 and writes nothing when D1 refuses writes: %s", async (_name, build) => {
    const ids = await seedTenant(client());
    const broken = client({ DB: faultyDb(env.DB, (sql) => WRITES.test(sql)) });
    const [method, path, body] = build(ids);
    const before = await snapshotDb();
    await expectDatabaseUnavailable(await broken.admin(method, path, body));
    const after = await snapshotDb();
    expect(counts(after)).toEqual(counts(before));
    expect(after).toEqual(before);
  });

  it.each(WRITE_CALLS)("answers 503 and writes nothing when D1 is down altogether: %s", async (_name, build) => {
    const ids = await seedTenant(client());
    const broken = client({ DB: faultyDb(env.DB, () => true) });
    const [method, path, body] = build(ids);
    const before = await snapshotDb();
    await expectDatabaseUnavailable(await broken.admin(method, path, body));
    expect(await snapshotDb()).toEqual(before);
  });

  it("keeps serving admin reads while D1 refuses writes", async () => {
    const ids = await seedTenant(client());
    const readOnly = client({ DB: faultyDb(env.DB, (sql) => WRITES.test(sql)) });
    expect((await readOnly.admin("GET", `/v1/orgs/${ids.org}`)).status).toBe(200);
    expect((await readOnly.admin("GET", `/v1/projects/${ids.project}/trust-relationships`)).status).toBe(200);
  });
});

describe("signing keys missing or invalid", () => {
  const INVALID: [string, string | undefined][] = [
    ["missing", undefined],
    ["empty", ""],
    ["not JSON", "{not json"],
    ["an empty array", "[]"],
    ["an object instead of an array", JSON.stringify({ kty: "EC" })],
    ["a public key only", JSON.stringify([{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "pub" }])],
    ["a symmetric key", JSON.stringify([{ kty: "oct", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", kid: "hmac", alg: "HS256" }])],
    ["an RSA key", JSON.stringify([{ kty: "RSA", kid: "rsa", n: "AQAB", e: "AQAB", d: "AQAB" }])],
    ["a corrupt private key", JSON.stringify([{ kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA", d: "AAAA", kid: "bad" }])],
    ["duplicate kids", JSON.stringify([...JSON.parse(env.SIGNING_KEYS), ...JSON.parse(env.SIGNING_KEYS)])],
  ];

  it.each(INVALID)("keeps the service up when SIGNING_KEYS is %s, and the exchange answers 500 server_error naming the problem", async (_name, value) => {
    const issuers = isolatedIssuers("nokeys");
    const job = await seedJob(client(issuers), "github", issuers);
    const api = client({ ...issuers, SIGNING_KEYS: value });

    // The rest of the service keeps working.
    expect((await api.admin("POST", "/v1/orgs", { name: "still-works" })).status).toBe(201);
    const jwks = await api.fetch("/.well-known/jwks.json");
    expect(jwks.status).toBe(200);
    expect(await jwks.json()).toEqual({ keys: [] });
    expect((await api.fetch("/healthz")).status).toBe(200);
    expect((await api.fetch("/.well-known/openid-configuration")).status).toBe(200);

    // The exchange says what is wrong, spends nothing, and the token still works once fixed.
    const token = await job.token();
    const before = await snapshotDb();
    const body = await expectError(await api.exchange(token), 500, "server_error");
    expect(body.error_description).toContain("signing keys are not configured");
    expect(await snapshotDb()).toEqual(before);
    await expectAccepted(await client(issuers).exchange(token));
  });

  it("answers 500 for the misconfiguration before looking at the subject token, even while the issuer is down", async () => {
    const issuers = isolatedIssuers("nokeys-down");
    const job = await seedJob(client(issuers), "buildkite", issuers);
    await setFault(job.issuer, "down");
    const body = await expectError(await client({ ...issuers, SIGNING_KEYS: undefined }).exchange(await job.token()), 500, "server_error");
    expect(body.error_description).toContain("signing keys are not configured");
  });
});

describe("other configuration faults", () => {
  it("refuses to create a static token without TOKEN_HASH_SALT, writing nothing, and no longer recognises existing ones", async () => {
    const api = client();
    const org = (await (await api.admin("POST", "/v1/orgs", { name: "salt" })).json()) as { id: string };
    const created = (await (await api.admin("POST", `/v1/orgs/${org.id}/tokens`, { description: "ci" })).json()) as { token: string };
    const unsalted = client({ TOKEN_HASH_SALT: undefined });
    const before = await snapshotDb();
    const body = await expectError(await unsalted.admin("POST", `/v1/orgs/${org.id}/tokens`, { description: "new" }), 500, "server_error");
    expect(body.error_description).toContain("TOKEN_HASH_SALT");
    expect(await snapshotDb()).toEqual(before);
    await expectError(await unsalted.admin("GET", `/v1/orgs/${org.id}`, undefined, created.token), 401, "invalid_token");
    expect((await unsalted.admin("GET", `/v1/orgs/${org.id}`)).status).toBe(200);
  });

  it("answers 500 server_error naming an invalid var on every route, never a partial service", async () => {
    const api = client({ GITHUB_ISSUER: "not a url" });
    for (const [path, init] of [
      ["/healthz", {}],
      ["/.well-known/jwks.json", {}],
      ["/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=x" }],
      ["/v1/orgs", { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" }, body: "{}" }],
    ] as const) {
      const body = await expectError(await api.fetch(path, init as RequestInit), 500, "server_error");
      expect(body.error_description, path).toContain("GITHUB_ISSUER");
    }
  });
});
