#!/usr/bin/env node
/**
 * `npm run soak` — a few thousand exchanges across all four CI providers, half of them
 * hostile, against the production bundle in a local workerd (issue 4 §7).
 *
 * Builds the bundle exactly as deployed (`wrangler deploy --dry-run`), runs it in
 * Miniflare with the fake CI issuer as the network edge, the real migrations, the rate
 * limits of wrangler.toml and traffic spread over a few egress IPs like a CI fleet's.
 * Every request has an expected answer (status and wire `error`); the report gives
 * accepted/refused counts against expectation per kind, unexpected answers, 5xx seen,
 * outbound key fetches, workerd memory at start, peak and end, and a scan of the
 * worker's log lines for tokens and secrets.
 *
 *   npm run soak                      4,000 requests, 16 in flight
 *   npm run soak -- --requests=8000 --concurrency=32
 *   npm run soak -- --only=valid      one kind of traffic (valid, or a hostile kind below)
 *
 * Exits non-zero when anything unexpected happened (or the run exceeds 110 s).
 */
import { Miniflare } from "miniflare";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findWorkerdPid } from "../bench/lib/load.mjs";
import { buildkiteClaims, circleciClaims, githubClaims, ISSUERS, rwxClaims } from "../test/support/ci-claims.mjs";
import { generateDevSecrets } from "../test/support/dev-secrets.mjs";
import { createFakeIssuer } from "../test/support/fake-issuer.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "bench", ".out", "soak");
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const REQUESTS = Number(args.requests ?? 4000);
const CONCURRENCY = Number(args.concurrency ?? 16);
/** `--only=valid` or `--only=<hostile kind>`: one kind of traffic, for chasing a finding. */
const ONLY = args.only;
const TIME_LIMIT_MS = 110_000;
const PUBLIC_URL = "https://sts.soak";
const PROVIDERS = Object.keys(ISSUERS);
const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
/** A CI fleet's handful of egress IPs. */
const EGRESS_IPS = Array.from({ length: 8 }, (_, i) => `198.51.100.${10 + i}`);

const T0 = performance.now();
const log = (...m) => console.error(`[soak ${((performance.now() - T0) / 1000).toFixed(1)}s]`, ...m);
let mf;
const watchdog = setTimeout(async () => {
  console.error(`soak: exceeded ${TIME_LIMIT_MS / 1000} s; stopping`);
  await mf?.dispose().catch(() => undefined);
  process.exit(2);
}, TIME_LIMIT_MS);
watchdog.unref();

// ---------- the world ----------

function build() {
  const result = spawnSync(join(ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", OUT], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 90_000,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
  });
  if (result.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${result.stdout}\n${result.stderr}`);
  return join(OUT, "index.js");
}

/** wrangler.toml's compatibility settings and [[ratelimits]], so the soak runs the deployed limits. */
function deployedConfig() {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const ratelimits = {};
  for (const block of toml.split("[[ratelimits]]").slice(1)) {
    const name = /name\s*=\s*"([^"]+)"/.exec(block)?.[1];
    const simple = /simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/.exec(block);
    if (name && simple) ratelimits[name] = { simple: { limit: Number(simple[1]), period: Number(simple[2]) } };
  }
  return {
    compatibilityDate: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1],
    compatibilityFlags: JSON.parse(/^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(toml)?.[1] ?? "[]"),
    ratelimits,
  };
}

async function applyMigrations(db) {
  const dir = join(ROOT, "migrations");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    const sql = readFileSync(join(dir, file), "utf8").replace(/--[^\n]*/g, "");
    const statements = sql.split(";").map((s) => s.trim()).filter(Boolean);
    await db.batch(statements.map((s) => db.prepare(s)));
  }
}

/** workerd's resident memory (KiB), found as a child of this process. */
function workerdRssKiB() {
  const pid = findWorkerdPid();
  if (pid === null) return null;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) || null;
  } catch {
    return null; // gone while we looked
  }
}
const mib = (kib) => (kib === null ? "n/a" : `${(kib / 1024).toFixed(1)} MiB`);

/**
 * The worker isolate's V8 heap in use (KiB), over workerd's inspector, after asking for a
 * collection. workerd does not acknowledge the request and the number follows the
 * collector's own rhythm (a sawtooth of ±10 MiB even for a worker that does nothing), so
 * it tells the worker's JS heap apart from the rest of workerd's RSS, not a precise floor.
 */
async function heapAfterGcKiB(port, target) {
  // `ws` comes with Miniflare; without it the soak still runs, minus this number.
  const { WebSocket } = await import("ws").catch(() => ({}));
  if (!WebSocket) return null;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/${target}`);
  try {
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    let id = 0;
    const pending = new Map();
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString());
      pending.get(message.id)?.(message);
      pending.delete(message.id);
    });
    const send = (method) =>
      new Promise((resolve, reject) => {
        pending.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params: {} }));
        setTimeout(() => reject(new Error(`${method}: no answer`)), 5000).unref();
      });
    // workerd runs the collection but sends no reply to it; messages are handled in order,
    // so the usage asked for next is measured after it.
    void send("HeapProfiler.collectGarbage").catch(() => undefined);
    const usage = await send("Runtime.getHeapUsage");
    return Math.round(usage.result.usedSize / 1024);
  } catch {
    return null;
  } finally {
    ws.close();
  }
}

// ---------- tokens ----------

const now = () => Math.floor(Date.now() / 1000);
const unique = () => Math.random().toString(36).slice(2, 10);

/** The same claims issued at `t`: iat, nbf and exp moved together. */
function issuedAt(t, claims) {
  const shift = t - claims.iat;
  return { ...claims, iat: t, exp: claims.exp + shift, ...(claims.nbf === undefined ? {} : { nbf: claims.nbf + shift }) };
}

/** One CI job identity per relationship; `claims(t)` gives fresh claims for a new token issued at t. */
function identity(provider) {
  switch (provider) {
    case "github": {
      const job = { owner: `octo-${unique()}`, repository: `repo-${unique()}`, ownerId: String(Date.now()), repositoryId: String(Date.now() + 1) };
      return { relationship: { provider, owner: job.owner, repository: job.repository }, claims: (t) => issuedAt(t, githubClaims(PUBLIC_URL, job)) };
    }
    case "circleci": {
      const org = randomUUID();
      const project = randomUUID();
      return {
        relationship: { provider, organization_uuid: org, project_uuid: project },
        claims: (t) => issuedAt(t, circleciClaims(PUBLIC_URL, org, project)),
      };
    }
    case "buildkite": {
      const job = { org: `org-${unique()}`, pipeline: `pipe-${unique()}` };
      return {
        relationship: { provider, organization_slug: job.org, pipeline_slug: job.pipeline },
        claims: (t) => issuedAt(t, buildkiteClaims(PUBLIC_URL, job)),
      };
    }
    case "rwx": {
      const subject = `mint:${randomUUID()}:vault-${unique()}`;
      return { relationship: { provider, subject }, claims: (t) => issuedAt(t, rwxClaims(PUBLIC_URL, subject)) };
    }
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const b64json = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");

// ---------- main ----------

async function main() {
  log(`building the production bundle into ${OUT}`);
  mkdirSync(OUT, { recursive: true });
  const script = build();
  const config = deployedConfig();
  const secrets = await generateDevSecrets();
  const fake = createFakeIssuer();
  let outbound = 0;
  const sign = async (issuer, claims, header) => {
    const response = await fake(new Request("http://fake-issuer.control/__control/sign", { method: "POST", body: JSON.stringify({ issuer, claims, header }) }));
    return (await response.json()).token;
  };

  const logLines = [];
  const inspectorPort = 9400 + Math.floor(Math.random() * 500);
  mf = new Miniflare({
    inspectorPort,
    name: "soak",
    modules: true,
    scriptPath: script,
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    d1Databases: { DB: "edge-sts-soak" },
    ratelimits: config.ratelimits,
    bindings: { ...secrets, PUBLIC_URL, AUDIENCE: PUBLIC_URL },
    outboundService: (request) => {
      outbound++;
      return fake(request);
    },
    handleRuntimeStdio(stdout, stderr) {
      let pending = "";
      stdout.on("data", (chunk) => {
        const parts = (pending + chunk).split("\n");
        pending = parts.pop();
        for (const line of parts) if (line.trim()) logLines.push(line);
      });
      stderr.resume();
    },
  });
  await mf.ready;
  const db = await mf.getD1Database("DB");
  await applyMigrations(db);

  const call = async (path, init = {}, ip = EGRESS_IPS[0]) => {
    const response = await mf.dispatchFetch(`${PUBLIC_URL}${path}`, { ...init, headers: { "cf-connecting-ip": ip, ...(init.headers ?? {}) } });
    const text = await response.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON; compared as such
    }
    return { status: response.status, body, text };
  };
  const admin = async (method, path, body) => {
    const r = await call(path, { method, headers: { authorization: `Bearer ${secrets.ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (r.status >= 300) throw new Error(`seed ${method} ${path}: ${r.status} ${r.text}`);
    return r.body;
  };

  log("seeding 4 organizations, 20 projects and 20 trust relationships through the admin API");
  const jobs = [];
  for (const provider of PROVIDERS) {
    const org = await admin("POST", "/v1/orgs", { name: `soak-${provider}` });
    for (let i = 0; i < 5; i++) {
      const project = await admin("POST", `/v1/orgs/${org.id}/projects`, { name: `soak-${provider}-${i}` });
      const id = identity(provider);
      await admin("POST", `/v1/projects/${project.id}/trust-relationships`, id.relationship);
      jobs.push({ provider, projectId: project.id, ...id });
    }
  }

  // ---------- the plan: every request with its expected answer ----------

  const exchangeBody = (token, extra = {}) => new URLSearchParams({ grant_type: GRANT, subject_token: token, subject_token_type: ID_TOKEN, ...extra });
  const form = (body) => ({ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  const spentSingleUse = [];
  const seenTokens = new Set();
  const remember = (t) => {
    for (const part of t.split(".")) if (part.length >= 40) seenTokens.add(part);
    return t;
  };
  const bad = (status, error) => ({ status, error });
  const OK = { status: 200 };
  const INVALID = bad(400, "invalid_request");

  /** Hostile kinds: each builds a request and names the answer it must get. */
  const HOSTILE = {
    replayed: async () => {
      const token = spentSingleUse.length > 0 ? pick(spentSingleUse) : null;
      if (!token) return null;
      return { init: form(exchangeBody(token)), expect: INVALID };
    },
    "tampered-signature": async (job) => {
      const claims = job.claims(now());
      const t = remember(await sign(claims.iss, claims));
      const i = t.lastIndexOf(".") + 10;
      const flipped = t.slice(0, i) + (t[i] === "A" ? "B" : "A") + t.slice(i + 1);
      return { init: form(exchangeBody(flipped)), expect: INVALID };
    },
    "respelled-signature": async (job) => {
      const claims = job.claims(now());
      const t = remember(await sign(claims.iss, claims));
      const [h, p, s] = t.split(".");
      const last = B64.indexOf(s.at(-1));
      const variants = [`${h}.${p}.${s}==`, `${h}.${p}.${s.slice(0, -1)}${B64[last ^ 1]}`, `${h}.${p}.${s.replace(/-/g, "+").replace(/_/g, "/")}=`];
      return { init: form(exchangeBody(pick(variants))), expect: INVALID };
    },
    "alg-none": async (job) => {
      const claims = job.claims(now());
      return { init: form(exchangeBody(`${b64json({ alg: "none", typ: "JWT" })}.${b64json(claims)}.`)), expect: INVALID };
    },
    "alg-hs256": async (job) => {
      const claims = job.claims(now());
      return { init: form(exchangeBody(`${b64json({ alg: "HS256", kid: "k" })}.${b64json(claims)}.${Buffer.from(randomUUID()).toString("base64url")}`)), expect: INVALID };
    },
    expired: async (job) => {
      const t = now() - 7200;
      const claims = { ...job.claims(t), exp: t + 300 };
      return { init: form(exchangeBody(remember(await sign(claims.iss, claims)))), expect: INVALID };
    },
    "issued-in-future": async (job) => {
      const claims = job.claims(now() + 600);
      return { init: form(exchangeBody(remember(await sign(claims.iss, claims)))), expect: INVALID };
    },
    "wrong-audience": async (job) => {
      const claims = { ...job.claims(now()), aud: "https://someone-else.example" };
      return { init: form(exchangeBody(remember(await sign(claims.iss, claims)))), expect: INVALID };
    },
    "unknown-issuer": async (job) => {
      const claims = { ...job.claims(now()), iss: "https://evil.example" };
      return { init: form(exchangeBody(remember(await sign(claims.iss, claims)))), expect: INVALID };
    },
    // An unknown kid is retryable (503) until a key set fetched for it lacks it, then 400.
    "random-kid": async (job) => {
      const claims = job.claims(now());
      return { init: form(exchangeBody(remember(await sign(claims.iss, claims, { kid: `random-${randomUUID()}` })))), expect: INVALID, or: bad(503, "temporarily_unavailable") };
    },
    "no-relationship": async (job) => {
      const stranger = identity(job.provider);
      const claims = stranger.claims(now());
      return { init: form(exchangeBody(remember(await sign(claims.iss, claims)))), expect: INVALID };
    },
    "wrong-project": async (job) => {
      const other = pick(jobs.filter((j) => j.projectId !== job.projectId));
      const claims = job.claims(now());
      return { init: form(exchangeBody(remember(await sign(claims.iss, claims)), { audience: other.projectId })), expect: bad(400, "invalid_target") };
    },
    "junk-token": async () => ({ init: form(exchangeBody(pick(["x", "a.b.c", "....", randomUUID(), "eyJ.eyJ.sig"]))), expect: INVALID }),
    "bad-content-type": async () => ({ init: { method: "POST", headers: { "content-type": "text/plain" }, body: "grant_type=x" }, expect: bad(415, "invalid_request") }),
    "oversized-body": async () => ({ init: form(`grant_type=${GRANT}&pad=${"a".repeat(40 * 1024)}`), expect: bad(413, "invalid_request") }),
    "oversized-token": async () => ({ init: form(exchangeBody(`${"a".repeat(9000)}.${"b".repeat(8000)}.c`)), expect: bad(413, "invalid_request") }),
    "wrong-grant": async () => ({ init: form(new URLSearchParams({ grant_type: "client_credentials" })), expect: bad(400, "unsupported_grant_type") }),
    "malformed-json": async () => ({ init: { method: "POST", headers: { "content-type": "application/json" }, body: '{"grant_type":' }, expect: INVALID }),
  };
  const hostileKinds = Object.keys(HOSTILE);

  async function plan(i) {
    const job = pick(jobs);
    if (ONLY === "valid" || (ONLY === undefined && i % 2 === 0)) {
      const claims = job.claims(now());
      const token = remember(await sign(claims.iss, claims));
      return { kind: `valid:${job.provider}`, init: form(exchangeBody(token)), expect: OK, token, singleUse: "jti" in claims };
    }
    const kind = ONLY ?? hostileKinds[Math.floor(i / 2) % hostileKinds.length];
    const built = await HOSTILE[kind](job);
    if (!built) return plan(i - 1); // nothing to replay yet: send a valid one instead
    return { kind, ...built };
  }

  // ---------- drive ----------

  // Warm-up (keys for the four providers' issuers, JIT), then the start-of-run memory.
  for (const job of jobs.slice(0, 20)) {
    const claims = job.claims(now());
    const r = await call("/token", form(exchangeBody(remember(await sign(claims.iss, claims)))));
    if (r.status !== 200) throw new Error(`warm-up exchange for ${job.provider} answered ${r.status}: ${r.text}`);
  }
  const outboundAfterWarmup = outbound;
  const rssStart = workerdRssKiB();
  const heapStart = await heapAfterGcKiB(inspectorPort, "core:user:soak");
  let rssPeak = rssStart ?? 0;
  const timeline = [];
  const sampler = setInterval(() => {
    const rss = workerdRssKiB() ?? 0;
    rssPeak = Math.max(rssPeak, rss);
    timeline.push([Math.round(performance.now() - started), rss, next]);
  }, 1000);

  log(`driving ${REQUESTS} requests, ${CONCURRENCY} in flight, over ${EGRESS_IPS.length} egress IPs; workerd RSS ${mib(rssStart)}`);
  const started = performance.now();
  const results = { accepted: 0, refused: 0, expectedAccepted: 0, expectedRefused: 0, unexpected: 0, fiveHundreds: 0, byKind: {}, samples: [] };
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const item = await plan(i);
        const r = await call("/token", item.init, EGRESS_IPS[i % EGRESS_IPS.length]);
        const answers = (want) => r.status === want.status && (want.status === 200 ? typeof r.body?.access_token === "string" : r.body?.error === want.error);
        const want = item.expect;
        const retryable = item.or !== undefined && answers(item.or);
        const ok = answers(want) || retryable;
        const k = (results.byKind[item.kind] ??= { sent: 0, asExpected: 0 });
        k.sent++;
        if (want.status === 200) results.expectedAccepted++;
        else results.expectedRefused++;
        if (r.status === 200) results.accepted++;
        else results.refused++;
        if (r.status >= 500 && !retryable) results.fiveHundreds++;
        if (ok) k.asExpected++;
        else {
          results.unexpected++;
          if (results.samples.length < 10) results.samples.push({ kind: item.kind, want, got: r.status, body: r.text.slice(0, 200) });
        }
        if (r.status === 200) remember(r.body.access_token);
        if (ok && item.singleUse) spentSingleUse.push(item.token);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const rssEnd = workerdRssKiB();
  const heapEnd = await heapAfterGcKiB(inspectorPort, "core:user:soak");
  rssPeak = Math.max(rssPeak, rssEnd ?? 0);

  // The worker's own log lines: one JSON object per request, and no token or secret in any.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const secretStrings = [secrets.ADMIN_TOKEN, secrets.INTROSPECTION_TOKEN, secrets.TOKEN_HASH_SALT, ...JSON.parse(secrets.SIGNING_KEYS).map((k) => k.d)];
  let badLines = 0;
  let leaks = 0;
  for (const line of logLines) {
    try {
      const parsed = JSON.parse(line);
      if (typeof parsed.request_id !== "string" || typeof parsed.route !== "string" || !("reason" in parsed) || !parsed.outcome) badLines++;
    } catch {
      badLines++;
    }
    if (secretStrings.some((s) => line.includes(s))) leaks++;
    for (const run of line.match(/[A-Za-z0-9_-]{40,}/g) ?? []) if (seenTokens.has(run)) leaks++;
  }

  const report = {
    requests: REQUESTS,
    seconds: Number(seconds.toFixed(1)),
    perSecond: Math.round(REQUESTS / seconds),
    concurrency: CONCURRENCY,
    accepted: results.accepted,
    expectedAccepted: results.expectedAccepted,
    refused: results.refused,
    expectedRefused: results.expectedRefused,
    unexpected: results.unexpected,
    fiveHundreds: results.fiveHundreds,
    outboundKeyRequests: { warmup: outboundAfterWarmup, duringRun: outbound - outboundAfterWarmup },
    memory: {
      workerdRssStartKiB: rssStart,
      workerdRssPeakKiB: rssPeak || null,
      workerdRssEndKiB: rssEnd,
      workerHeapStartKiB: heapStart,
      workerHeapEndKiB: heapEnd,
      nodeRssEndKiB: Math.round(process.memoryUsage().rss / 1024),
      /** [ms since start, workerd RSS KiB, requests started] once a second. */
      timeline,
    },
    logs: { lines: logLines.length, malformed: badLines, leaks },
    byKind: results.byKind,
    samples: results.samples,
  };
  writeFileSync(join(OUT, "report.json"), JSON.stringify(report, null, 2));

  console.log(`\nsoak: ${REQUESTS} requests in ${report.seconds} s (${report.perSecond}/s, ${CONCURRENCY} in flight)`);
  console.log(`  accepted    ${report.accepted} (expected ${report.expectedAccepted})`);
  console.log(`  refused     ${report.refused} (expected ${report.expectedRefused})`);
  console.log(`  unexpected  ${report.unexpected}`);
  console.log(`  5xx         ${report.fiveHundreds}`);
  console.log(`  key fetches ${report.outboundKeyRequests.warmup} during warm-up, ${report.outboundKeyRequests.duringRun} during the run`);
  console.log(`  memory      workerd RSS ${mib(rssStart)} at start, ${mib(rssPeak || null)} peak, ${mib(rssEnd)} at end`);
  console.log(`              of which the worker's V8 heap ${mib(heapStart)} at start, ${mib(heapEnd)} at end (after asking for a GC)`);
  console.log(`  logs        ${logLines.length} lines, ${badLines} malformed, ${leaks} containing a token or secret`);
  console.log("  by kind     " + Object.entries(report.byKind).map(([k, v]) => `${k} ${v.asExpected}/${v.sent}`).join(", "));
  for (const s of report.samples) console.log(`  ! ${s.kind}: wanted ${JSON.stringify(s.want)}, got ${s.got} ${s.body}`);
  console.log(`  report      ${join("bench", ".out", "soak", "report.json")}`);

  const failed = report.unexpected > 0 || report.fiveHundreds > 0 || badLines > 0 || leaks > 0;
  return failed ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error("soak failed:", error);
} finally {
  await mf?.dispose().catch(() => undefined);
}
process.exit(code);
