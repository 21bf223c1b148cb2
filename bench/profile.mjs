#!/usr/bin/env node
/**
 * `node bench/profile.mjs` — where the exchange's time goes beyond the floor (issue 5).
 *
 * Two views, both against the same world as `npm run bench`:
 * 1. Ablations, interleaved at 32 and 1 connections, each worker with the X1 body (RWX, no
 *    jti) and with X2 bodies (GitHub, unique jtis): the real worker as deployed; without its
 *    rate limiter bindings (the code then skips those calls); with console.* dropped at build time (no log line); any `--variant=name=path`
 *    (a patched copy of src/ to try a fix); next to D and Dw (D + the replay write, the floor
 *    of an X2 exchange). ΔCPU against the real worker is what that piece costs per request.
 * 2. A V8 CPU profile (workerd's inspector) of the real worker under X1 and X2 and of D and
 *    Dw at 1 connection: inclusive time of the exchange's stages, self time by source file
 *    and by function. Sampling is wall-clock: trust its proportions, not its microseconds.
 * The audit log's cost is split the same way: X1a (the audit queue bound and consumed, as in
 * the bench) and `audit-send-only` (its producer bound to a queue nobody consumes) against X1.
 * Options: --rounds=N (default 5), --no-ablations, --no-audit, --variant=name=path/to/index.ts,
 * --no-cpu-profile (ablations only, and with workerd's inspector closed: an open inspector
 * makes every console.log keep its message and stack for a debugger, so the log line's
 * cost is measured as production pays it only without one).
 * The real worker runs from an unminified build of src/ (the production bundle is minified,
 * without names), so profiles name functions and source files; the code is the same.
 * Numbers are for finding causes, not for the README; everything is written under bench/.out/.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { WORKER_BUNDLE_OPTIONS } from "./lib/build.mjs";
import { findWorkerdPid, pin, runPhase } from "./lib/load.mjs";
import { summarize } from "./lib/report.mjs";
import { setUp } from "./lib/setup.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "bench", ".out");
const INSPECTOR_PORT = 9330 + Math.floor(Math.random() * 60);
const ROUNDS = Number(process.argv.find((a) => a.startsWith("--rounds="))?.split("=")[1] ?? 5);
const SECONDS = 1.5;
const T0 = performance.now();
const log = (...m) => console.error(`[profile ${((performance.now() - T0) / 1000).toFixed(1)}s]`, ...m);
setTimeout(() => {
  console.error("profile: time limit");
  process.exit(2);
}, 900_000).unref();

const require = createRequire(import.meta.url);
const esbuild = createRequire(require.resolve("wrangler/package.json", { paths: [ROOT] }))("esbuild");
const WebSocket = createRequire(require.resolve("miniflare/package.json", { paths: [ROOT] }))("ws");

/**
 * The real src/index.ts (or `entry`, e.g. a patched copy of src/ to try a fix) bundled like
 * wrangler does, optionally with console.* dropped.
 */
async function buildVariant(name, drop, entry = join(ROOT, "src", "index.ts")) {
  const outfile = join(OUT, "profile", `${name}.js`);
  await esbuild.build({ ...WORKER_BUNDLE_OPTIONS, entryPoints: [entry], outfile, drop });
  return outfile;
}

/** Minimal Chrome DevTools Protocol client over workerd's inspector. */
async function inspector(target) {
  const ws = new WebSocket(`ws://127.0.0.1:${INSPECTOR_PORT}/${target}`);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(data.toString());
    if (message.id && pending.has(message.id)) {
      pending.get(message.id)(message);
      pending.delete(message.id);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** Functions whose inclusive time is reported (the exchange's stages, real and reference). */
const STAGES = [
  "exchangeIssuerRateLimit", "claimedIssuer", "readAtMost", "unverifiedIssuer", "enforceLimit",
  "readOAuthBody", "readCapped", "verifyIdToken", "decodeCompact", "decodeBase64Url", "encodeBase64Url", "keyFor",
  "findCandidatesAndClaim", "fromRow", "authorize", "mintJobToken", "configFrom", "renderError", "stringify", "log",
  "parseBody", "parseBody2", "verifySubject", "jwtVerify", "mint", "sign", "verify", "fetch",
];

/** Self time by source file (the bundle's `// path` markers) and by function. */
function analyzeProfile(profile, scriptPath) {
  const source = readFileSync(scriptPath, "utf8").split("\n");
  const markerAt = [];
  let current = "(bundle)";
  for (const line of source) {
    // A worktree's node_modules may be a symlink: esbuild then names it by its real path (../../main/node_modules/…).
    const m = /^\/\/ (?:(?:\.\.\/)+[^/]+\/)?((?:node_modules|src|bench)\/\S+)$/.exec(line);
    if (m) current = m[1].replace(/^node_modules\/(?:@[^/]+\/)?([^/]+).*/, "$1");
    markerAt.push(current);
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFile = new Map();
  const byFunction = new Map();
  for (const [nodeId, us] of self) {
    const { callFrame } = byId.get(nodeId);
    const inBundle = callFrame.url && scriptPath.endsWith(callFrame.url.split("/").pop());
    const file = inBundle ? markerAt[callFrame.lineNumber] ?? "(bundle)" : callFrame.url ? callFrame.url : callFrame.functionName || "(native)";
    byFile.set(file, (byFile.get(file) ?? 0) + us);
    const fn = `${callFrame.functionName || "(anonymous)"} — ${file}${inBundle ? `:${callFrame.lineNumber + 1}` : ""}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  // Inclusive time: every sample counts once for each distinct function on its stack.
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const inclusive = new Map();
  for (const [nodeId, us] of self) {
    const seen = new Set();
    for (let id = nodeId; id !== undefined; id = parent.get(id)) {
      const name = byId.get(id).callFrame.functionName;
      if (name && !seen.has(name)) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + us);
      }
    }
  }
  const idle = [...self].filter(([id]) => ["(idle)", "(program)"].includes(byId.get(id).callFrame.functionName)).reduce((a, [, us]) => a + us, 0);
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  const stages = STAGES.filter((name) => inclusive.has(name)).map((name) => [name, inclusive.get(name)]);
  return { totalMs: total / 1000, busyMs: (total - idle) / 1000, byFile: top(byFile, 16), byFunction: top(byFunction, 25), stages };
}

async function profileDuring(target, scriptPath, run) {
  const client = await inspector(target);
  await client.send("Profiler.enable");
  await client.send("Profiler.setSamplingInterval", { interval: 50 });
  await client.send("Profiler.start");
  const phase = await run();
  const { result } = await client.send("Profiler.stop");
  client.close();
  mkdirSync(join(OUT, "profile"), { recursive: true });
  writeFileSync(join(OUT, "profile", `${target.replace(/\W/g, "_")}.cpuprofile`), JSON.stringify(result.profile));
  return { phase, ...analyzeProfile(result.profile, scriptPath) };
}

async function main() {
  const args = process.argv.slice(2);
  const cpuProfile = !args.includes("--no-cpu-profile");
  const variants = {};
  if (!args.includes("--no-ablations")) {
    variants["no-limiters"] = { limiters: [] };
    variants["no-log"] = { script: await buildVariant("nolog", ["console"]) };
  }
  // The audit log's cost split: the send alone (a queue nobody consumes) vs X1a (sent and consumed).
  if (!args.includes("--no-audit")) variants["audit-send-only"] = { queue: "send-only" };
  // --variant=name=path/to/index.ts: a patched copy of the worker, measured beside the rest.
  for (const arg of args.filter((a) => a.startsWith("--variant="))) {
    const [name, entry] = arg.slice("--variant=".length).split("=");
    variants[name] = { script: await buildVariant(name, [], entry) };
  }
  const readable = await buildVariant("readable", []);
  const { mf, urls, x1Body, pool } = await setUp({ root: ROOT, out: OUT, log, initialTokens: 2000, extra: variants, withDw: true, inspectorPort: cpuProfile ? INSPECTOR_PORT : undefined, realScript: readable });
  try {
    const serverPid = findWorkerdPid();
    if (serverPid) {
      pin(serverPid, "0");
      pin(process.pid, "1");
    }
    // Each phase: a worker and a body kind (X1: the reusable RWX body; X2: fresh GitHub tokens with jtis).
    const phases = [
      ["D", "D", "x1"], ["X1", "X1", "x1"], ["X1a", "X1a", "x1"], ["Dw", "Dw", "x2"], ["X2", "X2", "x2"],
      ...Object.keys(variants).flatMap((v) => [[`${v}·X1`, v, "x1"], [`${v}·X2`, v, "x2"]]),
    ];
    const bodyOf = (kind) => (kind === "x1" ? { body: x1Body } : { nextBody: () => pool.take() });
    const results = { 32: {}, 1: {} };
    const rate = {};
    for (const [label, worker, kind] of phases) {
      const r = await runPhase({ url: urls[worker], connections: 32, seconds: 0.5, ...bodyOf(kind), serverPid });
      rate[label] = r.rps;
      if (r.failed > 0) throw new Error(`${label}: ${JSON.stringify(r.statuses)}`);
      if (kind === "x2") await pool.fill(2000);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const connections of [32, 1]) {
        const x2Phases = phases.filter(([, , kind]) => kind === "x2").map(([label]) => label);
        await pool.fill(Math.ceil(x2Phases.reduce((sum, l) => sum + Math.max(rate[l], 800) * SECONDS * 1.5, 0)) + 300);
        for (let i = 0; i < phases.length; i++) {
          const [label, worker, kind] = phases[(i + round) % phases.length];
          const r = await runPhase({ url: urls[worker], connections, seconds: SECONDS, ...bodyOf(kind), serverPid });
          if (r.failed > 0) throw new Error(`${label}: ${JSON.stringify(r.statuses)}`);
          if (r.exhausted) log(`${label}: ran out of X2 tokens after ${r.seconds.toFixed(2)} s (measured up to there)`);
          (results[connections][label] ??= []).push(r);
        }
      }
      log(`ablation round ${round + 1}/${ROUNDS}`);
    }
    const f = (x, d = 3) => (x === null || x === undefined ? "—" : x.toFixed(d));
    const iqr = (s, d = 3) => `${f(s.median, d)} [${f(s.q1, d)}…${f(s.q3, d)}]`;
    for (const connections of [32, 1]) {
      const r = results[connections];
      if (!r.X1) continue;
      console.log(`\nAt ${connections} connection(s), ${ROUNDS} rounds × ${SECONDS} s: medians [IQR] of per-round values. Δ vs the real worker with the same body (X1 or X2); ÷ vs D.`);
      console.log(`${"phase".padEnd(26)} ${"req/s".padStart(6)} ${"throughput ÷D".padStart(20)} ${"CPU ms/req".padStart(10)} ${"ΔCPU ms/req".padStart(26)} ${"p50 ms".padStart(7)} ${"Δp50 ms".padStart(26)}`);
      for (const [label, , kind] of phases) {
        const base = kind === "x1" ? r.X1 : r.X2;
        const diff = (field) => summarize(r[label].map((x, i) => x[field] - base[i][field]));
        const ratio = summarize(r[label].map((x, i) => x.rps / r.D[i].rps));
        console.log(
          `${label.padEnd(26)} ${f(summarize(r[label].map((x) => x.rps)).median, 0).padStart(6)} ${iqr(ratio, 2).padStart(20)} ${f(summarize(r[label].map((x) => x.serverCpuMsPerReq)).median).padStart(10)} ${iqr(diff("serverCpuMsPerReq")).padStart(26)} ${f(summarize(r[label].map((x) => x.p50)).median).padStart(7)} ${iqr(diff("p50")).padStart(26)}`,
        );
      }
    }

    if (!cpuProfile) return;
    await pool.fill(3000);
    for (const [label, target, scriptPath, bodyOf] of [
      ["X1 (real worker, RWX token)", "core:user:x", readable, () => ({ body: x1Body })],
      ["X2 (real worker, GitHub tokens with jti)", "core:user:x", readable, () => ({ nextBody: () => pool.take() })],
      ["D (reference floor)", "core:user:d", join(OUT, "bench-workers", "d.js"), () => ({ body: x1Body })],
      ["Dw (reference floor with the replay write, X2 tokens)", "core:user:dw", join(OUT, "bench-workers", "dw.js"), () => ({ nextBody: () => pool.take() })],
    ]) {
      const url = label.startsWith("Dw") ? urls.Dw : label.startsWith("D") ? urls.D : urls.X1;
      const p = await profileDuring(target, scriptPath, () => runPhase({ url, connections: 1, seconds: 3, ...bodyOf(), serverPid }));
      console.log(`\nCPU profile of ${label}: ${p.phase.ok} requests, ${p.totalMs.toFixed(0)} ms sampled in the isolate (${((p.totalMs / p.phase.ok) * 1000).toFixed(0)} µs/request incl. idle)`);
      console.log(`busy (not idle/program): ${((p.busyMs / p.phase.ok) * 1000).toFixed(0)} µs/request`);
      console.log("inclusive time per request by stage (sync parts of each function and its callees):\n  " + p.stages.map(([name, us]) => `${(us / p.phase.ok).toFixed(1).padStart(7)} µs  ${name}`).join("\n  "));
      console.log("self time by source file:\n  " + p.byFile.join("\n  "));
      console.log("top functions (self):\n  " + p.byFunction.join("\n  "));
    }
  } finally {
    await mf.dispose();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`profile failed: ${error?.stack ?? error}`);
    process.exit(1);
  },
);
