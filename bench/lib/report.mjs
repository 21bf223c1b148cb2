/** Statistics over rounds, the printed table, bench/results.json and the README section. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Quantile with linear interpolation between order statistics (R type 7). */
export function quantile(values, q) {
  const v = values.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

export function summarize(values) {
  return { median: quantile(values, 0.5), q1: quantile(values, 0.25), q3: quantile(values, 0.75), n: values.filter((x) => x !== null).length };
}

const fmt = (x, digits = 2) => (x === null || x === undefined ? "—" : x.toFixed(digits));
const iqr = (s, d = 2) => `${fmt(s.median, d)} [${fmt(s.q1, d)}–${fmt(s.q3, d)}]`;

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r, n) => {
    const line = r.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join("  ");
    return n === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
  }).join("\n");
}

export const VARIANTS = ["A", "C", "D", "X1", "X1a", "X2"];
export const RATIOS = [["X1a", "X1"], ["X1", "D"], ["X2", "D"], ["X1", "C"], ["X2", "C"], ["X1", "A"], ["X2", "A"]];

/** Per-round ratios and per-variant figures, summarized over rounds, for one connection count. */
export function analyze(rounds, connections) {
  const phases = rounds.map((r) => r[connections]).filter(Boolean);
  const per = (variant, field) => phases.map((p) => p[variant]?.[field] ?? null);
  const ratio = (x, y, field) => phases.map((p) => (p[x] && p[y] && p[x][field] && p[y][field] ? p[x][field] / p[y][field] : null));
  const variants = Object.fromEntries(
    VARIANTS.map((v) => [
      v,
      {
        rps: summarize(per(v, "rps")),
        serverCpuMsPerReq: summarize(per(v, "serverCpuMsPerReq")),
        serverCpuUtil: summarize(per(v, "serverCpuUtil")),
        clientCpuUtil: summarize(per(v, "clientCpuUtil")),
        p50: summarize(per(v, "p50")),
        p99: summarize(per(v, "p99")),
      },
    ]),
  );
  const ratios = Object.fromEntries(
    RATIOS.map(([x, y]) => [
      `${x}/${y}`,
      // Throughput ratio, and the inverse ratio of CPU per request (both: higher is better, 1 = as cheap as the reference).
      { throughput: summarize(ratio(x, y, "rps")), cpu: summarize(ratio(y, x, "serverCpuMsPerReq")) },
    ]),
  );
  const p50DeltaX1D = summarize(phases.map((p) => (p.X1?.p50 != null && p.D?.p50 != null ? p.X1.p50 - p.D.p50 : null)));
  const p50DeltaX2D = summarize(phases.map((p) => (p.X2?.p50 != null && p.D?.p50 != null ? p.X2.p50 - p.D.p50 : null)));
  return { rounds: phases.length, variants, ratios, p50DeltaX1D, p50DeltaX2D };
}

/** Issue 12's targets ("closer to the floor"), and issue 10's for the audited exchange. */
export function targetsOf(results) {
  const c32 = results.summary["32"];
  const c1 = results.summary["1"];
  // The upload as wrangler reports it (what deploy:check budgets), else our own gzip of it.
  const bundleKiB = results.bundle.wranglerReport?.gzipKiB ?? results.bundle.gzipBytes / 1024;
  const { x1, x2 } = results.counted;
  const list = [
    { target: "X1a÷X1 throughput ≥ 0.95 (audited, 32 conns)", value: c32?.ratios["X1a/X1"].throughput.median, met: c32?.ratios["X1a/X1"].throughput.median >= 0.95 },
    { target: "X1÷D throughput ≥ 0.95 (32 conns)", value: c32?.ratios["X1/D"].throughput.median, met: c32?.ratios["X1/D"].throughput.median >= 0.95 },
    { target: "X2÷D throughput ≥ 0.9 (32 conns)", value: c32?.ratios["X2/D"].throughput.median, met: c32?.ratios["X2/D"].throughput.median >= 0.9 },
    { target: "p50(X1) ≤ p50(D) + 0.1 ms (1 conn)", value: c1?.p50DeltaX1D.median, unit: "ms", met: c1?.p50DeltaX1D.median <= 0.1 },
    { target: "bundle ≤ 64 KiB gzip (as wrangler reports the upload)", value: bundleKiB, unit: "KiB", met: bundleKiB <= 64 },
    { target: "1 D1 round trip per exchange", value: `X1 ${fmt(x1.d1RoundTripsPerExchange)} / X2 ${fmt(x2.d1RoundTripsPerExchange)}`, met: x1.d1RoundTripsPerExchange === 1 && x2.d1RoundTripsPerExchange === 1 },
    {
      target: "0 outbound requests per exchange",
      value: `X1 ${fmt(x1.outboundPerExchange)} / X2 ${fmt(x2.outboundPerExchange)}; ${results.counted.measuredOutbound} in ${results.counted.measuredExchanges} measured`,
      met: x1.outboundPerExchange === 0 && x2.outboundPerExchange === 0 && results.counted.measuredOutboundPerExchange === 0,
    },
  ];
  return list.map((t) => ({ ...t, met: Boolean(t.met) }));
}

/**
 * Events the consumer wrote against X1a's 200s. Requests still in flight when a phase stops
 * (up to one per connection) are answered and audited but not counted as 200s, so the rows
 * may exceed the count; fewer rows would be lost events.
 */
function auditLine(a) {
  const lost = Math.max(0, a.auditedExchanges - a.rowsWritten);
  return `the consumer wrote ${a.rowsWritten} events for the ${a.auditedExchanges} exchanges the measured X1a phases counted as 200 (plus those in flight at each phase's end); ${lost} lost`;
}

export function render(results) {
  const out = [];
  const m = results.machine;
  out.push(`edge-sts benchmark — ${results.mode}, ${results.config.rounds} round(s), ${results.config.seconds32}s at 32 conns / ${results.config.seconds1}s at 1 conn per phase`);
  out.push(`machine: ${m.cpu} × ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; server pinned to core ${m.pinning.server ?? "—"}, load generator to core ${m.pinning.client ?? "—"}`);
  out.push(`tools: node ${m.tools.node}, wrangler ${m.tools.wrangler}, miniflare ${m.tools.miniflare}, ${m.tools.workerd}, autocannon ${m.tools.autocannon}`);
  out.push("");
  for (const c of ["32", "1"]) {
    const s = results.summary[c];
    if (!s) continue;
    out.push(`${c} connection(s): median [IQR] over ${s.rounds} round(s)`);
    const rows = [["variant", "req/s", "server CPU ms/req", "server CPU util", "client CPU util", "p50 ms", "p99 ms"]];
    for (const v of VARIANTS) {
      const f = s.variants[v];
      rows.push([v, fmt(f.rps.median, 0), fmt(f.serverCpuMsPerReq.median, 3), fmt(f.serverCpuUtil.median, 2), fmt(f.clientCpuUtil.median, 2), fmt(f.p50.median, 3), fmt(f.p99.median, 3)]);
    }
    out.push(table(rows));
    out.push("");
    const ratioRows = [["ratio", "throughput", "CPU/req (inverse)"]];
    for (const [name, r] of Object.entries(s.ratios)) ratioRows.push([name.replace("/", "÷"), iqr(r.throughput), iqr(r.cpu)]);
    out.push(table(ratioRows));
    out.push(`p50(X1) − p50(D): ${iqr(s.p50DeltaX1D, 3)} ms; p50(X2) − p50(D): ${iqr(s.p50DeltaX2D, 3)} ms`);
    out.push("");
  }
  const b = results.bundle;
  out.push(`production bundle (wrangler deploy --dry-run): ${fmt(b.rawBytes / 1024, 1)} KiB raw, ${fmt(b.gzipBytes / 1024, 1)} KiB gzip`);
  out.push(`  largest inputs: ${b.largestInputs.map((i) => `${i.path} ${fmt(i.bytes / 1024, 0)} KiB`).join(", ")}`);
  const k = results.counted;
  for (const [name, x] of [["X1", k.x1], ["X2", k.x2]]) {
    out.push(`${name} counted over ${x.exchanges} exchanges after warm-up: ${fmt(x.d1RoundTripsPerExchange)} D1 round trips (${fmt(x.d1StatementsPerExchange)} statements: ${Object.entries(x.kinds).map(([kind, n]) => `${kind} ${fmt(n / x.exchanges)}`).join(", ")}), ${fmt(x.outboundPerExchange, 3)} outbound requests per exchange`);
  }
  out.push(`outbound requests during all measured X1/X2 phases: ${k.measuredOutbound} over ${k.measuredExchanges} exchanges (warm-up fetched ${k.warmupOutbound})`);
  if (results.audit) out.push(`audit: ${auditLine(results.audit)}`);
  for (const line of results.skipped ?? []) out.push(`skipped: ${line}`);
  out.push("");
  out.push(table([["target", "value", "met"], ...targetsOf(results).map((t) => [t.target, typeof t.value === "number" ? `${fmt(t.value)}${t.unit ? ` ${t.unit}` : ""}` : String(t.value), t.met ? "yes" : "NO"])]));
  return out.join("\n");
}

/** Markdown for README.md's "## Benchmark" section, between markers the bench owns. */
export function readmeSection(results) {
  const m = results.machine;
  const s32 = results.summary["32"];
  const s1 = results.summary["1"];
  const lines = [];
  lines.push(`Latest full run: ${results.finishedAt.slice(0, 10)}, ${results.config.rounds} interleaved rounds, ${results.config.seconds32} s per phase at 32 connections and ${results.config.seconds1} s at 1 connection.`);
  lines.push(`Machine: ${m.cpu}, ${m.cores} cores (shared, noisy), ${m.memoryGiB} GiB, ${m.os}; Node ${m.tools.node}, wrangler ${m.tools.wrangler}, miniflare ${m.tools.miniflare}, ${m.tools.workerd}; workerd pinned to core ${m.pinning.server ?? "—"}, autocannon to core ${m.pinning.client ?? "—"}.`);
  lines.push("");
  lines.push("| ratio (median [IQR]) | throughput, 32 conns | throughput, 1 conn | CPU per request, 32 conns (inverse) |");
  lines.push("|---|---|---|---|");
  for (const name of Object.keys(s32.ratios)) {
    lines.push(`| ${name.replace("/", " ÷ ")} | ${iqr(s32.ratios[name].throughput)} | ${iqr(s1.ratios[name].throughput)} | ${iqr(s32.ratios[name].cpu)} |`);
  }
  lines.push("");
  lines.push("| variant | req/s, 32 conns | server CPU ms/req | p50 ms, 1 conn | p99 ms, 1 conn |");
  lines.push("|---|---|---|---|---|");
  for (const v of VARIANTS) {
    lines.push(`| ${v} | ${fmt(s32.variants[v].rps.median, 0)} | ${fmt(s32.variants[v].serverCpuMsPerReq.median, 3)} | ${fmt(s1.variants[v].p50.median, 3)} | ${fmt(s1.variants[v].p99.median, 3)} |`);
  }
  lines.push("");
  const k = results.counted;
  const upload = results.bundle.wranglerReport;
  lines.push(`Production bundle (minified): ${fmt(results.bundle.rawBytes / 1024, 1)} KiB raw, ${fmt(results.bundle.gzipBytes / 1024, 1)} KiB gzip${upload ? ` (wrangler reports the upload as ${fmt(upload.gzipKiB, 1)} KiB gzip)` : ""}. Counted per audited exchange after warm-up: X1 ${fmt(k.x1.d1RoundTripsPerExchange)} D1 round trip(s) and ${fmt(k.x1.outboundPerExchange)} outbound requests, X2 ${fmt(k.x2.d1RoundTripsPerExchange)} and ${fmt(k.x2.outboundPerExchange)}; ${k.measuredOutbound} outbound requests over all ${k.measuredExchanges} measured exchanges.`);
  if (results.audit) lines.push(`Audit: ${auditLine(results.audit)}.`);
  lines.push("");
  lines.push("Targets are judged on the medians. On this shared machine the IQRs are wide, and the server's CPU time per");
  lines.push("request (less sensitive to other tenants than req/s) is the stricter view of how close the exchange is to D.");
  lines.push("p99 at 32 connections reflects workerd's scheduling and is not a target.");
  lines.push("");
  lines.push("| target | value | met |");
  lines.push("|---|---|---|");
  for (const t of targetsOf(results)) lines.push(`| ${t.target} | ${typeof t.value === "number" ? `${fmt(t.value)}${t.unit ? ` ${t.unit}` : ""}` : t.value} | ${t.met ? "yes" : "**no**"} |`);
  return lines.join("\n");
}

export const README_START = "<!-- bench:results:start (written by npm run bench) -->";
export const README_END = "<!-- bench:results:end -->";

/** Replaces the numbers between the markers; appends a "## Benchmark" section if there is none. */
export function updateReadme(path, body, intro) {
  const block = `${README_START}\n${body}\n${README_END}`;
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start >= 0 && end > start) {
    writeFileSync(path, text.slice(0, start) + block + text.slice(end + README_END.length));
    return "updated";
  }
  const sep = text.length === 0 || text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n";
  writeFileSync(path, `${text}${sep}## Benchmark\n\n${intro}\n\n${block}\n`);
  return "appended";
}
