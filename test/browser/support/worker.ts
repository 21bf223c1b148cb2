/**
 * Starts the worker as `npm start` does (scripts/dev.mjs): fresh development secrets,
 * migrations applied to a local D1, a stand-in CI issuer, and `wrangler dev` on the same
 * source and wrangler.toml, but on free ports with its state, vars and logs in a temporary
 * directory, so a developer's .dev.vars, .wrangler/ and ports 8787/8788 are never touched.
 *
 * `startWorker() → { url, stop }` is the one seam: when scripts/dev.mjs takes its ports and
 * paths from the environment, this body becomes a call to the shared harness.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateDevSecrets } from "../../support/dev-secrets.mjs";
import { serveFakeIssuer } from "../../support/fake-issuer.mjs";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
const READY_TIMEOUT_MS = 90_000;

export interface Secrets {
  SIGNING_KEYS: string;
  TOKEN_HASH_SALT: string;
  ADMIN_TOKEN: string;
  INTROSPECTION_TOKEN: string;
}

export interface RunningWorker {
  /** Base URL, e.g. http://127.0.0.1:43123 */
  url: string;
  /** The stand-in CI issuer's origin (its `/__control/sign` signs ID tokens). */
  issuerOrigin: string;
  secrets: Secrets;
  /** Everything the worker process printed so far (its request log lines included). */
  output(): string;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  /** Vars on top of the generated ones; `undefined` leaves a secret out (e.g. TOKEN_HASH_SALT). */
  vars?: Record<string, string | undefined>;
}

export async function freePort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

const quietEnv = () => ({
  ...process.env,
  CI: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  NO_COLOR: "1",
});

export async function startWorker(options: WorkerOptions = {}): Promise<RunningWorker> {
  const dir = mkdtempSync(join(tmpdir(), "edge-sts-browser-"));
  const state = join(dir, "state");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secrets = (await generateDevSecrets()) as Secrets;
  const issuerServer = await serveFakeIssuer(await freePort());
  const issuerOrigin = `http://127.0.0.1:${issuerServer.address().port}`;
  const vars: Record<string, string | undefined> = {
    ...secrets,
    PUBLIC_URL: url,
    ALLOW_INSECURE_ISSUERS: "true",
    GITHUB_ISSUER: `${issuerOrigin}/github`,
    CIRCLECI_ISSUER: `${issuerOrigin}/circleci`,
    BUILDKITE_ISSUER: `${issuerOrigin}/buildkite`,
    RWX_ISSUER: `${issuerOrigin}/rwx`,
    ...options.vars,
  };
  const envFile = join(dir, "vars.env");
  const lines = Object.entries(vars)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}='${value}'`);
  writeFileSync(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });

  const migrate = spawnSync(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    cwd: ROOT,
    env: quietEnv(),
    encoding: "utf8",
  });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);

  let output = "";
  const child = spawn(
    WRANGLER,
    ["dev", "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(await freePort()), "--persist-to", state, "--env-file", envFile],
    { cwd: ROOT, env: quietEnv(), stdio: ["ignore", "pipe", "pipe"], detached: false },
  );
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise((resolve) => issuerServer.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited early:\n${output}`);
    }
    const healthy = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (healthy) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev not ready after ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { url, issuerOrigin, secrets, output: () => output, stop };
}
