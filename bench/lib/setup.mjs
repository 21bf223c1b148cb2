/**
 * The bench's world, shared by run.mjs and profile.mjs: builds, one Miniflare with every
 * worker on its own direct socket, the fake CI issuer at the network edge (counted), the
 * D1 seed, the tokens, and the key cache warmed.
 */
import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createFakeIssuer } from "../../test/support/fake-issuer.mjs";
import { generateDevSecrets } from "../../test/support/dev-secrets.mjs";
import { buildBenchWorkers, buildProduction } from "./build.mjs";
import { applyMigrations, seedRelationships } from "./seed.mjs";
import { exchangeBody, ISSUERS, issuerControl, rwxClaims, TokenPool } from "./tokens.mjs";

export const PUBLIC_URL = "https://sts.bench";
/** Present, so their calls cost what they cost, but never throttling. */
export const RATE_LIMIT_OFF = { simple: { limit: 1_000_000_000, period: 60 } };
const LIMITERS = ["EXCHANGE_IP_LIMITER", "EXCHANGE_OWNER_LIMITER", "ADMIN_LIMITER"];

/**
 * The audit queue as wrangler.toml declares it (producer binding, queue name, batching), so
 * the audited variant runs the real producer and consumer with production batching.
 */
export function auditQueue(root) {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const producer = /\[\[queues\.producers\]\]\s*binding\s*=\s*"([^"]+)"\s*queue\s*=\s*"([^"]+)"/m.exec(toml);
  const consumer = /\[\[queues\.consumers\]\][^[]*?max_batch_size\s*=\s*(\d+)[^[]*?max_batch_timeout\s*=\s*(\d+)/m.exec(toml);
  if (!producer || !consumer) throw new Error("wrangler.toml declares no audit queue producer and consumer");
  return { binding: producer[1], queue: producer[2], maxBatchSize: Number(consumer[1]), maxBatchTimeout: Number(consumer[2]) };
}

function compatibility(root) {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "2026-04-20";
  const flags = JSON.parse(/^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(toml)?.[1] ?? "[]");
  return { compatibilityDate: date, compatibilityFlags: flags };
}

/** One request, checked: the bench measures only paths that answer 200. */
export async function expectOk(url, body, what) {
  const response = await fetch(`${url}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  const text = await response.text();
  if (response.status !== 200 || !text.includes("access_token")) throw new Error(`${what} answered ${response.status}: ${text.slice(0, 300)}`);
}

/**
 * `extra` adds variants of the real worker (profile.mjs): { name: { script?, limiters?, queue? } },
 * `limiters` naming the rate limiter bindings it gets (default: all, never throttling),
 * `queue: "send-only"` binding the audit queue's producer to a queue nobody consumes;
 * `realScript` runs X1, X1a and every extra variant without a script of its own from another
 * build of the same source, and then no production bundle is built (`bundle` is null).
 * Returns URLs by variant, the X1 body, the X2 token pool, the outbound counter and more.
 */
export async function setUp({ root, out, log, initialTokens, orgs = 10, extra = {}, withDw = false, inspectorPort, realScript }) {
  // With `realScript` (the profiler's readable build) the production bundle would go unused.
  log(realScript ? "building the bench workers" : "building the production bundle (wrangler deploy --dry-run) and the bench workers");
  const bundle = realScript ? null : buildProduction(root, join(out, "worker"));
  const real = realScript ?? bundle.script;
  const scripts = await buildBenchWorkers(root, join(out, "bench-workers"));

  // The network edge: every outbound fetch of every worker lands on the fake CI issuer, counted.
  const fake = createFakeIssuer();
  const outbound = { count: 0, urls: [] };
  const outboundService = (request) => {
    outbound.count++;
    if (outbound.urls.length < 20) outbound.urls.push(request.url);
    return fake(request);
  };
  const issuer = issuerControl(fake);
  const secrets = await generateDevSecrets();
  const issuerKeys = [(await issuer.publicKey(ISSUERS.rwx)).jwk, (await issuer.publicKey(ISSUERS.github)).jwk];

  const { compatibilityDate, compatibilityFlags } = compatibility(root);
  const common = { modules: true, compatibilityDate, compatibilityFlags, d1Databases: { DB: "edge-sts-bench" }, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] };
  // X1a and the counting entry send audit events to the real (local) queue; `xa` consumes
  // it, writing to the same D1 as every other variant. X1 has no queue: auditing is off.
  const audit = auditQueue(root);
  const producing = { queueProducers: { [audit.binding]: audit.queue } };
  const consuming = { queueConsumers: { [audit.queue]: { maxBatchSize: audit.maxBatchSize, maxBatchTimeout: audit.maxBatchTimeout } } };
  // profile.mjs: a queue nobody consumes (Miniflare drops its messages), to cost the send alone.
  const sendOnly = { queueProducers: { [audit.binding]: `${audit.queue}-unconsumed` } };
  const realWorker = (name, scriptPath, limiters = LIMITERS, queue = {}) => ({
    ...common,
    name,
    scriptPath,
    ratelimits: Object.fromEntries(limiters.map((limiter) => [limiter, RATE_LIMIT_OFF])),
    bindings: { ...secrets, PUBLIC_URL, AUDIENCE: PUBLIC_URL },
    outboundService,
    ...queue,
  });
  const reference = (name) => ({
    ...common,
    name,
    scriptPath: scripts[name],
    bindings: { ISSUER_JWKS: JSON.stringify({ keys: issuerKeys }), ISSUER: `${ISSUERS.rwx},${ISSUERS.github}`, AUDIENCE: PUBLIC_URL, PUBLIC_URL, SIGNING_KEYS: secrets.SIGNING_KEYS },
  });
  const stderr = { tail: "" };
  const mf = new Miniflare({
    inspectorPort,
    workers: [
      realWorker("x", real),
      realWorker("xa", real, LIMITERS, { ...producing, ...consuming }),
      reference("a"),
      reference("c"),
      reference("d"),
      ...(withDw ? [reference("dw")] : []),
      realWorker("count", scripts.count, LIMITERS, producing),
      ...Object.entries(extra).map(([name, v]) => realWorker(name, v.script ?? real, v.limiters, v.queue === "send-only" ? sendOnly : {})),
    ],
    // The real worker logs one JSON line per request; drain it (it still pays for writing it).
    handleRuntimeStdio(stdout, err) {
      stdout.resume();
      err.on("data", (chunk) => (stderr.tail = (stderr.tail + chunk).slice(-4000)));
    },
  });
  try {
    await mf.ready;
    const urls = {};
    const names = [["A", "a"], ["C", "c"], ["D", "d"], ["X1", "x"], ["X1a", "xa"], ["X2", "x"], ["count", "count"], ...(withDw ? [["Dw", "dw"]] : []), ...Object.keys(extra).map((n) => [n, n])];
    for (const [variant, worker] of names) urls[variant] = (await mf.unsafeGetDirectURL(worker)).href.replace(/\/$/, "");

    log("applying migrations and seeding trust relationships");
    const db = await mf.getD1Database("DB", "x");
    await applyMigrations(db, join(root, "migrations"));
    const seed = await seedRelationships(urls.X1, secrets.ADMIN_TOKEN, db, { orgs, projectsPerOrg: 10, relationships: 1000 });

    const x1Body = exchangeBody(await issuer.sign(rwxClaims(PUBLIC_URL, seed.rwxSubject)));
    const pool = new TokenPool(issuer.sign, PUBLIC_URL, seed.githubRepo);
    await pool.fill(initialTokens);

    for (const v of ["A", "C", "D", "X1", "X1a", ...Object.keys(extra)]) await expectOk(urls[v], x1Body, v);
    await expectOk(urls.X2, pool.take(), "X2");
    if (withDw) await expectOk(urls.Dw, pool.take(), "Dw");
    log(`seeded ${seed.relationships} relationships over ${seed.projects} projects; key cache warm after ${outbound.count} outbound requests`);
    return { mf, urls, x1Body, pool, outbound, bundle, seed, stderr, scripts, adminToken: secrets.ADMIN_TOKEN, sign: issuer.sign, db, audit };
  } catch (error) {
    await mf.dispose().catch(() => undefined);
    throw error;
  }
}
