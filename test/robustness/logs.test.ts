/**
 * Logs (issue 4 §6): one structured JSON line per request — request id, route, outcome,
 * reason, and provider/project where known — and never a token, hash, key or secret.
 * A run of exchanges, admin calls, introspection, revocation and refusals of every kind
 * is captured, then every line is checked and the whole text scanned for every secret
 * the run used.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashStaticToken } from "../../src/tokens/static-tokens";
import { setFault } from "../support/issuer";
import { client, faultyDb, fakeLimiter, isolatedIssuers, PROVIDERS, seedJob } from "./support";

afterEach(() => vi.restoreAllMocks());

interface LogLine {
  request_id: unknown;
  route: unknown;
  outcome: unknown;
  reason: unknown;
  status: unknown;
  provider?: unknown;
  project_id?: unknown;
}

describe("request logs", () => {
  it("writes one JSON line per request with request_id, route, outcome and reason, and never a secret", async () => {
    const lines: unknown[][] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args));
    const secrets = new Set<string>([env.ADMIN_TOKEN, env.INTROSPECTION_TOKEN, env.TOKEN_HASH_SALT]);
    for (const jwk of JSON.parse(env.SIGNING_KEYS) as { d: string }[]) secrets.add(jwk.d);
    /** A token and its parts long enough to be recognisable (signature, payload). */
    const addToken = (token: string) => {
      secrets.add(token);
      for (const part of token.split(".")) if (part.length >= 24) secrets.add(part);
    };
    let requests = 0;
    const count = async (response: Promise<Response>) => {
      requests++;
      const r = await response;
      await r.arrayBuffer();
      return r;
    };
    const json = async (response: Promise<Response>) => {
      requests++;
      const r = await response;
      expect(r.status, await r.clone().text()).toBeLessThan(300);
      return (await r.json()) as Record<string, string>;
    };

    const issuers = isolatedIssuers("logs");
    const api = client(issuers);

    // Seeding through the admin API is part of the run (3 requests per job).
    const jobs = [];
    for (const provider of PROVIDERS) jobs.push(await seedJob(api, provider, issuers));
    requests += 3 * jobs.length;

    // Exchanges: accepted, replayed, and refused for several reasons.
    const exchanged: Record<string, string>[] = [];
    for (const job of jobs) {
      const token = await job.token();
      addToken(token);
      const body = await json(api.exchange(token));
      addToken(body.access_token!);
      exchanged.push(body);
      if (job.singleUse) await count(api.exchange(token));
      const expired = await job.token({ iat: Math.floor(Date.now() / 1000) - 4000, exp: Math.floor(Date.now() / 1000) - 3000 });
      addToken(expired);
      await count(api.exchange(expired));
      const wrongKid = await job.token({}, { kid: "unknown-kid" });
      addToken(wrongKid);
      await count(api.exchange(wrongKid));
    }
    const tampered = `${(await jobs[0]!.token()).slice(0, -6)}AAAAAA`;
    addToken(tampered);
    await count(api.exchange(tampered));
    await count(api.fetch("/token", { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }));
    await count(api.fetch("/token", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }));

    // Admin: people, memberships, static tokens, pull tokens, reads, deletes, bad credentials.
    const projectId = jobs[0]!.projectId;
    const project = await json(api.admin("GET", `/v1/projects/${projectId}`));
    const user = await json(api.admin("POST", "/v1/users", { name: "Log", email: `log-${crypto.randomUUID()}@example.com` }));
    await json(api.admin("POST", `/v1/orgs/${project.org_id}/members`, { user_id: user.id, role: "admin" }));
    const staticTokens = [
      await json(api.admin("POST", `/v1/orgs/${project.org_id}/tokens`, { description: "ci" })),
      await json(api.admin("POST", `/v1/projects/${projectId}/tokens`, { description: "ci" })),
      await json(api.admin("POST", `/v1/users/${user.id}/tokens`, { description: "laptop" })),
    ];
    for (const t of staticTokens) {
      secrets.add(t.token!);
      secrets.add(await hashStaticToken(t.token!, env.TOKEN_HASH_SALT));
    }
    const userToken = staticTokens[2]!.token!;
    await json(api.admin("GET", `/v1/orgs/${project.org_id}/projects`, undefined, userToken));
    const pull = await json(api.admin("POST", `/v1/projects/${projectId}/pull-tokens`, undefined, staticTokens[1]!.token!));
    addToken(pull.token!);
    await count(api.admin("GET", `/v1/projects/${projectId}/trust-relationships`, undefined, `${userToken.slice(0, -1)}x`));
    await count(api.admin("GET", `/v1/projects/${projectId}/trust-relationships`, undefined, "not-a-credential-at-all"));
    await count(api.admin("POST", "/v1/orgs", { name: "x", extra: "field" }));
    await count(api.admin("DELETE", `/v1/orgs/${project.org_id}/tokens/${staticTokens[0]!.id}`));

    // Introspection and revocation of every kind of token.
    const introspect = (token: string, credential = env.INTROSPECTION_TOKEN) =>
      count(api.fetch("/introspect", { method: "POST", headers: { authorization: `Bearer ${credential}`, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token }) }));
    for (const token of [exchanged[0]!.access_token!, pull.token!, staticTokens[1]!.token!, staticTokens[0]!.token!, "junk"]) await introspect(token);
    await introspect(exchanged[1]!.access_token!, "wrong-introspection-credential");
    await count(api.fetch("/revoke", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: exchanged[1]!.access_token! }) }));
    await count(api.fetch("/revoke", { method: "POST", headers: { authorization: `Bearer ${exchanged[2]!.access_token!}` } }));

    // Public documents, unknown routes, and the faults: rate limits, D1, issuer, signing keys.
    for (const path of ["/healthz", "/.well-known/jwks.json", "/.well-known/openid-configuration", "/nope"]) await count(api.fetch(path));
    const limited = client({ ...issuers, ADMIN_LIMITER: fakeLimiter(() => false), EXCHANGE_IP_LIMITER: fakeLimiter(() => false) });
    await count(limited.admin("GET", `/v1/projects/${projectId}`));
    const limitedToken = await jobs[1]!.token();
    addToken(limitedToken);
    await count(limited.exchange(limitedToken));
    const broken = client({ ...issuers, DB: faultyDb(env.DB, () => true) });
    await count(broken.admin("POST", "/v1/orgs", { name: "down" }));
    const brokenToken = await jobs[2]!.token();
    addToken(brokenToken);
    await count(broken.exchange(brokenToken));
    const noKeys = client({ ...issuers, SIGNING_KEYS: undefined });
    const noKeysToken = await jobs[3]!.token();
    addToken(noKeysToken);
    await count(noKeys.exchange(noKeysToken));
    const coldIssuers = isolatedIssuers("logs-cold");
    const cold = await seedJob(client(coldIssuers), "buildkite", coldIssuers);
    requests += 3;
    await setFault(cold.issuer, "down");
    const coldToken = await cold.token();
    addToken(coldToken);
    await count(client(coldIssuers).exchange(coldToken));
    // A client-sent cf-ray that is not a ray ID is not logged as the request id.
    await count(api.fetch("/healthz", { headers: { "cf-ray": `${env.ADMIN_TOKEN} injected {"x":1}` } }));

    vi.restoreAllMocks();

    // One line per request, each a single JSON object with the fixed fields.
    expect(lines.length).toBe(requests);
    const parsed: LogLine[] = lines.map((args) => {
      expect(args).toHaveLength(1);
      expect(typeof args[0]).toBe("string");
      expect(args[0] as string).not.toContain("\n");
      return JSON.parse(args[0] as string) as LogLine;
    });
    for (const line of parsed) {
      expect(typeof line.request_id).toBe("string");
      expect(String(line.request_id)).toMatch(/^[0-9a-zA-Z-]{1,64}$/);
      expect(typeof line.route).toBe("string");
      expect(["ok", "refused", "error"]).toContain(line.outcome);
      expect(line).toHaveProperty("reason");
      expect(typeof line.status).toBe("number");
      if (line.outcome === "ok") expect(line.reason).toBeNull();
      else expect(typeof line.reason).toBe("string");
    }
    expect(new Set(parsed.map((l) => l.request_id)).size).toBe(parsed.length);

    // Accepted exchanges name the provider and project; refusals name their reason.
    const accepted = parsed.filter((l) => l.route === "/token" && l.status === 200);
    expect(accepted.map((l) => l.provider).sort()).toEqual([...PROVIDERS].sort());
    for (const l of accepted) expect(String(l.project_id)).toMatch(/^prj_/);
    // A refusal after the issuer was recognised still says which provider it was.
    const expired = parsed.filter((l) => l.route === "/token" && l.reason === "token_expired");
    expect(expired.length).toBeGreaterThan(0);
    for (const l of expired) expect(PROVIDERS).toContain(l.provider);
    const reasons = new Set(parsed.map((l) => l.reason));
    // An unknown kid right after its issuer's keys were fetched is keys_unavailable (503,
    // retryable) until a key set fetched for it lacks it: no key_unknown here.
    for (const reason of ["token_replayed", "token_expired", "rate_limited", "database_unavailable", "signing_keys_missing", "keys_unavailable", "unauthenticated", "route_not_found"]) {
      expect(reasons, reason).toContain(reason);
    }

    // Nothing secret, anywhere in the text.
    const text = lines.map((args) => String(args[0])).join("\n");
    expect(secrets.size).toBeGreaterThan(40);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(16);
      if (text.includes(secret)) throw new Error(`a secret appears in the logs: ${secret.slice(0, 8)}…`);
    }
  }, 60_000);
});
