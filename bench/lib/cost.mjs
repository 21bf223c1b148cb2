/**
 * Cost per 10⁶ exchanges, from what the bench measures: server CPU per request (the rounds),
 * and D1 rows read and written, database growth and queue messages per request (counted by
 * bench/count-entry.ts around the real app), priced with bench/lib/prices.mjs.
 *
 * measureUsage() is a bench phase: sequential requests to the counting worker for X1
 * (reusable token, no jti), X2 (a jti per token: one replay record written), a revocation,
 * exchanges whose project has 1, 10 and 100 relationships naming the job, and one run of the
 * replay sweep. costReport() turns that and the rounds' CPU into dollars; it is pure.
 * It does not model retries, failed requests, the admin API or the settings page.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { PRICES, SECONDS_PER_MONTH } from "./prices.mjs";
import { exchangeBody, rwxClaims } from "./tokens.mjs";

export const CANDIDATE_COUNTS = [1, 10, 100];
export const VOLUMES = [1e6, 1e7, 1e8, 1e9];

/**
 * How long a replay record stays: until the ID token's `exp` plus 60 s of clock tolerance,
 * then until the hourly sweep (cron "17 * * * *") removes it, half an hour later on average.
 * GitHub's and Buildkite's ID tokens live 5 minutes; the providers' cap is 1 hour.
 */
export const REPLAY_RESIDENCE_S = { typical: 300 + 60 + 1800, worst: 3600 + 60 + 3600 };

const NUMERIC = ["roundTrips", "statements", "rowsRead", "rowsWritten", "uncounted"];

function perRequest(before, after, n) {
  const out = Object.fromEntries(NUMERIC.map((k) => [k, (after[k] - before[k]) / n]));
  out.queueMessages = (after.queue.messages - before.queue.messages) / n;
  out.queueBytes = (after.queue.bytes - before.queue.bytes) / n;
  out.queueOperations = (after.queue.operations - before.queue.operations) / n;
  out.databaseGrowthBytes = after.sizeAfter !== null && before.sizeAfter !== null ? (after.sizeAfter - before.sizeAfter) / n : null;
  return out;
}

/** The bench phase. `pool` gives fresh X2 bodies; `sign` signs claims at the fake issuer. */
export async function measureUsage({ url, adminToken, sign, publicUrl, x1Body, pool, mint, n = 100, perCandidateCount = 20, log = () => {} }) {
  const counts = async () => (await fetch(`${url}/__bench/d1`)).json();
  const reset = () => fetch(`${url}/__bench/d1/reset`, { method: "POST" });
  const post = async (path, body, expected = 200) => {
    const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    const text = await response.text();
    if (response.status !== expected) throw new Error(`cost: POST ${path} answered ${response.status}: ${text.slice(0, 200)}`);
    return text;
  };
  const admin = async (path, body) => {
    const response = await fetch(`${url}${path}`, { method: "POST", headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const json = await response.json();
    if (response.status !== 201) throw new Error(`cost: POST ${path} answered ${response.status}: ${JSON.stringify(json)}`);
    return json;
  };
  /** One request first (so the database size is known), then `count` more, measured. */
  const measure = async (count, next) => {
    await reset();
    await next();
    const before = await counts();
    for (let i = 0; i < count; i++) await next();
    return perRequest(before, await counts(), count);
  };

  await mint(n + perCandidateCount + 10);
  log(`cost: counting D1 rows and queue messages over ${n} exchanges of each kind`);
  const x1 = await measure(n, () => post("/token", x1Body));
  const minted = [];
  const x2 = await measure(n, async () => minted.push(JSON.parse(await post("/token", pool.take())).access_token));
  const revoke = await measure(Math.min(n, minted.length - 1), () => post("/revoke", new URLSearchParams({ token: minted.pop() }).toString()));

  log(`cost: exchanges whose project has ${CANDIDATE_COUNTS.join(", ")} relationships naming the job`);
  const org = await admin("/v1/orgs", { name: "bench-cost" });
  const candidates = [];
  for (const relationships of CANDIDATE_COUNTS) {
    const project = await admin(`/v1/orgs/${org.id}/projects`, { name: `bench-cost-${relationships}` });
    const subject = `mint:${randomUUID()}:cost-${relationships}`;
    // Eight at a time: the seed is set-up, not measurement.
    for (let i = 0; i < relationships; i += 8) {
      await Promise.all(Array.from({ length: Math.min(8, relationships - i) }, (_, j) => admin(`/v1/projects/${project.id}/trust-relationships`, { provider: "rwx", subject, description: `cost ${i + j}` })));
    }
    const body = `${exchangeBody(await sign(rwxClaims(publicUrl, subject)))}&audience=${project.id}`;
    candidates.push({ relationships, ...(await measure(perCandidateCount, () => post("/token", body))) });
  }

  // Queue messages reach a consumer asynchronously (after its batch timeout): wait for what
  // was sent, unless nothing arrives at all, i.e. the counting worker does not consume.
  let consumer = null;
  const sent = (await counts()).queue.messages;
  if (x1.queueMessages > 0 || x2.queueMessages > 0) {
    const started = Date.now();
    let c = await counts();
    while (c.consumer.messages < sent && Date.now() - started < (c.consumer.invocations > 0 ? 10_000 : 3_000)) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      c = await counts();
    }
    if (c.consumer.messages > 0) {
      consumer = { messages: c.consumer.messages, invocationsPerMessage: c.consumer.invocations / c.consumer.messages, rowsWrittenPerMessage: c.consumer.rowsWritten / c.consumer.messages, rowsReadPerMessage: c.consumer.rowsRead / c.consumer.messages };
    }
  }

  log("cost: one run of the replay sweep over every record written so far");
  await reset();
  const { sweep } = await (await fetch(`${url}/__bench/sweep`, { method: "POST" })).json();
  return {
    exchanges: n,
    x1,
    x2,
    revoke,
    candidates,
    consumer,
    sweep: { deleted: sweep.deleted, rowsWritten: sweep.rowsWritten, rowsWrittenPerDeletedRow: sweep.deleted > 0 ? sweep.rowsWritten / sweep.deleted : null },
  };
}

// ---------------------------------------------------------------------------------------
// Money

const over = (used, included) => Math.max(0, used - included);

/** Dollars for one month of `volume` requests of `units` each, after the plan's inclusions; `storageBytes` at steady state. */
export function monthlyCost(units, volume, storageBytes = 0) {
  const w = PRICES.workers;
  const d = PRICES.d1;
  const q = PRICES.queues;
  const lines = {
    base: w.baseUsdPerMonth,
    requests: (over(volume * units.requests, w.requests.includedPerMonth) / 1e6) * w.requests.usdPerMillion,
    cpu: (over(volume * units.cpuMs, w.cpuMs.includedPerMonth) / 1e6) * w.cpuMs.usdPerMillion,
    rowsRead: (over(volume * units.rowsRead, d.rowsRead.includedPerMonth) / 1e6) * d.rowsRead.usdPerMillion,
    rowsWritten: (over(volume * units.rowsWritten, d.rowsWritten.includedPerMonth) / 1e6) * d.rowsWritten.usdPerMillion,
    storage: over(storageBytes / 1e9, d.storageGb.included) * d.storageGb.usdPerGbMonth,
    queues: (over(volume * units.queueOperations, q.operations.includedPerMonth) / 1e6) * q.operations.usdPerMillion,
  };
  return { ...lines, total: Object.values(lines).reduce((a, b) => a + b, 0) };
}

/** Dollars per 10⁶ requests once every inclusion is used up: what one more million costs. */
export function marginalCostPerMillion(units) {
  const lines = {
    requests: units.requests * PRICES.workers.requests.usdPerMillion,
    cpu: units.cpuMs * PRICES.workers.cpuMs.usdPerMillion,
    rowsRead: units.rowsRead * PRICES.d1.rowsRead.usdPerMillion,
    rowsWritten: units.rowsWritten * PRICES.d1.rowsWritten.usdPerMillion,
    queues: units.queueOperations * PRICES.queues.operations.usdPerMillion,
  };
  return { ...lines, total: Object.values(lines).reduce((a, b) => a + b, 0) };
}

/** Replay records held at steady state for `volume` jti-carrying exchanges a month, and their bytes. */
export function replayStorage(volume, bytesPerRow, residenceS) {
  const rows = (volume / SECONDS_PER_MONTH) * residenceS;
  return { rows, bytes: rows * (bytesPerRow ?? 0) };
}

const median = (s) => s?.median ?? null;

/**
 * The cost of each kind of exchange. CPU: the rounds' server CPU per request at 32
 * connections (all of workerd: an upper bound, since it includes local D1's SQLite work,
 * which Cloudflare runs and bills as D1, not as Worker CPU), and an estimate without it:
 * X − (D − C), D − C being what one D1 query costs the reference in the same rounds.
 */
export function costReport(usage, summary) {
  const v = summary?.["32"]?.variants;
  const cpu = (x) => median(v?.[x]?.serverCpuMsPerReq);
  const d1Cpu = cpu("D") !== null && cpu("C") !== null ? cpu("D") - cpu("C") : null;
  const sweepPerRow = usage.sweep.rowsWrittenPerDeletedRow ?? 1;
  const consumer = usage.consumer;
  const kind = (name, x, replayRows) => {
    const cpuUpper = cpu(name) ?? 0;
    const queueMessages = x.queueMessages;
    const units = {
      // A queue consumer invocation (a batch) is a Worker request too.
      requests: 1 + (consumer ? queueMessages * consumer.invocationsPerMessage : 0),
      cpuMs: cpuUpper,
      rowsRead: x.rowsRead + (consumer ? queueMessages * consumer.rowsReadPerMessage : 0),
      rowsWritten: x.rowsWritten + replayRows * sweepPerRow + (consumer ? queueMessages * consumer.rowsWrittenPerMessage : 0),
      queueOperations: x.queueOperations,
    };
    return {
      name,
      units,
      cpuEstimateWithoutD1Ms: d1Cpu !== null && cpu(name) !== null ? Math.max(0, cpu(name) - d1Cpu) : null,
      margin: marginalCostPerMillion(units),
      monthly: VOLUMES.map((volume) => {
        const storage = replayRows > 0 ? replayStorage(volume * replayRows, usage.x2.databaseGrowthBytes, REPLAY_RESIDENCE_S.typical) : { rows: 0, bytes: 0 };
        return { volume, storage, cost: monthlyCost(units, volume, storage.bytes) };
      }),
    };
  };
  const x1 = kind("X1", usage.x1, 0);
  const x2 = kind("X2", usage.x2, 1);
  // A job that revokes its token at the end (the CLI's exec, the Action) adds one request and a revocation record, swept later.
  const revokeUnits = { requests: 1, cpuMs: 0, rowsRead: usage.revoke.rowsRead, rowsWritten: usage.revoke.rowsWritten + sweepPerRow, queueOperations: usage.revoke.queueOperations };
  return {
    prices: PRICES.recorded,
    exchangesCounted: usage.exchanges,
    x1,
    x2,
    revoke: { units: revokeUnits, margin: marginalCostPerMillion(revokeUnits) },
    candidates: usage.candidates.map((c) => ({ relationships: c.relationships, rowsRead: c.rowsRead, rowsWritten: c.rowsWritten, usdPerMillionRowsRead: c.rowsRead * PRICES.d1.rowsRead.usdPerMillion })),
    replay: {
      bytesPerRow: usage.x2.databaseGrowthBytes,
      sweepRowsWrittenPerRow: usage.sweep.rowsWrittenPerDeletedRow,
      residenceS: REPLAY_RESIDENCE_S,
      atBillion: replayStorage(1e9, usage.x2.databaseGrowthBytes, REPLAY_RESIDENCE_S.typical),
      atBillionWorst: replayStorage(1e9, usage.x2.databaseGrowthBytes, REPLAY_RESIDENCE_S.worst),
    },
    consumer,
    uncounted: usage.x1.uncounted + usage.x2.uncounted,
  };
}

// ---------------------------------------------------------------------------------------
// Rendering

const usd = (x) => (x === null || x === undefined ? "—" : x >= 100 ? `$${x.toFixed(0)}` : x >= 1 ? `$${x.toFixed(2)}` : `$${x.toFixed(3)}`);
const num = (x, d = 2) => (x === null || x === undefined ? "—" : x.toFixed(d));
const sup = (v) => `10${["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"][Math.round(Math.log10(v))]}`;
const bytes = (b) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(0)} MB` : `${(b / 1e3).toFixed(0)} kB`);

function unitsLine(k) {
  const u = k.units;
  return `${num(u.requests, 2)} requests, ${num(u.cpuMs, 3)} CPU ms (≈ ${num(k.cpuEstimateWithoutD1Ms, 3)} without local D1), ${num(u.rowsRead, 1)} rows read, ${num(u.rowsWritten, 2)} rows written, ${num(u.queueOperations, 2)} queue operations`;
}

/** The bench's printed cost block. */
export function renderCost(report) {
  const out = [`cost (prices of ${report.prices}, bench/lib/prices.mjs), counted over ${report.exchangesCounted} exchanges of each kind:`];
  for (const k of [report.x1, report.x2]) {
    out.push(`  ${k.name} per exchange: ${unitsLine(k)}`);
    out.push(`  ${k.name} per 10⁶ exchanges at the margin: ${usd(k.margin.total)} (requests ${usd(k.margin.requests)}, CPU ${usd(k.margin.cpu)}, rows read ${usd(k.margin.rowsRead)}, rows written ${usd(k.margin.rowsWritten)}, queues ${usd(k.margin.queues)})`);
    out.push(`  ${k.name} per month: ${k.monthly.map((m) => `${sup(m.volume)} → ${usd(m.cost.total)}`).join(", ")}`);
  }
  out.push(`  revocation at job end: +${usd(report.revoke.margin.total)} per 10⁶ (${num(report.revoke.units.rowsWritten, 2)} rows written incl. its sweep)`);
  out.push(`  rows read per exchange with 1/10/100 relationships naming the job: ${report.candidates.map((c) => num(c.rowsRead, 1)).join(" / ")}`);
  out.push(`  replay record: ${num(report.replay.bytesPerRow, 0)} bytes of database, its sweep writes ${num(report.replay.sweepRowsWrittenPerRow, 2)} rows; at 10⁹ jti exchanges a month ${Math.round(report.replay.atBillion.rows).toLocaleString("en-US")} records, ${bytes(report.replay.atBillion.bytes)}`);
  if (report.uncounted > 0) out.push(`  note: ${report.uncounted} D1 calls per exchange reported no row counts (raw/exec)`);
  return out.join("\n");
}

/** Markdown for README.md's "## Cost" section, between markers the bench owns. */
export function costReadmeSection(report, results) {
  const lines = [];
  lines.push(`Measured ${results.finishedAt.slice(0, 10)} (the full bench run above; ${report.exchangesCounted} counted exchanges of each kind), priced as of ${report.prices}.`);
  lines.push("");
  lines.push("| per exchange | reusable token (X1: CircleCI, RWX) | token with `jti` (X2: GitHub, Buildkite) |");
  lines.push("|---|---|---|");
  const row = (label, f) => lines.push(`| ${label} | ${f(report.x1)} | ${f(report.x2)} |`);
  row("Worker requests", (k) => num(k.units.requests, 2));
  row("server CPU ms (upper bound: all of local workerd)", (k) => num(k.units.cpuMs, 3));
  row("CPU ms without local D1 (estimate: X − (D − C))", (k) => num(k.cpuEstimateWithoutD1Ms, 3));
  row("D1 rows read", (k) => num(k.units.rowsRead, 1));
  row("D1 rows written (incl. the sweep's delete)", (k) => num(k.units.rowsWritten, 2));
  row("queue operations", (k) => num(k.units.queueOperations, 2));
  row("**$ per 10⁶ exchanges at the margin**", (k) => `**${usd(k.margin.total)}**`);
  row("of which requests / CPU / rows read / rows written / queues", (k) => [k.margin.requests, k.margin.cpu, k.margin.rowsRead, k.margin.rowsWritten, k.margin.queues].map(usd).join(" / "));
  lines.push("");
  lines.push("| exchanges per month | all reusable: $ per month | per 10⁶ | all with `jti`: $ per month | per 10⁶ | replay records held (`jti`) |");
  lines.push("|---|---|---|---|---|---|");
  report.x1.monthly.forEach((a, i) => {
    const b = report.x2.monthly[i];
    lines.push(`| ${sup(a.volume)} | ${usd(a.cost.total)} | ${usd((a.cost.total / a.volume) * 1e6)} | ${usd(b.cost.total)} | ${usd((b.cost.total / b.volume) * 1e6)} | ${Math.round(b.storage.rows).toLocaleString("en-US")} (${bytes(b.storage.bytes)}) |`);
  });
  lines.push("");
  lines.push("| relationships of the project naming the job | 1 | 10 | 100 |");
  lines.push("|---|---|---|---|");
  lines.push(`| D1 rows read per exchange | ${report.candidates.map((c) => num(c.rowsRead, 1)).join(" | ")} |`);
  lines.push(`| $ per 10⁶ exchanges for those reads, at the margin | ${report.candidates.map((c) => usd(c.usdPerMillionRowsRead)).join(" | ")} |`);
  lines.push("");
  lines.push(
    `A replay record takes ${num(report.replay.bytesPerRow, 0)} bytes of database (row and expiry index, as D1's \`size_after\` grew), ` +
      `its sweep writes ${num(report.replay.sweepRowsWrittenPerRow, 2)} row(s) more. A revocation at the end of a job (the CLI's \`exec\`, the Action) ` +
      `adds ${num(report.revoke.units.requests, 0)} request and ${num(report.revoke.units.rowsWritten, 2)} rows written with its sweep: +${usd(report.revoke.margin.total)} per 10⁶ at the margin.` +
      (report.consumer ? ` Audit: ${num(report.consumer.rowsWrittenPerMessage, 2)} rows written and ${num(report.consumer.invocationsPerMessage, 3)} consumer invocations per event, included above.` : ""),
  );
  return lines.join("\n");
}

export const COST_START = "<!-- bench:cost:start (written by npm run bench) -->";
export const COST_END = "<!-- bench:cost:end -->";

/** Replaces the numbers between the cost markers; false when the README has no such markers. */
export function updateCostReadme(path, body) {
  if (!existsSync(path)) return false;
  const text = readFileSync(path, "utf8");
  const start = text.indexOf(COST_START);
  const end = text.indexOf(COST_END);
  if (start < 0 || end < start) return false;
  writeFileSync(path, text.slice(0, start) + `${COST_START}\n${body}\n${COST_END}` + text.slice(end + COST_END.length));
  return true;
}
