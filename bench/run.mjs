#!/usr/bin/env node
/**
 * `npm run bench` — the exchange against its physical floor, measured side by side (issue 5).
 *
 * Drives, in one Miniflare (one workerd process, pinned to its own core), the real worker's
 * production bundle and three bench-only reference workers fed the same keys, tokens and
 * D1 seed:
 *   A   Hono route returning constant JSON
 *   C   A + zod-parse the body + jose RS256 verify (in-memory JWKS) + jose ES256 sign
 *   D   C + one indexed D1 select on the real schema — the exchange's floor
 *   X1  the real POST /token with an RWX token (no jti: the same body repeats), no audit queue
 *   X1a X1 with the audit queue bound (wrangler.toml's producer and consumer, batching included):
 *       every exchange is audited, the consumer writing to the same D1
 *   X2  the real POST /token with pre-minted GitHub tokens, each with a unique jti
 * in interleaved rounds at 32 connections and at 1 connection, and reports ratios taken
 * within each round (absolute numbers drift on shared machines; same-round ratios hold).
 *
 * Every worker is reached through its own direct socket on 127.0.0.1 (no wrangler dev
 * proxy, no Miniflare entry worker). The real worker's rate limiter bindings are present
 * but set to 1e9 requests per 60 s so they cost what they cost without ever throttling.
 *
 *   npm run bench               full run (8 rounds), updates bench/results.json and README.md
 *   npm run bench -- --quick    one short round for CI (< 60 s); writes bench/.out/results-quick.json
 *   options: --rounds=N --seconds=S (32-connection phases) --seconds1=S (1-connection phases)
 *
 * Exits non-zero only when the bench cannot run or a worker answers something other than
 * 200 — never because of the numbers.
 */
import { cpus, release, totalmem, type as osType } from "node:os";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { toolVersions } from "./lib/build.mjs";
import { findWorkerdPid, pin, runPhase } from "./lib/load.mjs";
import { costReadmeSection, costReport, measureUsage, renderCost, updateCostReadme } from "./lib/cost.mjs";
import { analyze, readmeSection, render, updateReadme, VARIANTS } from "./lib/report.mjs";
import { PUBLIC_URL, setUp } from "./lib/setup.mjs";

const T0 = performance.now();
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "bench", ".out");

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? true];
  }),
);
const QUICK = Boolean(args.quick);
const CONFIG = {
  rounds: Number(args.rounds ?? (QUICK ? 1 : 8)),
  seconds32: Number(args.seconds ?? (QUICK ? 1 : 2.5)),
  seconds1: Number(args.seconds1 ?? (QUICK ? 1 : 2)),
  warmupSeconds: QUICK ? 0.4 : 1,
  countedExchanges: QUICK ? 50 : 200,
  connections: [32, 1],
};
// Hard stop (a hang is a failure), and in quick mode a soft budget: phases that would not
// finish by QUICK_BUDGET_MS are skipped and reported as such, so CI stays under 60 s.
const TIME_LIMIT_MS = QUICK ? 59_000 : 120_000 + CONFIG.rounds * 5 * (CONFIG.seconds32 + CONFIG.seconds1) * 1000 * 1.6;
const QUICK_BUDGET_MS = 50_000;
const fits = (ms) => !QUICK || performance.now() - T0 + ms < QUICK_BUDGET_MS;

const log = (...m) => console.error(`[bench ${((performance.now() - T0) / 1000).toFixed(1)}s]`, ...m);
let mf;
let world;

const watchdog = setTimeout(async () => {
  console.error(`bench: exceeded its ${TIME_LIMIT_MS / 1000} s time limit; stopping`);
  await mf?.dispose().catch(() => undefined);
  process.exit(2);
}, TIME_LIMIT_MS);
watchdog.unref();

async function main() {
  const machine = {
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    tools: toolVersions(ROOT),
    pinning: { server: null, client: null },
  };

  ({ mf, ...world } = await setUp({ root: ROOT, out: OUT, log, initialTokens: QUICK ? 300 : 1000, orgs: QUICK ? 2 : 10 }));
  const { urls, x1Body, pool, outbound, bundle, seed } = world;
  const warmupOutbound = outbound.count;

  // Pin server and load generator to different cores (the load generator is this process).
  const serverPid = findWorkerdPid();
  if (cpus().length >= 2 && serverPid) {
    if (pin(serverPid, "0")) machine.pinning.server = 0;
    if (pin(process.pid, "1")) machine.pinning.client = 1;
  }
  const spreadForMinting = async (count) => {
    // Minting is RSA signing in WebCrypto's thread pool; the server is idle, so use both cores.
    if (machine.pinning.client !== null) pin(process.pid, "0,1");
    await pool.fill(count);
    if (machine.pinning.client !== null) pin(process.pid, "1");
  };

  const body = (variant) => (variant === "X2" ? { nextBody: () => pool.take() } : { body: x1Body });
  // After an audited phase, let the consumer write its last batch before the next phase runs,
  // so its tail is not charged to another variant.
  const drainAudit = () => new Promise((resolve) => setTimeout(resolve, world.audit.maxBatchTimeout * 1000 + 500));
  const auditRows = async () => (await world.db.prepare("SELECT COUNT(*) AS n FROM audit_events").first()).n;
  const rate = { 32: {}, 1: {} };
  log("warming up every variant");
  for (const connections of CONFIG.connections) {
    for (const v of VARIANTS) {
      const seconds = CONFIG.warmupSeconds;
      if (v === "X2") await spreadForMinting(Math.ceil(Math.max(rate[connections].X1 ?? 0, 800) * seconds * 1.6) + 200);
      const r = await runPhase({ url: urls[v], connections, seconds, ...body(v), serverPid });
      if (v === "X1a") await drainAudit();
      if (r.failed > 0 || r.errors > 0) throw new Error(`warm-up ${v}: ${JSON.stringify(r.statuses)}, ${r.errors} errors`);
      if (r.ok > 0) rate[connections][v] = r.rps;
    }
  }

  if (!fits(20_000)) CONFIG.countedExchanges = 20;
  log(`counting D1 round trips and outbound requests over ${CONFIG.countedExchanges} exchanges each`);
  const counted = await countPerExchange(urls.count, x1Body, pool, outbound, spreadForMinting);
  counted.warmupOutbound = warmupOutbound;
  // What an exchange costs (README "Cost"): D1 rows, database growth, queue messages, the sweep.
  // Before the rounds, so quick mode's time budget accounts for it.
  const usage = await measureUsage({ url: urls.count, adminToken: world.adminToken, sign: world.sign, publicUrl: PUBLIC_URL, x1Body, pool, mint: spreadForMinting, n: QUICK ? 20 : 200, perCandidateCount: QUICK ? 5 : 20, log });

  await drainAudit();
  const rowsBefore = await auditRows();
  let auditedExchanges = 0;
  const rounds = [];
  const skipped = [];
  let measuredExchanges = 0;
  const outboundBefore = outbound.count;
  for (let round = 0; round < CONFIG.rounds; round++) {
    // Rotate the order each round so no variant always runs first or last.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
    const result = {};
    for (const connections of CONFIG.connections) {
      const seconds = connections === 1 ? CONFIG.seconds1 : CONFIG.seconds32;
      if (!fits(VARIANTS.length * seconds * 1000 + world.audit.maxBatchTimeout * 1000 + 3500)) {
        skipped.push(`round ${round + 1} at ${connections} connection(s): out of the quick mode's time budget`);
        log(skipped.at(-1));
        continue;
      }
      const expected = Math.max(rate[connections].X1 ?? 0, rate[connections].X2 ?? 0, 200);
      await spreadForMinting(Math.ceil(expected * seconds * 1.5) + 200);
      result[connections] = {};
      for (const v of order) {
        const r = await runPhase({ url: urls[v], connections, seconds, ...body(v), serverPid });
        if (v === "X1a") {
          auditedExchanges += r.ok;
          await drainAudit();
        }
        if (r.failed > 0 || r.errors > 0) throw new Error(`round ${round + 1} ${v} at ${connections}: ${JSON.stringify(r.statuses)}, ${r.errors} errors`);
        if (v === "X1a") measuredExchanges += r.ok;
        if (v === "X1" || v === "X2") {
          measuredExchanges += r.ok;
          rate[connections][v] = Math.max(rate[connections][v] ?? 0, r.rps);
        }
        result[connections][v] = r;
      }
      log(`round ${round + 1}/${CONFIG.rounds}, ${String(connections).padStart(2)} conn: ${order.map((v) => `${v} ${result[connections][v].rps.toFixed(0)}/s`).join("  ")}`);
    }
    rounds.push(result);
  }
  await drainAudit();
  const audit = { auditedExchanges, rowsWritten: (await auditRows()) - rowsBefore, batch: { maxBatchSize: world.audit.maxBatchSize, maxBatchTimeout: world.audit.maxBatchTimeout } };
  counted.measuredOutbound = outbound.count - outboundBefore;
  counted.measuredExchanges = measuredExchanges;
  counted.measuredOutboundPerExchange = measuredExchanges > 0 ? counted.measuredOutbound / measuredExchanges : null;

  const results = {
    mode: QUICK ? "quick" : "full",
    finishedAt: new Date().toISOString(),
    machine,
    skipped,
    config: { ...CONFIG, rateLimiters: "present, 1e9 requests / 60 s (never throttle)", seed: { projects: seed.projects, relationships: seed.relationships }, x2TokensMinted: pool.minted },
    bundle,
    counted,
    audit,
    summary: Object.fromEntries(CONFIG.connections.map((c) => [String(c), analyze(rounds, c)])),
    rounds,
  };
  results.cost = costReport(usage, results.summary);
  console.log(render(results));
  console.log(`\n${renderCost(results.cost)}`);
  mkdirSync(OUT, { recursive: true });
  if (QUICK) {
    writeFileSync(join(OUT, "results-quick.json"), JSON.stringify(results, null, 2));
  } else {
    writeFileSync(join(ROOT, "bench", "results.json"), JSON.stringify(results, null, 2) + "\n");
    const how = updateReadme(join(ROOT, "README.md"), readmeSection(results), README_INTRO);
    log(`wrote bench/results.json; README.md benchmark numbers ${how}`);
    if (!updateCostReadme(join(ROOT, "README.md"), costReadmeSection(results.cost, results))) log("README.md has no cost markers; cost numbers not written");
  }
  if (world.stderr.tail.trim()) log(`workerd stderr (tail):\n${world.stderr.tail.trim().slice(-1000)}`);
}

/**
 * D1 round trips, by the counting entry (the real app with env.DB wrapped), and outbound
 * requests, at the fake issuer, over N exchanges of each kind after a warm-up.
 */
async function countPerExchange(url, x1Body, pool, outbound, mint) {
  const n = CONFIG.countedExchanges;
  await mint(n + 20);
  const post = async (body) => {
    const response = await fetch(`${url}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`counting exchange answered ${response.status}: ${text.slice(0, 200)}`);
  };
  for (let i = 0; i < 10; i++) {
    await post(x1Body);
    await post(pool.take());
  }
  const measure = async (nextBody) => {
    await fetch(`${url}/__bench/d1/reset`, { method: "POST" });
    const before = outbound.count;
    let left = n;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (left-- > 0) await post(nextBody());
    }));
    const d1 = await (await fetch(`${url}/__bench/d1`)).json();
    return {
      exchanges: n,
      d1RoundTripsPerExchange: d1.roundTrips / n,
      d1StatementsPerExchange: d1.statements / n,
      d1BatchesPerExchange: d1.batches / n,
      kinds: d1.kinds,
      outbound: outbound.count - before,
      outboundPerExchange: (outbound.count - before) / n,
    };
  };
  return { x1: await measure(() => x1Body), x2: await measure(() => pool.take()) };
}

const README_INTRO = [
  "`npm run bench` measures the exchange against its physical floor in one run, so the ratios",
  "hold even though absolute numbers on shared machines drift. It builds the production bundle",
  "(`wrangler deploy --dry-run`) and bench-only reference workers (bench/reference/: **A** Hono",
  "constant JSON, **C** zod + jose RS256 verify + ES256 sign, **D** C plus one indexed D1",
  "select), runs them all in one Miniflare on direct sockets, seeds 1,000 trust relationships,",
  "warms the key cache, and drives interleaved rounds of [A, C, D, X1, X1a, X2] with autocannon",
  "at 32 connections and at 1 connection (workerd and the load generator pinned to different",
  "cores). X1 is `POST /token` with a reusable RWX token and no audit queue bound; X1a is the",
  "same with the audit queue of wrangler.toml bound (its real local producer and consumer,",
  "production batching, the consumer writing to the same D1); X2 uses pre-minted GitHub tokens",
  "with unique `jti`s, so every request also writes its replay record. The real worker's rate",
  "limiters are bound but set to 1e9 requests per 60 s. D1 round trips are counted by a",
  "bench-only entry that wraps `env.DB` around the real app, audit queue bound (bench/count-entry.ts); outbound",
  "requests are counted at the fake CI issuer. Latest numbers and the machine are below;",
  "`bench/results.json` has every round. `npm run bench -- --quick` is one short round for CI",
  "(it fails only if the bench cannot run, never on its numbers). `node bench/profile.mjs` finds",
  "causes: interleaved ablations (no rate limiter bindings, no log line, patched copies of",
  "src/) and V8 CPU profiles of the real worker and the references through workerd's inspector.",
].join("\n");

main()
  .then(async () => {
    await mf?.dispose();
    process.exit(0);
  })
  .catch(async (error) => {
    console.error(`bench failed: ${error?.stack ?? error}`);
    await mf?.dispose().catch(() => undefined);
    process.exit(1);
  });
