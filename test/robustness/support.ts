/**
 * Harness for the robustness suite: the worker called with an overridden environment
 * (unique issuer URLs, a faulty database, fake rate limiters), per-provider jobs whose
 * issuers no other test touches, a D1 wrapper that fails chosen statements, and a
 * snapshot of everything stored.
 *
 * Fault state in the fake issuer is per issuer URL and shared by every test file, so
 * every test here builds its own issuer URLs.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Env, ProviderName } from "../../src/config";
import worker from "../../src/index";
import { expectDocumented } from "../support/conformance";
import { buildkiteClaims, circleciClaims, githubClaims, now, rwxClaims, signToken, uuid } from "../support/issuer";

export const BASE = "https://sts.test";
export const PROVIDERS: readonly ProviderName[] = ["github", "circleci", "buildkite", "rwx"];
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";

export type WorkerEnv = typeof env;

/** The worker's real fetch handler with `overrides` on top of the test environment. */
export function client(overrides: Partial<Env> = {}, options: { settle?: boolean } = {}) {
  const workerEnv = { ...env, ...overrides } as WorkerEnv;
  const settle = options.settle ?? true;
  async function fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const ctx = createExecutionContext();
    const request = new Request(`${BASE}${path}`, init);
    const response = await worker.fetch(request, workerEnv, ctx);
    if (settle) await waitOnExecutionContext(ctx);
    await expectDocumented(request, response);
    return response;
  }
  return {
    env: workerEnv,
    fetch,
    exchange(subjectToken: string, extra: Record<string, string> = {}) {
      const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ID_TOKEN, ...extra });
      return fetch("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
    },
    admin(method: string, path: string, body?: unknown, token: string = env.ADMIN_TOKEN) {
      return fetch(path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
  };
}

export type Client = ReturnType<typeof client>;

/** Issuer overrides that no other test uses: one fresh host per provider. */
export function isolatedIssuers(label = "iso"): Partial<Env> {
  const id = uuid().slice(0, 8);
  return {
    GITHUB_ISSUER: `https://gh-${label}-${id}.test`,
    CIRCLECI_ISSUER: `https://cci-${label}-${id}.test`,
    BUILDKITE_ISSUER: `https://bk-${label}-${id}.test`,
    RWX_ISSUER: `https://rwx-${label}-${id}.test/mint`,
  };
}

/** One CI job identity with a trust relationship admitting it, and a way to get its ID tokens. */
export interface Job {
  provider: ProviderName;
  /** The token's `iss`, which is also where its keys are served (CircleCI: the per-org issuer). */
  issuer: string;
  projectId: string;
  /** True when the provider's tokens carry a `jti` (single use). */
  singleUse: boolean;
  /** A fresh, valid ID token (new jti, current times); `claims` override, `kid` picks an issuer key. */
  token(claims?: Record<string, unknown>, header?: Record<string, unknown>, kid?: string): Promise<string>;
}

const LIFETIME: Record<ProviderName, number> = { github: 300, circleci: 3600, buildkite: 300, rwx: 900 };

function jobClaims(provider: ProviderName, issuers: Partial<Env>) {
  switch (provider) {
    case "github": {
      const claims = githubClaims({ iss: issuers.GITHUB_ISSUER });
      const [owner, repository] = String(claims.repository).split("/");
      return { claims, relationship: { provider, owner, repository } };
    }
    case "circleci": {
      const org = uuid();
      const project = uuid();
      const claims = circleciClaims(org, project, { iss: `${issuers.CIRCLECI_ISSUER}/org/${org}` });
      return { claims, relationship: { provider, organization_uuid: org, project_uuid: project } };
    }
    case "buildkite": {
      const claims = buildkiteClaims({ iss: issuers.BUILDKITE_ISSUER });
      return { claims, relationship: { provider, organization_slug: claims.organization_slug, pipeline_slug: claims.pipeline_slug } };
    }
    case "rwx": {
      const claims = rwxClaims({ iss: issuers.RWX_ISSUER });
      return { claims, relationship: { provider, subject: claims.sub } };
    }
  }
}

/** Seeds an org, a project and a relationship through the admin API, for a job of `provider`. */
export async function seedJob(api: Client, provider: ProviderName, issuers: Partial<Env>): Promise<Job> {
  const { claims: base, relationship } = jobClaims(provider, issuers);
  const org = await api.admin("POST", "/v1/orgs", { name: `org-${provider}` });
  expect(org.status).toBe(201);
  const orgId = ((await org.json()) as { id: string }).id;
  const project = await api.admin("POST", `/v1/orgs/${orgId}/projects`, { name: `prj-${provider}` });
  expect(project.status).toBe(201);
  const projectId = ((await project.json()) as { id: string }).id;
  const rel = await api.admin("POST", `/v1/projects/${projectId}/trust-relationships`, relationship);
  expect(rel.status, await rel.clone().text()).toBe(201);
  const issuer = String(base.iss);
  const singleUse = "jti" in base;
  return {
    provider,
    issuer,
    projectId,
    singleUse,
    token(overrides = {}, header, kid) {
      const t = now();
      const times: Record<string, number> = { iat: t, exp: t + LIFETIME[provider] };
      if ("nbf" in base) times.nbf = provider === "github" ? t - 600 : t;
      const claims = { ...base, ...times, ...(singleUse ? { jti: uuid() } : {}), ...overrides };
      return signToken(issuer, claims, header, kid);
    },
  };
}

/** Asserts an RFC 6749 error response (status and wire `error`) and returns its body. */
export async function expectError(response: Response, status: number, error: string) {
  const text = await response.text();
  let body: { error?: string; error_description?: string } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // leave empty: the comparison below shows what came back
  }
  expect({ status: response.status, error: body.error }, text.slice(0, 300)).toEqual({ status, error });
  expect(response.headers.get("cache-control")).toBe("no-store");
  return body as { error: string; error_description: string };
}

export async function expectAccepted(response: Response): Promise<{ access_token: string }> {
  const text = await response.text();
  expect(response.status, text.slice(0, 300)).toBe(200);
  return JSON.parse(text);
}

/** A statement with the SQL it was prepared from, so faults can be chosen by SQL. */
const realStatements = new WeakMap<object, D1PreparedStatement>();

/**
 * `db` whose statements throw (as D1 does when unavailable) when `fails(sql)` says so:
 * on run/first/all/raw, and for a batch containing such a statement (before any of it runs,
 * as D1 batches are transactions).
 */
export function faultyDb(db: D1Database, fails: (sql: string) => boolean): D1Database {
  const wrap = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const fault = () => {
      if (fails(sql)) throw new Error("D1_ERROR: Network connection lost.");
    };
    const wrapped = {
      bind: (...values: unknown[]) => wrap(statement.bind(...values), sql),
      run: async () => (fault(), statement.run()),
      first: async (column?: string) => (fault(), column === undefined ? statement.first() : statement.first(column)),
      all: async () => (fault(), statement.all()),
      raw: async (options?: { columnNames?: boolean }) => (fault(), statement.raw(options as { columnNames: true })),
      sql,
    };
    realStatements.set(wrapped, statement);
    return wrapped as unknown as D1PreparedStatement;
  };
  // The binding and its sessions (the Sessions API) fail alike.
  const handle = (target: Pick<D1Database, "prepare" | "batch">) => ({
    prepare: (sql: string) => wrap(target.prepare(sql), sql),
    batch: async (statements: D1PreparedStatement[]) => {
      for (const s of statements) if (fails((s as unknown as { sql: string }).sql)) throw new Error("D1_ERROR: Network connection lost.");
      return target.batch(statements.map((s) => realStatements.get(s) ?? s));
    },
  });
  return {
    ...handle(db),
    exec: (query: string) => db.exec(query),
    withSession: (start?: string) => {
      const session = db.withSession(start);
      return { ...handle(session), getBookmark: () => session.getBookmark() };
    },
    dump: () => db.dump(),
  } as unknown as D1Database;
}

/**
 * Tables whose content is state a request can change; `issuer_keys` is a cache of public keys,
 * and `audit_events` the record of what happened (a refusal is recorded there by design, by
 * the queue consumer after the response).
 */
const CACHE_TABLES = new Set(["issuer_keys", "d1_migrations", "audit_events"]);

/**
 * Every stored row of every state table, as one comparable string per table. `ignore`
 * names columns ("table.column") left out, e.g. bookkeeping a valid credential's use updates.
 */
export async function snapshotDb(db: D1Database = env.DB, ignore: readonly string[] = []): Promise<Record<string, string>> {
  const { results } = await db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")
    .all<{ name: string }>();
  const tables = results.map((r) => r.name).filter((name) => !CACHE_TABLES.has(name));
  const rows = await db.batch(tables.map((t) => db.prepare(`SELECT * FROM "${t}"`)));
  const snapshot: Record<string, string> = {};
  tables.forEach((t, i) => {
    const drop = ignore.filter((c) => c.startsWith(`${t}.`)).map((c) => c.slice(t.length + 1));
    const strip = (r: Record<string, unknown>) => (drop.length === 0 ? r : Object.fromEntries(Object.entries(r).filter(([k]) => !drop.includes(k))));
    const lines = (rows[i]!.results as Record<string, unknown>[]).map((r) => JSON.stringify(strip(r))).sort();
    snapshot[t] = `${lines.length}:${lines.join("\n")}`;
  });
  return snapshot;
}

/** Row counts per table, for short failure messages. */
export function counts(snapshot: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(snapshot).map(([t, s]) => [t, Number(s.slice(0, s.indexOf(":")))]));
}

/** A rate limiter binding stand-in that records keys and answers as told. */
export function fakeLimiter(allow: (key: string) => boolean = () => false) {
  const keys: string[] = [];
  const limiter = {
    keys,
    async limit({ key }: { key: string }) {
      keys.push(key);
      return { success: allow(key) };
    },
  };
  return limiter as typeof limiter & RateLimit;
}
