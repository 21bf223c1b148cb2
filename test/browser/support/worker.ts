/**
 * The worker as `npm start` runs it, for the browser suite: the shared harness
 * (test/node/support/dev-server.ts) runs scripts/dev.mjs on free ports with its own
 * .dev.vars and local D1 in a temporary directory (fresh development secrets, migrations,
 * the stand-in CI issuer, `wrangler dev`), so a developer's .dev.vars, .wrangler/ and ports
 * 8787/8788 are never touched.
 *
 * `startWorker() → { url, issuerOrigin, secrets, output, stop }` is this suite's one seam
 * onto it; tests see nothing else of how the worker runs.
 */
import { createServer, type Server } from "node:net";
import { ROOT as ROOT_DIR, startDevServer } from "../../node/support/dev-server.js";

export const ROOT = ROOT_DIR;

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
  /** The `aud` a CI ID token must carry to be exchanged here. */
  audience: string;
  secrets: Secrets;
  /**
   * Everything the worker process printed since it answered (its request log lines
   * included), whole; `npm start`'s one-time banner with the generated ADMIN_TOKEN comes
   * before that and is not part of it.
   */
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

export async function startWorker(options: WorkerOptions = {}): Promise<RunningWorker> {
  // wrangler's `--var` outranks the vars file; an empty value is a missing secret to the config.
  const args = Object.entries(options.vars ?? {}).flatMap(([name, value]) => ["--var", `${name}:${value ?? ""}`]);
  let output = "";
  let ready = false;
  const server = await startDevServer({ args, onOutput: (chunk) => void (ready && (output += chunk)) });
  ready = true;
  const { SIGNING_KEYS, TOKEN_HASH_SALT, ADMIN_TOKEN, INTROSPECTION_TOKEN } = server.vars;
  return {
    url: server.url,
    issuerOrigin: server.issuerUrl,
    audience: server.audience,
    secrets: { SIGNING_KEYS: SIGNING_KEYS!, TOKEN_HASH_SALT: TOKEN_HASH_SALT!, ADMIN_TOKEN: ADMIN_TOKEN!, INTROSPECTION_TOKEN: INTROSPECTION_TOKEN! },
    output: () => output,
    stop: () => server.stop(),
  };
}
