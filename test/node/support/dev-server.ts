/**
 * `npm start` for tests: runs scripts/dev.mjs (the stand-in CI issuer plus `wrangler dev`,
 * exactly what a user runs) on free ports with its own .dev.vars and local D1 in a fresh
 * temporary directory, waits until it answers, and stops it.
 *
 *   const sts = await startDevServer();
 *   try {
 *     const org = await sts.api("POST", "/v1/orgs", { name: "acme" }); // as the admin token
 *     await fetch(`${sts.url}/v1/orgs`, { headers: { authorization: `Bearer ${sts.vars.ADMIN_TOKEN}` }, … });
 *     // An ID token from the stand-in issuer, as a GitHub job would get one:
 *     const idToken = await sts.signIdToken(githubClaims(sts.audience, {}, { iss: sts.issuers.github }));
 *   } finally {
 *     await sts.stop();
 *   }
 *
 * - A developer's own .dev.vars, local database and ports 8787/8788 are never touched:
 *   everything lives under `sts.dir`, removed by `stop()`.
 * - Instances are independent: test files may each start their own, concurrently.
 * - `stop()` ends the whole process group it started (node, wrangler, workerd) and nothing
 *   else; an instance left running when the test process exits is killed then.
 * - Start-up takes about 10 s on 2 shared cores, more under load (wrangler
 *   bundles, migrates and boots workerd): start one per file in `beforeAll` with a generous
 *   hook timeout (the node project's is 120 s), not one per test.
 *
 * It does not seed anything: tests use the public API, as users do.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export interface DevServer {
  /** The worker, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  /** The stand-in CI issuer's origin (its control endpoints are under `/__control/`). */
  issuerUrl: string;
  /** The four providers' issuers as this instance is configured (all served by the stand-in). */
  issuers: Record<"github" | "circleci" | "buildkite" | "rwx", string>;
  /** The `aud` an ID token must carry to be exchanged here. */
  audience: string;
  /** The .dev.vars that `npm start` generated: ADMIN_TOKEN, INTROSPECTION_TOKEN, PUBLIC_URL, *_ISSUER, … */
  vars: Record<string, string>;
  /** The temporary directory holding .dev.vars and the local D1 state. */
  dir: string;
  /** What the process printed so far (stdout and stderr, the last 256 KiB), for failure messages. */
  output(): string;
  /**
   * A call of the admin API: `body` sent as JSON, as the admin token unless `bearer` is given;
   * the answer's status and JSON body (`{}` when it has none).
   */
  api(method: string, path: string, body?: unknown, bearer?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** POST /introspect with the introspection token: the answer's JSON; anything but 200 throws. */
  introspect(token: string): Promise<Record<string, unknown>>;
  /** An RS256 ID token with these claims, signed by the stand-in issuer named by `claims.iss`. */
  signIdToken(claims: { iss: string } & Record<string, unknown>): Promise<string>;
  /** Stops the whole process group and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** Extra environment for scripts/dev.mjs (and so wrangler). */
  env?: Record<string, string>;
  /** Extra arguments passed through to `wrangler dev`. */
  args?: string[];
  /** How long to wait for the first answer, in ms (default 120 s). */
  readyTimeoutMs?: number;
  /** Every chunk the process prints, unbounded (e.g. to scan a whole run's logs for secrets). */
  onOutput?: (chunk: string) => void;
}

/** Starts `npm start`'s script; retries with new ports if one was taken in the meantime. */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortTakenError)) throw error;
    }
  }
  throw lastError;
}

class PortTakenError extends Error {}

async function startOnce(options: DevServerOptions): Promise<DevServer> {
  const [port, issuerPort, inspectorPort] = await freePorts(3);
  const dir = mkdtempSync(join(tmpdir(), "edge-sts-dev-"));
  const child = spawn(process.execPath, [join(ROOT, "scripts", "dev.mjs"), ...(options.args ?? [])], {
    cwd: ROOT,
    // Its own process group, so that stop() reaches wrangler and workerd too.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...options.env,
      STS_PORT: String(port),
      FAKE_ISSUER_PORT: String(issuerPort),
      STS_INSPECTOR_PORT: String(inspectorPort),
      STS_DEV_VARS: join(dir, ".dev.vars"),
      STS_STATE_DIR: join(dir, "state"),
      // No colours or interactive prompts in captured output.
      CI: "true",
      FORCE_COLOR: "0",
    },
  });
  // The last 256 KiB: enough for any failure message, bounded for long suites.
  let output = "";
  const capture = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-256 * 1024);
    options.onOutput?.(chunk.toString());
  };
  child.stdout!.on("data", capture);
  child.stderr!.on("data", capture);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const killOnExit = () => killGroup(child, "SIGKILL");
  process.once("exit", killOnExit);

  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", killOnExit);
    killGroup(child, "SIGTERM");
    const ended = await Promise.race([exited.then(() => true), delay(10_000).then(() => false)]);
    // The group, not just the leader: workerd may outlive wrangler by a moment.
    killGroup(child, "SIGKILL");
    if (!ended) await Promise.race([exited, delay(5_000)]);
    rmSync(dir, { recursive: true, force: true });
  };

  const issuerUrl = `http://127.0.0.1:${issuerPort}`;
  try {
    await waitUntilReady(url, exited, options.readyTimeoutMs ?? 120_000);
    // dev.mjs carries on without its stand-in issuer when the port is taken; a test cannot.
    if (!output.includes(`Stand-in CI issuer on ${issuerUrl}`)) throw new PortTakenError(`stand-in issuer not started: ${output.slice(-500)}`);
  } catch (error) {
    if (error instanceof PortTakenError) {
      await stop();
      throw error;
    }
    await stop();
    if (/EADDRINUSE|address already in use/i.test(output)) throw new PortTakenError(`port taken: ${output.slice(-500)}`);
    throw new Error(`npm start did not come up: ${(error as Error).message}\n--- output ---\n${output.slice(-4000)}`);
  }

  const vars = parseVars(readFileSync(join(dir, ".dev.vars"), "utf8"));
  const issuers = {
    github: vars.GITHUB_ISSUER!,
    circleci: vars.CIRCLECI_ISSUER!,
    buildkite: vars.BUILDKITE_ISSUER!,
    rwx: vars.RWX_ISSUER!,
  };
  return {
    url,
    issuerUrl,
    issuers,
    // As the worker's config defaults it: AUDIENCE, else PUBLIC_URL (wrangler.toml's for port 8787).
    audience: vars.AUDIENCE ?? vars.PUBLIC_URL ?? "http://localhost:8787",
    vars,
    dir,
    output: () => output,
    async api(method, path, body, bearer = vars.ADMIN_TOKEN!) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async introspect(token) {
      const response = await fetch(`${url}/introspect`, {
        method: "POST",
        headers: { authorization: `Bearer ${vars.INTROSPECTION_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token }),
      });
      if (response.status !== 200) throw new Error(`POST /introspect answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as Record<string, unknown>;
    },
    async signIdToken(claims) {
      const response = await fetch(`${issuerUrl}/__control/sign`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ issuer: claims.iss, claims }),
      });
      if (!response.ok) throw new Error(`stand-in issuer refused to sign: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { token: string }).token;
    },
    stop,
  };
}

async function waitUntilReady(url: string, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`it exited with code ${exitCode}`);
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await delay(250);
  }
  throw new Error(`no answer from ${url}/healthz within ${timeoutMs} ms`);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Ports the OS reports free right now (each bound and released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** NAME=value and NAME='value' lines, as wrangler reads them. */
function parseVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) vars[match[1]!] = match[2]!.replace(/^'(.*)'$/, "$1");
  }
  return vars;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
