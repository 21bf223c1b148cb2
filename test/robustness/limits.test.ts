/**
 * Limits (issue 4 §4): request and token sizes, the three rate limiters (per client IP and
 * per issuer on /token, per credential on the admin API), and the caps on relationships
 * per project and conditions per relationship.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
// Vite's raw import: the deployed configuration itself, not a copy of its numbers.
import wranglerToml from "../../wrangler.toml?raw";
import { client, expectAccepted, expectError, fakeLimiter, isolatedIssuers, PROVIDERS, seedJob, snapshotDb } from "./support";

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

describe("rate limits on /token", () => {
  it("answers 429 rate_limited with Retry-After when the per-IP limiter refuses, keyed by the client IP", async () => {
    const ip = fakeLimiter(() => false);
    const api = client({ EXCHANGE_IP_LIMITER: ip });
    const response = await api.fetch("/token", { ...form(exchangeFields("a.b.c")), headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "203.0.113.7" } });
    await expectError(response, 429, "rate_limited");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(ip.keys).toEqual(["ip:203.0.113.7"]);
  });

  it.each(PROVIDERS)("answers 429 when the per-issuer limiter refuses a valid %s token, keyed by its issuer", async (provider) => {
    const issuers = isolatedIssuers("lim");
    const seed = client(issuers);
    const job = await seedJob(seed, provider, issuers);
    const byIssuer = fakeLimiter(() => false);
    const api = client({ ...issuers, EXCHANGE_ISSUER_LIMITER: byIssuer });
    const token = await job.token();
    const response = await api.exchange(token);
    await expectError(response, 429, "rate_limited");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(byIssuer.keys).toEqual([`iss:${job.issuer}`]);
    // The refusal spent nothing: the same token is accepted once the limiter allows it.
    await expectAccepted(await client(issuers).exchange(token));
  });

  it("does not count a forged token against its issuer's budget", async () => {
    const issuers = isolatedIssuers("lim-forged");
    const job = await seedJob(client(issuers), "github", issuers);
    const byIssuer = fakeLimiter(() => false);
    const api = client({ ...issuers, EXCHANGE_ISSUER_LIMITER: byIssuer });
    const [header, payload, signature] = (await job.token()).split(".");
    const forged = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    await expectError(await api.exchange(forged), 400, "invalid_request");
    expect(byIssuer.keys).toEqual([]);
  });

  it("gives each issuer its own budget: an exhausted issuer does not limit another", async () => {
    const issuers = isolatedIssuers("lim2");
    const seed = client(issuers);
    const github = await seedJob(seed, "github", issuers);
    const buildkite = await seedJob(seed, "buildkite", issuers);
    const byIssuer = fakeLimiter((key) => key !== `iss:${github.issuer}`);
    const api = client({ ...issuers, EXCHANGE_ISSUER_LIMITER: byIssuer });
    await expectError(await api.exchange(await github.token()), 429, "rate_limited");
    await expectAccepted(await api.exchange(await buildkite.token()));
  });

  it("does not spend an issuer's budget on requests that name no configured issuer", async () => {
    const byIssuer = fakeLimiter(() => false);
    const api = client({ EXCHANGE_ISSUER_LIMITER: byIssuer });
    const foreign = `${btoa(JSON.stringify({ alg: "RS256", kid: "k" }))}.${btoa(JSON.stringify({ iss: "https://evil.example" }))}.c2ln`.replace(/=/g, "");
    await expectError(await api.fetch("/token", form(exchangeFields(foreign))), 400, "invalid_request");
    await expectError(await api.fetch("/token", form(exchangeFields("not-a-jwt"))), 400, "invalid_request");
    await expectError(await api.fetch("/token", { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }), 415, "invalid_request");
    expect(byIssuer.keys).toEqual([]);
  });

  it("serves the exchange when a limiter binding itself fails (fails open)", async () => {
    const issuers = isolatedIssuers("lim3");
    const job = await seedJob(client(issuers), "github", issuers);
    const broken = { limit: async () => Promise.reject(new Error("limiter down")) } as unknown as RateLimit;
    const api = client({ ...issuers, EXCHANGE_IP_LIMITER: broken, EXCHANGE_ISSUER_LIMITER: broken });
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
    expect([...limits.keys()].sort()).toEqual(["ADMIN_LIMITER", "EXCHANGE_IP_LIMITER", "EXCHANGE_ISSUER_LIMITER"]);
    for (const { period } of limits.values()) expect([10, 60]).toContain(period);
  });
});

describe("rate limits on the admin API", () => {
  it("answers 429 rate_limited with Retry-After when the credential's budget is spent", async () => {
    const limiter = fakeLimiter(() => false);
    const api = client({ ADMIN_LIMITER: limiter });
    const before = await snapshotDb();
    const response = await api.admin("POST", "/v1/orgs", { name: "limited" });
    await expectError(response, 429, "rate_limited");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await snapshotDb()).toEqual(before);
  });

  it("keys the admin limiter by a digest of the credential, never the credential itself", async () => {
    const limiter = fakeLimiter(() => true);
    const api = client({ ADMIN_LIMITER: limiter });
    expect((await api.admin("GET", "/v1/orgs/org_000000000000000000000000")).status).toBe(404);
    expect((await api.admin("GET", "/v1/orgs/org_000000000000000000000000", undefined, "someone-else")).status).toBe(401);
    await api.fetch("/v1/orgs", { method: "POST" });
    const [operator, other, anonymous] = limiter.keys;
    expect(operator).toMatch(/^cred:[0-9a-f]{32}$/);
    expect(other).toMatch(/^cred:[0-9a-f]{32}$/);
    expect(other).not.toBe(operator);
    expect(anonymous).toBe("ip:local");
    expect(limiter.keys.join(" ")).not.toContain(env.ADMIN_TOKEN);
  });

  it("limits one credential without limiting another", async () => {
    let operatorKey: string | undefined;
    const limiter = fakeLimiter((key) => {
      operatorKey ??= key;
      return key !== operatorKey;
    });
    const api = client({ ADMIN_LIMITER: limiter });
    await expectError(await api.admin("GET", "/v1/orgs/org_000000000000000000000000"), 429, "rate_limited");
    await expectError(await api.admin("GET", "/v1/orgs/org_000000000000000000000000", undefined, "another-credential"), 401, "invalid_token");
  });

  it("leaves the public endpoints outside the admin limiter", async () => {
    const limiter = fakeLimiter(() => false);
    const api = client({ ADMIN_LIMITER: limiter });
    expect((await api.fetch("/.well-known/jwks.json")).status).toBe(200);
    expect((await api.fetch("/healthz")).status).toBe(200);
    expect(limiter.keys).toEqual([]);
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
