/**
 * One measured phase: autocannon against 127.0.0.1 for a few seconds, with the exact
 * (sub-millisecond) latency of every response and the server's CPU time over the phase.
 *
 * Latency comes from autocannon's per-response event (hrtime, float ms), not from its
 * histogram, which keeps whole milliseconds only. Server CPU is the workerd process's
 * utime + stime from /proc, all threads (the worker isolates and D1's SQLite live there).
 */
import autocannon from "autocannon";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

/** utime + stime of a process, in seconds; null where /proc is unavailable. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** The workerd child Miniflare started (the only child of this process named workerd). */
export function findWorkerdPid(parent = process.pid) {
  if (!existsSync("/proc")) return null;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent && comm.startsWith("workerd")) return Number(entry);
    } catch {
      // The process went away while we looked.
    }
  }
  return null;
}

/** Pins every thread of `pid` to `cores` ("0", "1", "0,1"); false if taskset is missing or fails. */
export function pin(pid, cores) {
  const result = spawnSync("taskset", ["-a", "-p", "-c", cores, String(pid)], { encoding: "utf8", timeout: 5000 });
  return result.status === 0;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/**
 * Runs one phase. `body` is a fixed request body, or `nextBody()` yields a fresh one per
 * request (undefined when the supply runs out: the phase then ends early, measured up to
 * its last successful response).
 */
export async function runPhase({ url, connections, seconds, body, nextBody, serverPid }) {
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  let ok = 0;
  let failed = 0;
  let exhausted = false;
  const statuses = {};
  const latencies = [];
  let lastOkAt = 0;
  let instance;

  const options = { url: `${url}/token`, method: "POST", headers, connections, duration: seconds, pipelining: 1, timeout: 10, sampleInt: 50 };
  if (nextBody) {
    options.requests = [
      {
        setupRequest(request) {
          const next = nextBody();
          if (next === undefined) {
            if (!exhausted) {
              exhausted = true;
              setImmediate(() => instance?.stop());
            }
            // Keep the connection busy with something harmless until autocannon stops.
            return { ...request, method: "GET", path: "/__bench/none", body: undefined };
          }
          return { ...request, body: next };
        },
      },
    ];
  } else {
    options.body = body;
  }

  const cpuBefore = serverPid ? cpuSeconds(serverPid) : null;
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const done = new Promise((resolve, reject) => {
    instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on("response", (_client, status, _bytes, ms) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) {
        ok++;
        latencies.push(ms);
        lastOkAt = performance.now();
      } else {
        failed++;
      }
    });
  });
  const guard = new Promise((_, reject) => setTimeout(() => reject(new Error("phase overran its time limit")), seconds * 1000 + 20_000).unref());
  const summary = await Promise.race([done, guard]);
  const ended = exhausted ? lastOkAt : performance.now();
  const cpuAfter = serverPid ? cpuSeconds(serverPid) : null;
  const client = process.cpuUsage(clientBefore);

  const elapsed = (ended - started) / 1000;
  const serverCpu = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null;
  latencies.sort((a, b) => a - b);
  return {
    connections,
    seconds: elapsed,
    ok,
    failed: exhausted ? failed - (statuses[404] ?? 0) : failed,
    statuses,
    exhausted,
    errors: summary.errors + summary.timeouts,
    rps: ok / elapsed,
    serverCpuMsPerReq: serverCpu !== null && ok > 0 ? (serverCpu * 1000) / ok : null,
    serverCpuUtil: serverCpu !== null ? serverCpu / elapsed : null,
    clientCpuUtil: (client.user + client.system) / 1e6 / elapsed,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
  };
}
