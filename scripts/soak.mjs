#!/usr/bin/env node
/**
 * `npm run soak` — exchanges across all four CI providers, half of them hostile, against the
 * production bundle in a local workerd, for a while; and whether the worker's memory levels off.
 *
 * Builds the bundle exactly as deployed (`wrangler deploy --dry-run`), runs it in Miniflare
 * with the fake CI issuer as the network edge, the real migrations, D1 on disk, the rate
 * limits of wrangler.toml, traffic spread over a few egress IPs like a CI fleet's, and the
 * scheduled sweep every minute. Every request has an expected answer (status and wire
 * `error`); the report gives accepted/refused counts against expectation per kind,
 * unexpected answers, 5xx, outbound key fetches, a scan of the worker's log lines for tokens
 * and secrets, and memory:
 *
 * - the worker isolate's V8 heap after a full collection, sampled over the run through
 *   workerd's inspector, at rest (traffic held while in-flight requests finish). A heap
 *   snapshot is what forces that collection: workerd never runs
 *   `HeapProfiler.collectGarbage` (it posts V8's GC task to a runner it does not pump, so
 *   the request goes unanswered and the heap is measured with its garbage). The plateau
 *   check (scripts/plateau.mjs) fits a line through the samples of the run's second half
 *   (the first half is warm-up: JIT, caches filling to their bounds) and fails when the heap
 *   grows there by more than --max-growth bytes per request and by more than 256 KiB in all;
 * - what the traffic left behind: objects born after the snapshot at mid-run and still
 *   alive in the last one, by constructor, with what holds them (the snapshots are written
 *   beside the report and open in DevTools' Memory panel);
 * - workerd's RSS, and how much of it is the worker's heap, the other isolates Miniflare
 *   runs (its D1 object, its entry worker), D1's storage (on disk here, as D1 is its own
 *   service in production) and the rest of workerd (including what heap snapshots cost it).
 *
 *   npm run soak                                   30 s, 16 in flight (a quick check)
 *   npm run soak -- --seconds=600 --concurrency=32 a real soak
 *   npm run soak -- --requests=40000               a number of requests instead of a duration
 *   npm run soak -- --only=valid                   one kind of traffic (valid, or a hostile kind)
 *
 * Other options: --sample-seconds=N (time between heap samples), --max-growth=B (bytes per
 * request, default 16), --max-seconds=N (stop sending after this long, whatever else was
 * asked: default --seconds + 120, or 600 with --requests). Stopping at a budget ends with
 * the report, never a crash. Exits non-zero when anything unexpected happened.
 */
import { Miniflare } from "miniflare";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findWorkerdPid } from "../bench/lib/load.mjs";
import { buildkiteClaims, circleciClaims, githubClaims, ISSUERS, rwxClaims } from "../test/support/ci-claims.mjs";
import { generateDevSecrets } from "../test/support/dev-secrets.mjs";
import { createFakeIssuer } from "../test/support/fake-issuer.mjs";
import { grownGroups, parseSnapshot, summarize, survivors } from "./heap-snapshot.mjs";
import { judgePlateau, PLATEAU_DEFAULTS } from "./plateau.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "bench", ".out", "soak");
const D1_DIR = join(OUT, "d1");

const OPTIONS = ["seconds", "requests", "concurrency", "only", "sample-seconds", "max-growth", "max-seconds"];
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
for (const [name, value] of Object.entries(args)) {
  const numeric = name !== "only";
  if (!OPTIONS.includes(name) || value === undefined || (numeric && !(Number(value) > 0))) {
    console.error(`soak: unknown option or bad value --${name}${value === undefined ? "" : `=${value}`}; options: ${OPTIONS.map((o) => `--${o}=…`).join(" ")}`);
    process.exit(2);
  }
}
/** Without --seconds or --requests, a 30-second run: a developer's quick check. */
const SECONDS = args.seconds !== undefined ? Number(args.seconds) : args.requests !== undefined ? undefined : 30;
const REQUESTS = args.requests !== undefined ? Number(args.requests) : Infinity;
const CONCURRENCY = Number(args.concurrency ?? 16);
/** `--only=valid` or `--only=<hostile kind>`: one kind of traffic, for chasing a finding. */
const ONLY = args.only;
const MAX_SECONDS = Number(args["max-seconds"] ?? (SECONDS !== undefined ? SECONDS + 120 : 600));
/** About 25 samples a run, each a heap snapshot (a second or so, during which the worker waits). */
const SAMPLE_SECONDS = Number(args["sample-seconds"] ?? Math.min(15, Math.max(3, Math.round((SECONDS ?? 120) / 25))));
/**
 * The plateau threshold (scripts/plateau.mjs). A worker that kept 16 bytes per request would
 * need 4 million requests to fill the 64 MiB its 128 MB isolate has to spare; the garbage an
 * exchange makes is some 100 times that, so a real retention stands well clear of the noise.
 */
const PLATEAU = { ...PLATEAU_DEFAULTS, maxBytesPerRequest: Number(args["max-growth"] ?? PLATEAU_DEFAULTS.maxBytesPerRequest) };
const REQUEST_TIMEOUT_MS = 30_000;
const SWEEP_EVERY_MS = 60_000;
const PUBLIC_URL = "https://sts.soak";
const PROVIDERS = Object.keys(ISSUERS);
const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
/** A CI fleet's handful of egress IPs. */
const EGRESS_IPS = Array.from({ length: 8 }, (_, i) => `198.51.100.${10 + i}`);

const T0 = performance.now();
const log = (...m) => console.error(`[soak ${((performance.now() - T0) / 1000).toFixed(1)}s]`, ...m);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let mf;

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


/** Resident memory (KiB) of workerd, found as a child of this process. */
function workerdRssKiB() {
  const pid = findWorkerdPid();
  if (pid === null) return null;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) || null;
  } catch {
    return null; // gone while we looked
  }
}

/** Bytes under a directory (D1's SQLite files and their WAL). */
function diskBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath ?? entry.path, entry.name)).size;
  }
  return total;
}

const mib = (bytes) => (bytes === null || bytes === undefined ? "n/a" : `${(bytes / 1048576).toFixed(1)} MiB`);

// ---------- workerd's inspector ----------

const require = createRequire(import.meta.url);
const WebSocket = createRequire(require.resolve("miniflare/package.json"))("ws");

/** A minimal Chrome DevTools Protocol client for one of workerd's isolates. */
async function inspect(port, target) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/${target}`);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map();
  const listeners = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(data.toString());
    if (message.id !== undefined) {
      pending.get(message.id)?.(message);
      pending.delete(message.id);
    } else listeners.get(message.method)?.(message.params);
  });
  const send = (method, params = {}, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      pending.set(n, resolve);
      ws.send(JSON.stringify({ id: n, method, params }));
      setTimeout(() => {
        if (pending.delete(n)) reject(new Error(`${method}: no answer in ${timeoutMs} ms`));
      }, timeoutMs).unref();
    });
  return { send, on: (method, fn) => listeners.set(method, fn), close: () => ws.close() };
}

/**
 * A heap snapshot of the isolate, which V8 takes after a full, stack-less collection; the
 * heap in use before it (garbage included) and after it. With `keepAs`, the snapshot is written there (DevTools opens it) and its
 * text returned for analysis; otherwise only its node count is read from its header.
 */
async function heapAfterGc(client, keepAs) {
  const chunks = [];
  let header = "";
  client.on("HeapProfiler.addHeapSnapshotChunk", ({ chunk }) => {
    if (header.length < 2048) header += chunk;
    if (keepAs) chunks.push(chunk);
  });
  const before = (await client.send("Runtime.getHeapUsage")).result;
  await client.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 120_000);
  const { result } = await client.send("Runtime.getHeapUsage");
  const text = keepAs ? chunks.join("") : null;
  if (keepAs) writeFileSync(keepAs, text);
  return {
    usedBeforeBytes: before.usedSize,
    usedBytes: result.usedSize,
    committedBytes: result.totalSize,
    nodes: Number(/"node_count":(\d+)/.exec(header)?.[1] ?? 0) || null,
    text,
  };
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

/** Everything the report is made of, filled in as the run goes, so a report can be written at any point. */
const state = {
  phase: "starting",
  stoppedBy: null,
  driveStartedAt: null,
  driveMs: 0,
  sent: 0,
  completed: 0,
  unanswered: 0,
  results: { accepted: 0, refused: 0, expectedAccepted: 0, expectedRefused: 0, unexpected: 0, fiveHundreds: 0, byKind: {}, samples: [] },
  outbound: { warmup: 0, total: 0 },
  logs: { lines: 0, malformed: 0, leaks: 0, sweeps: [] },
  heap: { samples: [], firstSnapshotRssCostKiB: null, snapshots: {} },
  rss: { idleKiB: null, startKiB: null, peakKiB: 0, endKiB: null, timeline: [] },
  memoryAtEnd: null,
  retention: null,
};

async function main() {
  log(`building the production bundle into ${OUT}`);
  mkdirSync(OUT, { recursive: true });
  rmSync(D1_DIR, { recursive: true, force: true });
  const script = build();
  const config = deployedConfig();
  const secrets = await generateDevSecrets();
  const fake = createFakeIssuer();
  const sign = async (issuer, claims, header) => {
    const response = await fake(new Request("http://fake-issuer.control/__control/sign", { method: "POST", body: JSON.stringify({ issuer, claims, header }) }));
    return (await response.json()).token;
  };

  // Tokens seen in the last minute or so: log lines are scanned for them as they arrive,
  // in two generations, so a long soak does not keep every token it ever sent.
  let seenTokens = new Set();
  let seenBefore = new Set();
  const remember = (t) => {
    for (const part of t.split(".")) if (part.length >= 40) seenTokens.add(part);
    return t;
  };
  const rotateSeen = setInterval(() => {
    seenBefore = seenTokens;
    seenTokens = new Set();
  }, 30_000);
  rotateSeen.unref();
  const secretStrings = [secrets.ADMIN_TOKEN, secrets.INTROSPECTION_TOKEN, secrets.TOKEN_HASH_SALT, ...JSON.parse(secrets.SIGNING_KEYS).map((k) => k.d)];
  const checkLine = (line) => {
    state.logs.lines++;
    try {
      const parsed = JSON.parse(line);
      if (typeof parsed.request_id !== "string" || typeof parsed.route !== "string" || !("reason" in parsed) || !parsed.outcome) state.logs.malformed++;
      if (parsed.route?.startsWith("cron ")) state.logs.sweeps.push(parsed);
    } catch {
      state.logs.malformed++;
    }
    if (secretStrings.some((s) => line.includes(s))) state.logs.leaks++;
    for (const run of line.match(/[A-Za-z0-9_-]{40,}/g) ?? []) if (seenTokens.has(run) || seenBefore.has(run)) state.logs.leaks++;
  };

  const inspectorPort = 9400 + Math.floor(Math.random() * 500);
  mf = new Miniflare({
    inspectorPort,
    name: "soak",
    modules: true,
    scriptPath: script,
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    d1Databases: { DB: "edge-sts-soak" },
    // On disk: in production D1 is a service of its own, not memory of the Worker's process.
    d1Persist: D1_DIR,
    ratelimits: config.ratelimits,
    bindings: { ...secrets, PUBLIC_URL, AUDIENCE: PUBLIC_URL },
    outboundService: (request) => {
      state.outbound.total++;
      return fake(request);
    },
    handleRuntimeStdio(stdout, stderr) {
      let pending = "";
      stdout.on("data", (chunk) => {
        const parts = (pending + chunk).split("\n");
        pending = parts.pop();
        for (const line of parts) if (line.trim()) checkLine(line);
      });
      stderr.resume();
    },
  });
  await mf.ready;
  state.rss.idleKiB = workerdRssKiB();
  const db = await mf.getD1Database("DB");
  await applyMigrations(db);
  const worker = await mf.getWorker();

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
  /** The last thousand single-use tokens exchanged, for replays. */
  const spentSingleUse = [];
  const spend = (token) => {
    if (spentSingleUse.length >= 1000) spentSingleUse[Math.floor(Math.random() * 1000)] = token;
    else spentSingleUse.push(token);
  };
  const bad = (status, error) => ({ status, error });
  const OK = { status: 200 };
  const INVALID = bad(400, "invalid_request");

  /** Hostile kinds: each builds a request and names the answer it must get. */
  const HOSTILE = {
    replayed: async () => {
      const token = spentSingleUse.length > 0 ? pick(spentSingleUse) : null;
      if (!token) return null;
      return { init: form(exchangeBody(remember(token))), expect: INVALID };
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
  state.outbound.warmup = state.outbound.total;
  const heapClient = await inspect(inspectorPort, "core:user:soak");
  await heapClient.send("HeapProfiler.enable");
  const others = await otherIsolates(inspectorPort);

  const started = performance.now();
  state.driveStartedAt = started;
  const elapsed = () => performance.now() - started;
  const deadline = SECONDS !== undefined ? SECONDS * 1000 : Infinity;
  const budget = MAX_SECONDS * 1000;
  const stopReason = () => {
    if (state.sent >= REQUESTS) return "requests";
    if (elapsed() >= deadline) return "seconds";
    if (elapsed() >= budget) return `time budget (--max-seconds=${MAX_SECONDS})`;
    return null;
  };
  let driving = true;

  // The heap: one snapshot at the start (kept), one every SAMPLE_SECONDS, the first one past
  // the middle of the run kept too, and the last one after the traffic has stopped.
  const midpointReached = () => (SECONDS !== undefined ? elapsed() >= Math.min(deadline, budget) / 2 : state.sent >= Math.min(REQUESTS, Number.MAX_SAFE_INTEGER) / 2);
  // Each sample is taken at rest: no new request starts and those in flight finish first, so
  // that every sample measures what the worker keeps between requests, not what the requests
  // of the moment hold (16 in flight hold most of a MiB). The snapshot stops the worker anyway.
  let inFlight = 0;
  let paused = null;
  const sampleHeap = async (keepAs) => {
    let resume;
    paused = new Promise((resolve) => (resume = resolve));
    const quiesceBy = performance.now() + REQUEST_TIMEOUT_MS;
    while (inFlight > 0 && performance.now() < quiesceBy) await sleep(5);
    try {
      return await measure(keepAs);
    } finally {
      paused = null;
      resume();
    }
  };
  const measure = async (keepAs) => {
    const before = workerdRssKiB();
    const h = await heapAfterGc(heapClient, keepAs ? join(OUT, `heap-${keepAs}.heapsnapshot`) : null);
    const sample = {
      label: keepAs === "start" || keepAs === "end" ? keepAs : "",
      t: Math.round(elapsed() / 100) / 10,
      requests: state.completed,
      heapBeforeGcKiB: Math.round(h.usedBeforeBytes / 1024),
      heapKiB: Math.round(h.usedBytes / 1024),
      heapCommittedKiB: Math.round(h.committedBytes / 1024),
      nodes: h.nodes,
      othersKiB: Math.round((await othersCommitted(others)) / 1024),
      rssKiB: workerdRssKiB(),
      d1Rows: (await db.prepare("SELECT (SELECT COUNT(*) FROM used_subject_tokens) + (SELECT COUNT(*) FROM revoked_tokens) AS n").first())?.n ?? null,
      d1DiskKiB: Math.round(diskBytes(D1_DIR) / 1024),
    };
    if (state.heap.firstSnapshotRssCostKiB === null) state.heap.firstSnapshotRssCostKiB = (sample.rssKiB ?? 0) - (before ?? 0);
    state.heap.samples.push(sample);
    if (keepAs) state.heap.snapshots[keepAs] = { file: join("bench", ".out", "soak", `heap-${keepAs}.heapsnapshot`), text: h.text };
    return sample;
  };
  state.rss.startKiB = workerdRssKiB();
  await sampleHeap("start");
  log(`driving ${SECONDS !== undefined ? `for ${SECONDS} s` : `${REQUESTS} requests`}, ${CONCURRENCY} in flight, over ${EGRESS_IPS.length} egress IPs; heap sampled every ${SAMPLE_SECONDS} s; workerd RSS ${mib(state.rss.startKiB * 1024)}`);
  const heapSampler = (async () => {
    let keptMid = false;
    while (driving) {
      const wake = performance.now() + SAMPLE_SECONDS * 1000;
      while (driving && performance.now() < wake) await sleep(200);
      if (!driving) break;
      const keep = !keptMid && midpointReached();
      keptMid ||= keep;
      const s = await sampleHeap(keep ? "mid" : null);
      log(`${s.requests} requests: worker heap ${mib(s.heapKiB * 1024)} after GC, workerd RSS ${mib(s.rssKiB * 1024)}, D1 ${s.d1Rows} rows`);
    }
  })().then(
    () => null,
    (error) => error, // kept, and thrown once the traffic has stopped: the run still ends with its report
  );
  const rssSampler = setInterval(() => {
    const rss = workerdRssKiB() ?? 0;
    state.rss.peakKiB = Math.max(state.rss.peakKiB, rss);
    state.rss.timeline.push([Math.round(elapsed()), rss, state.completed]);
  }, 1000);
  // The cron's sweep, compressed: once a minute instead of once an hour.
  const sweeper = setInterval(() => void worker.scheduled({ cron: "17 * * * *" }).catch((error) => log(`sweep failed: ${error.message}`)), SWEEP_EVERY_MS);

  const { results } = state;
  const send = async (item, ip) => {
    let timer;
    try {
      return await Promise.race([call("/token", item.init, ip), new Promise((resolve) => (timer = setTimeout(() => resolve(null), REQUEST_TIMEOUT_MS)))]);
    } catch (error) {
      return { status: 0, body: null, text: `no answer: ${error.message}` };
    } finally {
      clearTimeout(timer);
    }
  };
  const drivers = Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const stop = stopReason();
      if (stop) {
        state.stoppedBy ??= stop;
        return;
      }
      if (paused) {
        await paused;
        continue; // the time may be up meanwhile
      }
      const i = state.sent++;
      const item = await plan(i);
      inFlight++;
      const r = await send(item, EGRESS_IPS[i % EGRESS_IPS.length]);
      inFlight--;
      state.completed++;
      const want = item.expect;
      const k = (results.byKind[item.kind] ??= { sent: 0, asExpected: 0 });
      k.sent++;
      if (want.status === 200) results.expectedAccepted++;
      else results.expectedRefused++;
      if (r === null) {
        state.unanswered++;
        results.unexpected++;
        continue;
      }
      const answers = (w) => r.status === w.status && (w.status === 200 ? typeof r.body?.access_token === "string" : r.body?.error === w.error);
      const retryable = item.or !== undefined && answers(item.or);
      const ok = answers(want) || retryable;
      if (r.status === 200) results.accepted++;
      else results.refused++;
      if (r.status >= 500 && !retryable) results.fiveHundreds++;
      if (ok) k.asExpected++;
      else {
        results.unexpected++;
        if (results.samples.length < 10) results.samples.push({ kind: item.kind, want, got: r.status, body: r.text.slice(0, 200) });
      }
      if (r.status === 200) remember(r.body.access_token);
      if (ok && item.singleUse) spend(item.token);
    }
  });
  // Requests in flight when the traffic stops get REQUEST_TIMEOUT_MS to finish; a hung
  // workerd still ends in a report (the drivers are abandoned, and counted as unanswered).
  const drained = Promise.all(drivers).then(
    () => "drained",
    (error) => error,
  );
  const hangGuard = (async () => {
    while (!stopReason()) await sleep(250);
    await sleep(REQUEST_TIMEOUT_MS + 5000);
    return "hung";
  })();
  const outcome = await Promise.race([drained, hangGuard]);
  if (outcome === "hung") state.unanswered += state.sent - state.completed;
  state.driveMs = elapsed();
  driving = false;
  clearInterval(rssSampler);
  clearInterval(sweeper);
  if (outcome instanceof Error) throw outcome;
  const samplerError = await heapSampler;
  if (samplerError) throw samplerError;
  // One more sweep, so that every run, however short, goes through the scheduled handler.
  await worker.scheduled({ cron: "17 * * * *" }).catch((error) => log(`sweep failed: ${error.message}`));
  log(`traffic stopped (${state.stoppedBy}); last heap sample and snapshot analysis`);

  // The end: a last sample, then what the heap kept, and where workerd's memory is.
  await sampleHeap("end");
  state.rss.endKiB = workerdRssKiB();
  state.rss.peakKiB = Math.max(state.rss.peakKiB, state.rss.endKiB ?? 0);
  heapClient.close();
  for (const { client } of others) client.close();
  state.memoryAtEnd = await memoryBreakdown(inspectorPort, db);
  state.retention = analyzeRetention(state.heap.snapshots);
  clearInterval(rotateSeen);
  state.phase = "done";
}

/** Inspector sessions on the isolates Miniflare runs beside the worker (its entry, its D1 object, …). */
async function otherIsolates(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json().catch(() => []);
  const clients = [];
  for (const { id } of targets) {
    if (id === "core:user:soak") continue;
    try {
      clients.push({ id, client: await inspect(port, id) });
    } catch {
      // an isolate that takes no inspector session; not counted
    }
  }
  return clients;
}

/** Their V8 heaps, committed (no collection is forced there: it is Miniflare's memory, not ours). */
async function othersCommitted(others) {
  let total = 0;
  for (const { client } of others) total += (await client.send("Runtime.getHeapUsage").catch(() => ({ result: { totalSize: 0 } }))).result.totalSize;
  return total;
}

/**
 * workerd's RSS, and the parts of it this run can name. Miniflare's own isolates are
 * measured as they are, then after a full collection of each: V8 lets a heap with room to
 * spare grow with garbage, which is their memory and not the worker's.
 */
async function memoryBreakdown(port, db) {
  const isolates = [];
  for (const { id, client } of await otherIsolates(port)) {
    const before = (await client.send("Runtime.getHeapUsage")).result;
    const after = await heapAfterGc(client, null).catch(() => null);
    client.close();
    isolates.push({
      id,
      committedKiB: Math.round(before.totalSize / 1024),
      liveAfterGcKiB: after ? Math.round(after.usedBytes / 1024) : null,
      committedAfterGcKiB: after ? Math.round(after.committedBytes / 1024) : null,
    });
  }
  const rssAfterGcKiB = workerdRssKiB();
  const last = state.heap.samples.at(-1);
  const rows = await db.prepare("SELECT (SELECT COUNT(*) FROM used_subject_tokens) AS replay, (SELECT COUNT(*) FROM revoked_tokens) AS revoked").first();
  const rssKiB = state.rss.endKiB;
  const othersKiB = isolates.reduce((a, i) => a + i.committedKiB, 0);
  return {
    workerdRssKiB: rssKiB,
    workerHeapUsedKiB: last?.heapKiB ?? null,
    workerHeapCommittedKiB: last?.heapCommittedKiB ?? null,
    otherIsolatesCommittedKiB: othersKiB,
    otherIsolatesLiveAfterGcKiB: isolates.reduce((a, i) => a + (i.liveAfterGcKiB ?? 0), 0),
    otherIsolates: isolates,
    workerdRssAfterTheirGcKiB: rssAfterGcKiB,
    d1: { replayRows: rows?.replay ?? null, revokedRows: rows?.revoked ?? null, diskKiB: Math.round(diskBytes(D1_DIR) / 1024) },
    heapSnapshotsRssCostKiB: state.heap.firstSnapshotRssCostKiB,
    restOfWorkerdKiB: rssKiB === null || !last ? null : rssKiB - last.heapCommittedKiB - othersKiB,
    restOfWorkerdAfterTheirGcKiB:
      rssAfterGcKiB === null || !last ? null : rssAfterGcKiB - last.heapCommittedKiB - isolates.reduce((a, i) => a + (i.committedAfterGcKiB ?? i.committedKiB), 0),
  };
}

/** What the traffic left in the worker's heap between the kept snapshots, by constructor, and what holds it. */
function analyzeRetention(snapshots) {
  const parsed = {};
  for (const [name, { text }] of Object.entries(snapshots)) if (text) parsed[name] = parseSnapshot(text);
  const sums = Object.fromEntries(Object.entries(parsed).map(([name, s]) => [name, summarize(s)]));
  const from = sums.mid ? "mid" : "start";
  if (!sums[from] || !sums.end) return null;
  return {
    from,
    survivors: survivors(parsed[from], parsed.end),
    nodes: Object.fromEntries(Object.entries(sums).map(([k, s]) => [k, s.nodes])),
    shallowKiB: Object.fromEntries(Object.entries(sums).map(([k, s]) => [k, Math.round(s.bytes / 1024)])),
    grown: grownGroups(sums[from], sums.end),
  };
}

/** The report, from whatever the run got to; returns the exit code. */
function finish() {
  const { results } = state;
  const seconds = state.driveMs / 1000;
  const plateau = state.phase === "done" ? judgePlateau(state.heap.samples, state.driveMs / 1000, PLATEAU) : { judged: false, why: `the run ended early (${state.phase})` };
  const report = {
    stoppedBy: state.stoppedBy,
    requests: state.completed,
    seconds: Number(seconds.toFixed(1)),
    perSecond: seconds > 0 ? Math.round(state.completed / seconds) : 0,
    concurrency: CONCURRENCY,
    accepted: results.accepted,
    expectedAccepted: results.expectedAccepted,
    refused: results.refused,
    expectedRefused: results.expectedRefused,
    unexpected: results.unexpected,
    unanswered: state.unanswered,
    fiveHundreds: results.fiveHundreds,
    outboundKeyRequests: { warmup: state.outbound.warmup, duringRun: state.outbound.total - state.outbound.warmup },
    plateau,
    heapSamples: state.heap.samples,
    retention: state.retention,
    memoryAtEnd: state.memoryAtEnd,
    rss: state.rss,
    sweeps: state.logs.sweeps,
    logs: { lines: state.logs.lines, malformed: state.logs.malformed, leaks: state.logs.leaks },
    byKind: results.byKind,
    samples: results.samples,
  };
  writeFileSync(join(OUT, "report.json"), JSON.stringify(report, null, 2));

  const kib = (k) => mib(k === null || k === undefined ? null : k * 1024);
  console.log(`\nsoak: ${state.completed} requests in ${report.seconds} s (${report.perSecond}/s, ${CONCURRENCY} in flight), stopped by ${state.stoppedBy ?? state.phase}`);
  console.log(`  accepted    ${report.accepted} (expected ${report.expectedAccepted})`);
  console.log(`  refused     ${report.refused} (expected ${report.expectedRefused})`);
  console.log(`  unexpected  ${report.unexpected}${state.unanswered ? ` (${state.unanswered} unanswered)` : ""}`);
  console.log(`  5xx         ${report.fiveHundreds}`);
  console.log(`  key fetches ${report.outboundKeyRequests.warmup} during warm-up, ${report.outboundKeyRequests.duringRun} during the run`);
  console.log(`  logs        ${state.logs.lines} lines, ${state.logs.malformed} malformed, ${state.logs.leaks} containing a token or secret`);
  const swept = state.logs.sweeps.reduce((a, l) => a + (l.swept_used_subject_tokens ?? 0) + (l.swept_revoked_tokens ?? 0), 0);
  console.log(`  sweeps      ${state.logs.sweeps.length} run(s), ${swept} expired rows deleted, ${state.logs.sweeps.filter((l) => l.outcome !== "ok").length} failed`);
  console.log("  worker heap after a full GC (heap snapshot), by time:");
  console.log("          t s   requests   heap MiB (before GC)   objects   other isolates MiB   workerd RSS MiB   D1 rows   D1 on disk MiB");
  for (const s of state.heap.samples) {
    console.log(
      `  ${s.label.padEnd(5)}${s.t.toFixed(0).padStart(5)} ${String(s.requests).padStart(10)} ${(s.heapKiB / 1024).toFixed(2).padStart(10)} ${`(${(s.heapBeforeGcKiB / 1024).toFixed(1)})`.padStart(11)} ${String(s.nodes ?? "").padStart(9)} ${(s.othersKiB / 1024).toFixed(1).padStart(20)} ${(s.rssKiB / 1024).toFixed(1).padStart(17)} ${String(s.d1Rows).padStart(9)} ${(s.d1DiskKiB / 1024).toFixed(1).padStart(16)}`,
    );
  }
  if (plateau.judged) {
    console.log(
      `  plateau     ${plateau.plateau ? "yes" : "NO"}: ${plateau.bytesPerRequest} bytes per request over the second half (${plateau.samples} samples, ${plateau.fromSecond}–${plateau.toSecond} s, ${plateau.growthKiB} KiB in all); limit ${PLATEAU.maxBytesPerRequest} bytes per request and ${PLATEAU.minGrowthBytes / 1024} KiB`,
    );
  } else console.log(`  plateau     not judged: ${plateau.why}`);
  if (state.retention) {
    const r = state.retention;
    const born = r.survivors.reduce((a, g) => a + g.bytes, 0);
    console.log(`  kept        objects born after the ${r.from} snapshot and alive at the end, by constructor (shallow size), and what holds them:`);
    for (const g of r.survivors) console.log(`                ${String(g.count).padStart(6)} × ${g.group}  ${(g.bytes / 1024).toFixed(1)} KiB  ← ${g.retainers.join(", ")}`);
    console.log(`              (top groups: ${(born / 1024).toFixed(1)} KiB). Groups that grew in all (new minus gone):`);
    for (const g of r.grown.slice(0, 6)) console.log(`                ${g.count >= 0 ? "+" : ""}${g.count} × ${g.group}  +${(g.bytes / 1024).toFixed(1)} KiB (now ${g.total})`);
  }
  const m = state.memoryAtEnd;
  if (m) {
    console.log(`  memory      workerd RSS ${kib(state.rss.idleKiB)} idle, ${kib(state.rss.startKiB)} at the start, ${kib(state.rss.peakKiB)} peak, ${kib(m.workerdRssKiB)} at the end, of which:`);
    console.log(`                the worker's V8 heap   ${kib(m.workerHeapUsedKiB)} live after GC, ${kib(m.workerHeapCommittedKiB)} committed`);
    console.log(`                Miniflare's isolates   ${kib(m.otherIsolatesCommittedKiB)} committed, of which ${kib(m.otherIsolatesLiveAfterGcKiB)} live after a GC (${m.otherIsolates.map((i) => i.id).join(", ")}); RSS after that GC ${kib(m.workerdRssAfterTheirGcKiB)}`);
    console.log(
      `                the rest of workerd    ${kib(m.restOfWorkerdKiB)} (${kib(m.restOfWorkerdAfterTheirGcKiB)} after that GC: code, allocator, buffers, SQLite's page cache; ${kib(m.heapSnapshotsRssCostKiB)} appeared with the first heap snapshot)`,
    );
    console.log(`              D1: ${m.d1.replayRows} replay records and ${m.d1.revokedRows} revocations, ${kib(m.d1.diskKiB)} on disk (not in RSS)`);
  }
  for (const s of report.samples) console.log(`  ! ${s.kind}: wanted ${JSON.stringify(s.want)}, got ${s.got} ${s.body}`);
  console.log(`  report      ${join("bench", ".out", "soak", "report.json")}${Object.keys(state.heap.snapshots).length ? `; heap snapshots ${Object.values(state.heap.snapshots).map((s) => s.file).join(", ")}` : ""}`);

  const failed =
    state.phase !== "done" ||
    report.unexpected > 0 ||
    report.fiveHundreds > 0 ||
    state.logs.malformed > 0 ||
    state.logs.leaks > 0 ||
    state.logs.sweeps.some((l) => l.outcome !== "ok") ||
    (plateau.judged && !plateau.plateau);
  return failed ? 1 : 0;
}

let code = 1;
try {
  await main();
} catch (error) {
  console.error("soak failed:", error);
  state.phase = `failed: ${error.message}`;
}
try {
  code = finish();
} catch (error) {
  console.error("soak: could not write the report:", error);
}
await mf?.dispose().catch(() => undefined);
process.exit(code);
