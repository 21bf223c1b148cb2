/**
 * Limits (issue 4 §4, issue 8 §2): request and token sizes; the rate limiters, each a budget
 * of one party (per client network and per job owner on /token, per credential identity on
 * /v1, /introspect and /revoke with unauthenticated callers per client network, and the
 * introspection caller's own); and the caps on relationships per project and conditions
 * per relationship.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
// Vite's raw import: the deployed configuration itself, not a copy of its numbers.
import wranglerToml from "../../wrangler.toml?raw";
import { generateStaticToken } from "../../src/tokens/static-tokens";
import { decodeJwt } from "../support/api";
import { client, expectAccepted, expectError, fakeLimiter, isolatedIssuers, PROVIDERS, seedJob, snapshotDb, type Client } from "./support";

/** The budget key of a verified token: GitHub owner ID, CircleCI org, Buildkite org slug, RWX subject. */
function ownerKey(provider: string, token: string): string {
  const claims = decodeJwt(token);
  const owner = {
    github: claims.repository_owner_id,
    circleci: claims["oidc.circleci.com/org-id"],
    buildkite: claims.organization_slug,
    rwx: claims.sub,
  }[provider];
  return `owner:${provider}:${String(owner)}`;
}

const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields),
});
const exchangeFields = (subjectToken: string) => ({
  grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
  subject_token: subjectToken,
  subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
});

function chunked(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(4096, bytes - sent);
      controller.enqueue(new TextEncoder().encode("a".repeat(n)));
      sent += n;
    },
  });
}

describe("request size limits", () => {
  const api = client();

  it("answers 413 to a /token body over 32 KiB declared by Content-Length", async () => {
    const body = "grant_type=x&pad=" + "a".repeat(32 * 1024);
    await expectError(
      await api.fetch("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body }),
      413,
      "invalid_request",
    );
  });

  it("answers 413 to a streamed /token body that grows past 32 KiB without Content-Length", async () => {
    const response = await api.fetch("/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: chunked(40 * 1024),
      // @ts-expect-error workerd needs duplex for a streamed request body
      duplex: "half",
    });
    await expectError(response, 413, "invalid_request");
  });

  it("answers 413 to an admin body over 32 KiB", async () => {
    await expectError(await api.admin("POST", "/v1/orgs", { name: "x", pad: "a".repeat(33 * 1024) }), 413, "invalid_request");
  });

  it("answers 413 to a subject token over 16 KiB inside a body under 32 KiB", async () => {
    const token = `${"a".repeat(8 * 1024)}.${"b".repeat(8 * 1024)}.c`;
    await expectError(await api.fetch("/token", form(exchangeFields(token))), 413, "invalid_request");
  });

  it("refuses a 16 KiB junk token as malformed, not as too large", async () => {
    const token = `${"a".repeat(8 * 1024)}.${"b".repeat(8 * 1024 - 4)}.cc`;
    expect(token.length).toBe(16 * 1024);
    await expectError(await api.fetch("/token", form(exchangeFields(token))), 400, "invalid_request");
  });
});

/** A limiter stand-in with a real budget: `limit` requests per key, then refusals. */
function budgetLimiter(limit: number) {
  const used = new Map<string, number>();
  return fakeLimiter((key) => {
    used.set(key, (used.get(key) ?? 0) + 1);
    return used.get(key)! <= limit;
  });
}

/** A request as it arrives from `ip` (Cloudflare's `cf-connecting-ip`). */
function from(ip: string, init: RequestInit = {}): RequestInit {
  return { ...init, headers: { ...(init.headers as Record<string, string> | undefined), "cf-connecting-ip": ip } };
}

/**
 * Miniflare counts in fixed windows of the binding's period: a test that counts up to a
 * limit first waits for a window with `roomMs` left, so no reset falls in the middle.
 */
async function windowWithRoom(periodSeconds: number, roomMs: number) {
  const periodMs = periodSeconds * 1000;
  const left = periodMs - (Date.now() % periodMs);
  if (left < roomMs) await new Promise((resolve) => setTimeout(resolve, left + 100));
}

async function expectRateLimited(response: Response) {
  await expectError(response, 429, "rate_limited");
  expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
}

describe("rate limits on /token", () => {
  it("answers 429 rate_limited with Retry-After when the per-network limiter refuses, keyed by the client's IPv4 address", async () => {
    const ip = fakeLimiter(() => false);
    const api = client({ EXCHANGE_IP_LIMITER: ip });
    await expectRateLimited(await api.fetch("/token", from("203.0.113.7", form(exchangeFields("a.b.c")))));
    expect(ip.keys).toEqual(["net:203.0.113.7"]);
  });

  it("keys IPv6 clients by /64, whatever the spelling, and IPv4-mapped ones by their IPv4 address", async () => {
    const ip = fakeLimiter(() => true);
    const api = client({ EXCHANGE_IP_LIMITER: ip });
    for (const address of ["2001:db8:7:1::1", "2001:0DB8:0007:0001:ffff:ffff:ffff:fffe", "2001:db8:7:1::9%eth0", "2001:db8:7:2::1", "::ffff:203.0.113.9", "not an address"]) {
      await expectError(await api.fetch("/token", from(address, form(exchangeFields("a.b.c")))), 400, "invalid_request");
    }
    expect(ip.keys).toEqual([
      "net:2001:db8:7:1::/64",
      "net:2001:db8:7:1::/64",
      "net:2001:db8:7:1::/64",
      "net:2001:db8:7:2::/64",
      "net:203.0.113.9",
      "net:unknown",
    ]);
  });

  it("gives each client network its own budget: one /64 exhausting its budget does not limit another", async () => {
    const api = client({ EXCHANGE_IP_LIMITER: budgetLimiter(3) });
    const exchange = (ip: string) => api.fetch("/token", from(ip, form(exchangeFields("a.b.c"))));
    // One host with a /64 rotating through its addresses is still one network.
    for (let i = 1; i <= 3; i++) await expectError(await exchange(`2001:db8:66:1::${i}`), 400, "invalid_request");
    await expectRateLimited(await exchange("2001:db8:66:1::4"));
    await expectRateLimited(await exchange("2001:db8:66:1:ffff::5"));
    await expectError(await exchange("2001:db8:66:2::1"), 400, "invalid_request");
    await expectError(await exchange("203.0.113.66"), 400, "invalid_request");
  });

  it.each(PROVIDERS)("answers 429 when the per-owner limiter refuses a valid %s token, keyed by its job owner", async (provider) => {
    const issuers = isolatedIssuers("lim");
    const seed = client(issuers);
    const job = await seedJob(seed, provider, issuers);
    const byOwner = fakeLimiter(() => false);
    const api = client({ ...issuers, EXCHANGE_OWNER_LIMITER: byOwner });
    const token = await job.token();
    const response = await api.exchange(token);
    await expectError(response, 429, "rate_limited");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(byOwner.keys).toEqual([ownerKey(provider, token)]);
    // The refusal spent nothing: the same token is accepted once the limiter allows it.
    await expectAccepted(await client(issuers).exchange(token));
  });

  it("does not count a forged token against its owner's budget", async () => {
    const issuers = isolatedIssuers("lim-forged");
    const job = await seedJob(client(issuers), "github", issuers);
    const byOwner = fakeLimiter(() => false);
    const api = client({ ...issuers, EXCHANGE_OWNER_LIMITER: byOwner });
    const [header, payload, signature] = (await job.token()).split(".");
    const forged = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    await expectError(await api.exchange(forged), 400, "invalid_request");
    expect(byOwner.keys).toEqual([]);
  });

  it("does not spend any owner's budget on requests that name no configured issuer", async () => {
    const byOwner = fakeLimiter(() => false);
    const api = client({ EXCHANGE_OWNER_LIMITER: byOwner });
    const foreign = `${btoa(JSON.stringify({ alg: "RS256", kid: "k" }))}.${btoa(JSON.stringify({ iss: "https://evil.example" }))}.c2ln`.replace(/=/g, "");
    await expectError(await api.fetch("/token", form(exchangeFields(foreign))), 400, "invalid_request");
    await expectError(await api.fetch("/token", form(exchangeFields("not-a-jwt"))), 400, "invalid_request");
    await expectError(await api.fetch("/token", { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }), 415, "invalid_request");
    expect(byOwner.keys).toEqual([]);
  });

  it("serves the exchange when a limiter binding itself fails (fails open)", async () => {
    const issuers = isolatedIssuers("lim3");
    const job = await seedJob(client(issuers), "github", issuers);
    const broken = { limit: async () => Promise.reject(new Error("limiter down")) } as unknown as RateLimit;
    const api = client({ ...issuers, EXCHANGE_IP_LIMITER: broken, EXCHANGE_OWNER_LIMITER: broken });
    await expectAccepted(await api.exchange(await job.token()));
  });

  it("allows at least 1,000 exchange requests per minute from one IP with the configured limits", async () => {
    const limits = configuredLimits(wranglerToml);
    const ip = limits.get("EXCHANGE_IP_LIMITER")!;
    expect((ip.limit * 60) / ip.period).toBeGreaterThanOrEqual(1000);
    // And the binding as configured (Miniflare enforces it) lets 1,000 through.
    const api = client();
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 20; batch++) {
      const responses = await Promise.all(
        Array.from({ length: 50 }, () =>
          api.fetch("/token", { ...form(exchangeFields("a.b.c")), headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "198.51.100.1" } }),
        ),
      );
      for (const r of responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 400: 1000 });
  });

  it("declares every limiter in wrangler.toml with a limit and a period", () => {
    const limits = configuredLimits(wranglerToml);
    expect([...limits.keys()].sort()).toEqual(["ADMIN_LIMITER", "EXCHANGE_IP_LIMITER", "EXCHANGE_OWNER_LIMITER", "EXPLAIN_LIMITER", "INTROSPECTION_LIMITER"]);
    for (const { period } of limits.values()) expect([10, 60]).toContain(period);
  });
});

describe("rate limits on the admin API", () => {
  /** An org with a static token of each kind and a job token, made while no limiter is bound. */
  async function credentials() {
    const issuers = isolatedIssuers("lim-admin");
    const seed = client({ ...issuers, ADMIN_LIMITER: undefined });
    const job = await seedJob(seed, "rwx", issuers);
    const jobToken = (await expectAccepted(await seed.exchange(await job.token()))).access_token;
    const project = (await (await seed.admin("GET", `/v1/projects/${job.projectId}`)).json()) as { org_id: string };
    const created = async (path: string) => (await (await seed.admin("POST", path, { description: "limits" })).json()) as { id: string; token: string };
    const orgToken = await created(`/v1/orgs/${project.org_id}/tokens`);
    const projectToken = await created(`/v1/projects/${job.projectId}/tokens`);
    return { issuers, projectId: job.projectId, orgId: project.org_id, orgToken, projectToken, jobToken, jti: String(JSON.parse(atob(jobToken.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).jti) };
  }

  const get = (api: Client, path: string, authorization?: string, ip = "198.51.100.20") =>
    api.fetch(path, from(ip, authorization === undefined ? {} : { headers: { authorization } }));

  it("answers 429 rate_limited with Retry-After when the credential's budget is spent, changing nothing stored", async () => {
    const { orgId, orgToken } = await credentials();
    const api = client({ ADMIN_LIMITER: fakeLimiter(() => false) });
    const before = await snapshotDb();
    await expectRateLimited(await api.admin("POST", "/v1/orgs", { name: "limited" }));
    // Not even a static token's last use is recorded for a refused request.
    await expectRateLimited(await api.admin("GET", `/v1/orgs/${orgId}`, undefined, orgToken.token));
    expect(await snapshotDb()).toEqual(before);
  });

  it("keys the admin limiter by the credential's identity (operator, static token ID, jti), never by the credential itself", async () => {
    const { projectId, orgToken, projectToken, jobToken, jti } = await credentials();
    const limiter = fakeLimiter(() => true);
    const api = client({ ADMIN_LIMITER: limiter });
    expect((await api.admin("GET", `/v1/projects/${projectId}`)).status).toBe(200);
    expect((await api.admin("GET", `/v1/projects/${projectId}`, undefined, orgToken.token)).status).toBe(200);
    expect((await api.admin("GET", `/v1/projects/${projectId}`, undefined, projectToken.token)).status).toBe(403);
    expect((await api.admin("GET", `/v1/projects/${projectId}`, undefined, jobToken)).status).toBe(403);
    expect(limiter.keys).toEqual(["cred:operator", `cred:${orgToken.id}`, `cred:${projectToken.id}`, `cred:jwt:${jti}`]);
    for (const secret of [env.ADMIN_TOKEN, orgToken.token, projectToken.token, jobToken]) expect(limiter.keys.join(" ")).not.toContain(secret);
  });

  it("counts every spelling of a credential's header against one budget", async () => {
    const { orgId, orgToken, jobToken, jti } = await credentials();
    const limiter = budgetLimiter(3);
    const api = client({ ADMIN_LIMITER: limiter });
    const path = `/v1/orgs/${orgId}`;
    for (const scheme of ["Bearer", "bearer", "BEARER"]) expect((await get(api, path, `${scheme} ${orgToken.token}`)).status).toBe(200);
    await expectRateLimited(await get(api, path, `bEaReR ${orgToken.token}`));
    for (const scheme of ["Bearer", "bearer"]) await get(api, path, `${scheme} ${jobToken}`);
    expect(new Set(limiter.keys)).toEqual(new Set([`cred:${orgToken.id}`, `cred:jwt:${jti}`]));
  });

  it("limits one credential without limiting another, from the same network", async () => {
    const { orgId, orgToken } = await credentials();
    const limiter = fakeLimiter((key) => key !== "cred:operator");
    const api = client({ ADMIN_LIMITER: limiter });
    await expectRateLimited(await get(api, `/v1/orgs/${orgId}`, `Bearer ${env.ADMIN_TOKEN}`));
    expect((await get(api, `/v1/orgs/${orgId}`, `Bearer ${orgToken.token}`)).status).toBe(200);
  });

  it("counts unauthenticated and invalid credentials, however many, against their client network", async () => {
    const { orgId } = await credentials();
    const limiter = fakeLimiter(() => true);
    const api = client({ ADMIN_LIMITER: limiter });
    const path = `/v1/orgs/${orgId}`;
    const invalid = [
      undefined,
      "Bearer not-a-token",
      `Bearer ${generateStaticToken("organization")}`,
      `Bearer ${generateStaticToken("user")}`,
      "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
      "Basic dXNlcjpwYXNz",
    ];
    for (const authorization of invalid) await expectError(await get(api, path, authorization, "2001:db8:77:1::1"), 401, "invalid_token");
    await expectError(await get(api, path, `Bearer ${generateStaticToken("organization")}`, "2001:db8:77:1:abcd::9"), 401, "invalid_token");
    await expectError(await get(api, path, `Bearer ${generateStaticToken("organization")}`, "2001:db8:77:2::1"), 401, "invalid_token");
    expect(limiter.keys).toEqual([...invalid.map(() => "net:2001:db8:77:1::/64"), "net:2001:db8:77:1::/64", "net:2001:db8:77:2::/64"]);
  });

  it("refuses random well-formed tokens once their network's budget is spent, while another network and valid credentials go on", async () => {
    const { orgId, orgToken } = await credentials();
    const api = client({ ADMIN_LIMITER: budgetLimiter(5) });
    const path = `/v1/orgs/${orgId}`;
    const random = () => `Bearer ${generateStaticToken("organization")}`;
    for (let i = 0; i < 5; i++) await expectError(await get(api, path, random(), "203.0.113.77"), 401, "invalid_token");
    await expectRateLimited(await get(api, path, random(), "203.0.113.77"));
    await expectRateLimited(await get(api, path, undefined, "203.0.113.77"));
    await expectError(await get(api, path, random(), "203.0.113.78"), 401, "invalid_token");
    expect((await get(api, path, `Bearer ${orgToken.token}`, "203.0.113.77")).status).toBe(200);
  });

  it("enforces the configured ADMIN_LIMITER per network: a /64 sending random tokens is refused, another /64 is not", async () => {
    const { orgId } = await credentials();
    const { limit, period } = configuredLimits(wranglerToml).get("ADMIN_LIMITER")!;
    const api = client(); // the binding as wrangler.toml declares it, enforced by Miniflare
    await windowWithRoom(period, 15_000);
    // Networks no other test uses: the binding's counts live as long as the test run.
    const group = Math.floor(Math.random() * 0xfffe).toString(16);
    const prefix = `2001:db8:${group}:1`;
    const otherPrefix = `2001:db8:${group}:2`;
    const statuses = new Map<number, number>();
    let sent = 0;
    for (let batch = 0; batch * 50 < limit + 20; batch++, sent += 50) {
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) => get(api, `/v1/orgs/${orgId}`, `Bearer ${generateStaticToken("organization")}`, `${prefix}::${(batch * 50 + i + 1).toString(16)}`)),
      );
      for (const r of responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: limit, 429: sent - limit });
    await expectRateLimited(await get(api, `/v1/orgs/${orgId}`, `Bearer ${generateStaticToken("organization")}`, `${prefix}::ffff`));
    await expectError(await get(api, `/v1/orgs/${orgId}`, `Bearer ${generateStaticToken("organization")}`, `${otherPrefix}::1`), 401, "invalid_token");
  }, 60_000);

  it("leaves the public endpoints outside the admin limiter", async () => {
    const limiter = fakeLimiter(() => false);
    const api = client({ ADMIN_LIMITER: limiter, INTROSPECTION_LIMITER: fakeLimiter(() => false) });
    expect((await api.fetch("/.well-known/jwks.json")).status).toBe(200);
    expect((await api.fetch("/healthz")).status).toBe(200);
    expect(limiter.keys).toEqual([]);
  });
});

describe("rate limits on /introspect", () => {
  const introspect = (api: Client, bearer: string | undefined, ip = "198.51.100.30") =>
    api.fetch(
      "/introspect",
      from(ip, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }) },
        body: new URLSearchParams({ token: "anything" }),
      }),
    );

  it("gives the introspection caller its own budget, INTROSPECTION_LIMITER, and answers 429 with Retry-After when it is spent", async () => {
    const own = fakeLimiter(() => false);
    const admin = fakeLimiter(() => true);
    const api = client({ INTROSPECTION_LIMITER: own, ADMIN_LIMITER: admin });
    await expectRateLimited(await introspect(api, env.INTROSPECTION_TOKEN));
    expect(own.keys).toEqual(["introspection"]);
    expect(admin.keys).toEqual([]);
  });

  it("does not let anyone else spend the caller's budget: wrong credentials count against their network", async () => {
    const own = fakeLimiter(() => true);
    const admin = fakeLimiter(() => false);
    const api = client({ INTROSPECTION_LIMITER: own, ADMIN_LIMITER: admin });
    await expectRateLimited(await introspect(api, "wrong", "203.0.113.31"));
    await expectRateLimited(await introspect(api, undefined, "203.0.113.31"));
    await expectRateLimited(await introspect(api, env.ADMIN_TOKEN, "203.0.113.31"));
    expect(admin.keys).toEqual(Array(3).fill("net:203.0.113.31"));
    expect(own.keys).toEqual([]);
    // From the same network, the caller itself is served.
    expect((await introspect(api, env.INTROSPECTION_TOKEN, "203.0.113.31")).status).toBe(200);
  });

  it("with the configured limits, serves a registry that introspects 1,000 pulls in a burst (the admin budget is 600 a minute)", async () => {
    const limits = configuredLimits(wranglerToml);
    const own = limits.get("INTROSPECTION_LIMITER")!;
    const admin = limits.get("ADMIN_LIMITER")!;
    // Sized for the platform's own services: hundreds per second, far above any one credential's.
    expect(own.limit / own.period).toBeGreaterThanOrEqual(500);
    expect(own.limit / own.period).toBeGreaterThanOrEqual((10 * admin.limit) / admin.period);
    const api = client();
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 20; batch++) {
      const responses = await Promise.all(Array.from({ length: 50 }, () => introspect(api, env.INTROSPECTION_TOKEN)));
      for (const r of responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 1000 });
  });
});

describe("rate limits on /revoke", () => {
  async function jobToken() {
    const issuers = isolatedIssuers("lim-revoke");
    const job = await seedJob(client(issuers), "rwx", issuers);
    const token = (await expectAccepted(await client(issuers).exchange(await job.token()))).access_token;
    return { token, jti: String(JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).jti) };
  }
  const revoke = (api: Client, init: { bearer?: string; token?: string }, ip = "198.51.100.40") =>
    api.fetch(
      "/revoke",
      from(ip, {
        method: "POST",
        headers: {
          ...(init.bearer === undefined ? {} : { authorization: `Bearer ${init.bearer}` }),
          ...(init.token === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
        },
        body: init.token === undefined ? undefined : new URLSearchParams({ token: init.token }),
      }),
    );

  it("counts a token we signed against its own identity, the budget it has at /v1, however it is presented", async () => {
    const { token, jti } = await jobToken();
    const limiter = fakeLimiter(() => true);
    const api = client({ ADMIN_LIMITER: limiter });
    await api.admin("GET", "/v1/orgs/org_000000000000000000000000", undefined, token);
    expect((await revoke(api, { token })).status).toBe(200);
    expect((await revoke(api, { bearer: token })).status).toBe(200);
    expect(limiter.keys).toEqual(Array(3).fill(`cred:jwt:${jti}`));
  });

  it("counts anything else (junk, expired, static tokens, no token) against the client network", async () => {
    const limiter = fakeLimiter(() => true);
    const api = client({ ADMIN_LIMITER: limiter });
    expect((await revoke(api, { token: "junk" }, "203.0.113.41")).status).toBe(200);
    expect((await revoke(api, { token: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln" }, "203.0.113.41")).status).toBe(200);
    await expectError(await revoke(api, { token: generateStaticToken("project") }, "203.0.113.41"), 400, "unsupported_token_type");
    await expectError(await revoke(api, {}, "203.0.113.41"), 400, "invalid_request");
    expect(limiter.keys).toEqual(Array(4).fill("net:203.0.113.41"));
  });

  it("answers 429 with Retry-After when the token's budget is spent, and revokes nothing", async () => {
    const { token, jti } = await jobToken();
    const other = await jobToken();
    const api = client({ ADMIN_LIMITER: fakeLimiter((key) => key !== `cred:jwt:${jti}`) });
    await expectRateLimited(await revoke(api, { bearer: token }));
    expect(await env.DB.prepare("SELECT jti FROM revoked_tokens WHERE jti = ?").bind(jti).first()).toBeNull();
    // Another job's token, from the same network, is not held back.
    expect((await revoke(api, { bearer: other.token })).status).toBe(200);
    expect(await env.DB.prepare("SELECT jti FROM revoked_tokens WHERE jti = ?").bind(other.jti).first()).not.toBeNull();
  });

  it("answers 429 to junk once its network's budget is spent", async () => {
    const api = client({ ADMIN_LIMITER: fakeLimiter((key) => key !== "net:203.0.113.42") });
    await expectRateLimited(await revoke(api, { token: "junk" }, "203.0.113.42"));
    expect((await revoke(api, { token: "junk" }, "203.0.113.43")).status).toBe(200);
  });
});

describe("caps on stored configuration", () => {
  const relationship = (i: number) => ({ provider: "rwx", subject: `mint:cap:vault-${i}-${crypto.randomUUID()}` });

  async function newProject(api: ReturnType<typeof client>) {
    const org = (await (await api.admin("POST", "/v1/orgs", { name: "caps" })).json()) as { id: string };
    return ((await (await api.admin("POST", `/v1/orgs/${org.id}/projects`, { name: "caps" })).json()) as { id: string }).id;
  }

  it("refuses the 101st trust relationship of a project with 409 conflict by default", async () => {
    const api = client();
    const projectId = await newProject(api);
    for (let i = 0; i < 100; i += 10) {
      const created = await Promise.all(Array.from({ length: 10 }, (_, j) => api.admin("POST", `/v1/projects/${projectId}/trust-relationships`, relationship(i + j))));
      expect(created.map((r) => r.status)).toEqual(Array(10).fill(201));
    }
    const before = await snapshotDb();
    await expectError(await api.admin("POST", `/v1/projects/${projectId}/trust-relationships`, relationship(100)), 409, "conflict");
    expect(await snapshotDb()).toEqual(before);
  });

  it("honours MAX_TRUST_RELATIONSHIPS_PER_PROJECT, also under concurrent creation", async () => {
    const api = client({ MAX_TRUST_RELATIONSHIPS_PER_PROJECT: "3" });
    const projectId = await newProject(api);
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => api.admin("POST", `/v1/projects/${projectId}/trust-relationships`, relationship(i))));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    const list = (await (await api.admin("GET", `/v1/projects/${projectId}/trust-relationships`)).json()) as { trust_relationships: unknown[] };
    expect(list.trust_relationships).toHaveLength(3);
  });

  it("accepts 16 conditions on a relationship and refuses 17 with 400 invalid_request", async () => {
    const api = client();
    const projectId = await newProject(api);
    const claims = ["sha", "workflow", "workflow_ref", "workflow_sha", "job_workflow_ref", "job_workflow_sha", "event_name", "head_ref", "base_ref", "environment", "run_id", "run_number", "run_attempt", "actor", "actor_id", "runner_environment", "ref"];
    const conditions = (n: number) => Object.fromEntries(claims.slice(0, n).map((c) => [c, "*"]));
    const body = (n: number) => ({ provider: "github", owner: "acme", repository: `app-${n}`, conditions: conditions(n) });
    expect((await api.admin("POST", `/v1/projects/${projectId}/trust-relationships`, body(16))).status).toBe(201);
    const before = await snapshotDb();
    await expectError(await api.admin("POST", `/v1/projects/${projectId}/trust-relationships`, body(17)), 400, "invalid_request");
    expect(await snapshotDb()).toEqual(before);
  });
});

/** `[[ratelimits]]` entries of wrangler.toml: name → { limit, period }. */
function configuredLimits(toml: string): Map<string, { limit: number; period: number }> {
  const limits = new Map<string, { limit: number; period: number }>();
  for (const block of toml.split("[[ratelimits]]").slice(1)) {
    const name = block.match(/name\s*=\s*"([^"]+)"/)?.[1];
    const simple = block.match(/simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/);
    if (name && simple) limits.set(name, { limit: Number(simple[1]), period: Number(simple[2]) });
  }
  return limits;
}
