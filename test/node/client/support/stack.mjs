/**
 * The world the client tests run in: the real worker (bundled from src/ the way wrangler
 * bundles it) in Miniflare on a free port, real local D1 with the real migrations, and the
 * stand-in CI issuer (test/support/fake-issuer.mjs) over real HTTP on another free port.
 * The worker's four *_ISSUER vars point at the stand-in (ALLOW_INSECURE_ISSUERS=true), so
 * it fetches discovery and keys over the network exactly as in production.
 *
 * AUDIENCE differs from PUBLIC_URL on purpose: a client that asked its CI for the URL
 * instead of the published `subject_token_audience` is refused.
 *
 * One stack per test file (start in beforeAll, stop in afterAll). Never 8787/8788.
 */
import { readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { WORKER_BUNDLE_OPTIONS } from "../../../../bench/lib/build.mjs";
import { generateDevSecrets } from "../../../support/dev-secrets.mjs";
import { serveFakeIssuer } from "../../../support/fake-issuer.mjs";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
export const AUDIENCE = "https://sts.client-tests.example";
const RESERVED_PORTS = new Set([8787, 8788]);
const NO_LIMIT = { simple: { limit: 1_000_000, period: 60 } };

/** A port the OS says is free (and never one the others use). */
export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
        server.close(() => resolve(port));
      });
    });
    if (!RESERVED_PORTS.has(port)) return port;
  }
}

/** What wrangler.toml declares that Miniflare needs told: compatibility, and every rate limiter (never throttling here). */
function fromWranglerToml() {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const limiters = [...toml.matchAll(/^\[\[ratelimits\]\]\s*\nname\s*=\s*"([^"]+)"/gm)].map((m) => m[1]);
  return {
    compatibilityDate: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "2026-04-20",
    compatibilityFlags: JSON.parse(/^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(toml)?.[1] ?? "[]"),
    ratelimits: Object.fromEntries(limiters.map((name) => [name, NO_LIMIT])),
  };
}

/**
 * @param {{ bindings?: Record<string, string>, publicUrl?: (workerUrl: string) => Promise<string> }} [options]
 *   `publicUrl`: a PUBLIC_URL other than the worker's own address (e.g. a proxy in front of it),
 *   which the discovery documents then name as the token and revocation endpoints' base.
 */
export async function startStack(options = {}) {
  const work = mkdtempSync(join(tmpdir(), "edge-sts-client-"));
  const script = join(work, "worker.js");
  await build({ ...WORKER_BUNDLE_OPTIONS, entryPoints: [join(ROOT, "src", "index.ts")], outfile: script });

  const issuerServer = await serveFakeIssuer(0);
  const issuerOrigin = `http://127.0.0.1:${issuerServer.address().port}`;
  const issuers = {
    github: `${issuerOrigin}/github`,
    circleci: `${issuerOrigin}/circleci`,
    buildkite: `${issuerOrigin}/buildkite`,
    rwx: `${issuerOrigin}/rwx`,
  };
  const secrets = await generateDevSecrets();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  /** @type {string[]} */
  const logs = [];
  const mf = new Miniflare({
    host: "127.0.0.1",
    port,
    modules: true,
    scriptPath: script,
    modulesRoot: work,
    ...fromWranglerToml(),
    d1Databases: { DB: "edge-sts-client-tests" },
    d1Persist: false,
    // wrangler.toml's [assets]: the generated files (public/openapi.json), the worker first.
    assets: { directory: join(ROOT, "public"), binding: "ASSETS", routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true } },
    bindings: {
      ...secrets,
      PUBLIC_URL: options.publicUrl ? await options.publicUrl(url) : url,
      AUDIENCE,
      ALLOW_INSECURE_ISSUERS: "true",
      GITHUB_ISSUER: issuers.github,
      CIRCLECI_ISSUER: issuers.circleci,
      BUILDKITE_ISSUER: issuers.buildkite,
      RWX_ISSUER: issuers.rwx,
      ...options.bindings,
    },
    // The worker's one JSON line per request: kept, so tests can check no token is in it.
    handleRuntimeStdio(stdout, stderr) {
      stdout.on("data", (chunk) => logs.push(String(chunk)));
      stderr.on("data", (chunk) => { logs.push(String(chunk)); if (process.env.STACK_DEBUG) process.stderr.write(chunk); });
    },
  });
  try {
    await mf.ready;
    const db = await mf.getD1Database("DB");
    for (const migration of await readD1Migrations(join(ROOT, "migrations"))) {
      await db.batch(migration.queries.map((query) => db.prepare(query)));
    }
  } catch (error) {
    await mf.dispose().catch(() => undefined);
    issuerServer.close();
    throw error;
  }

  /** JSON request to the worker; returns { status, body }. */
  async function request(method, path, body, token = secrets.ADMIN_TOKEN) {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  async function expectCreated(method, path, body, token) {
    const result = await request(method, path, body, token);
    if (result.status !== 201) throw new Error(`${method} ${path} -> ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  }

  /** The worker's log lines (one JSON object per request) since `mark`. */
  const requestLines = () =>
    logs
      .join("")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line));

  let counter = 0;
  return {
    url,
    issuerOrigin,
    issuers,
    audience: AUDIENCE,
    adminToken: secrets.ADMIN_TOKEN,
    /** For a command under test that checks its own token, as a downstream service would. */
    introspectionEndpoint: { url: `${url}/introspect`, token: secrets.INTROSPECTION_TOKEN },
    logs,
    requestLines,
    /** How many requests the worker has served on `route` so far. */
    countRequests: (route) => requestLines().filter((line) => line.route === route).length,
    request,
    /** A fresh organization and project; returns their IDs. */
    async createProject() {
      const org = await expectCreated("POST", "/v1/orgs", { name: `org-${++counter}` });
      const project = await expectCreated("POST", `/v1/orgs/${org.id}/projects`, { name: `project-${counter}` });
      return { orgId: org.id, projectId: project.id };
    },
    createRelationship: (projectId, body) => expectCreated("POST", `/v1/projects/${projectId}/trust-relationships`, body),
    /** Signs claims at the stand-in issuer: a real RS256 JWT its JWKS verifies. */
    async sign(issuer, claims) {
      const response = await fetch(`${issuerOrigin}/__control/sign`, { method: "POST", body: JSON.stringify({ issuer, claims }) });
      if (!response.ok) throw new Error(`stand-in issuer: ${response.status}`);
      return (await response.json()).token;
    },
    /** RFC 7662 as a downstream service asks: is this token active now? */
    async introspect(token) {
      const response = await fetch(`${url}/introspect`, {
        method: "POST",
        headers: { authorization: `Bearer ${secrets.INTROSPECTION_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token }),
      });
      if (response.status !== 200) throw new Error(`introspect -> ${response.status}`);
      return response.json();
    },
    async stop() {
      await mf.dispose().catch(() => undefined);
      await new Promise((resolve) => issuerServer.close(resolve));
      rmSync(work, { recursive: true, force: true });
    },
  };
}
