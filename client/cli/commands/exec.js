// @ts-check
/**
 * `exec --project P -- cmd …`: runs a command with EDGE_STS_TOKEN set, then revokes the
 * token it minted, however the command ended — success, failure, or a signal (SIGINT,
 * SIGTERM, SIGHUP are forwarded to the command, which decides how to stop). This is how
 * CircleCI, Buildkite and RWX jobs get "revoked at job end" without a post step.
 *
 * Only a token this run minted is revoked; a credential it was given (--token,
 * EDGE_STS_TOKEN, a login) is the caller's. SIGKILL cannot be caught: then the token lives
 * until its expiry.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { checkId } from "../../core/api.js";
import { resolveCredential } from "../../core/credentials.js";
import { ClientError } from "../../core/errors.js";
import { revokeToken } from "../../core/revoke.js";
import { GLOBAL_HELP, OIDC_HELP, OIDC_OPTIONS, parse, required } from "../args.js";
import { commandContext } from "../context.js";
import { note, print, registerSecret, warn } from "../output.js";
import { describeSource } from "./token.js";

const FORWARDED_SIGNALS = /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"]);
/** Revocation at exit must not hold a finished job for long. */
const REVOKE_RETRY = { maxAttempts: 3, maxTotalWaitMs: 10_000, maxWaitMs: 5_000, attemptTimeoutMs: 10_000 };

export const EXEC_HELP = `Usage: edge-sts exec --project prj_… [--scope SCOPES] -- COMMAND [ARG…]

Runs COMMAND with EDGE_STS_TOKEN (and EDGE_STS_URL, EDGE_STS_PROJECT) in its environment,
then revokes the token it minted, whatever the command's outcome: failure, or a signal
(SIGINT, SIGTERM and SIGHUP are forwarded to it). Exits with the command's status, or
128+N when signal N ended it; 127 when COMMAND is not found, 126 when it cannot be run.
The command sees the minted token, never the job's ID token.

  --project ID       the project (else EDGE_STS_PROJECT)
  --scope SCOPES     narrow the minted token, e.g. "registry:pull"

${OIDC_HELP}

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env @returns {Promise<number>} */
export async function execCommand(args, env) {
  const separator = args.indexOf("--");
  const own = separator === -1 ? args : args.slice(0, separator);
  const command = separator === -1 ? [] : args.slice(separator + 1);
  const { values, positionals } = parse(own, { project: { type: "string" }, scope: { type: "string" }, ...OIDC_OPTIONS });
  if (values.help) {
    print(EXEC_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new ClientError("usage", "put -- before the command: edge-sts exec --project prj_… -- COMMAND");
  if (command.length === 0) throw new ClientError("usage", "no command: edge-sts exec --project prj_… -- COMMAND [ARG…]");
  const ctx = commandContext(values, env);
  const project = checkId("prj", required(values.project, env.EDGE_STS_PROJECT, "--project (or EDGE_STS_PROJECT)"), "--project");

  // A signal may come while the token is being minted: remember it, stop after revoking.
  /** @type {NodeJS.Signals | undefined} */
  let received;
  /** @type {import("node:child_process").ChildProcess | undefined} */
  let child;
  const onSignal = (/** @type {NodeJS.Signals} */ signal) => {
    received = signal;
    child?.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, onSignal);
  try {
    const credential = await resolveCredential({
      serverUrl: ctx.serverUrl,
      env,
      flagToken: values.token,
      project,
      scope: values.scope,
      ci: values.ci,
      options: { circleciDefaultToken: values["circleci-default-token"] },
      http: ctx.http,
      onIdToken: registerSecret,
    });
    registerSecret(credential.token);
    if (credential.source !== "oidc") note(`edge-sts: running with the credential from ${describeSource(credential.source)} (not revoked at exit)`);
    let status;
    if (received) {
      status = 128 + signalNumber(received);
    } else {
      /** @type {NodeJS.ProcessEnv} */
      const childEnv = { ...env, EDGE_STS_TOKEN: credential.token, EDGE_STS_URL: ctx.serverUrl, EDGE_STS_PROJECT: project };
      // The command gets the scoped token; the job's ID token is not its to reuse.
      delete childEnv.EDGE_STS_OIDC_TOKEN;
      status = await run(command, childEnv, (spawned) => (child = spawned));
    }
    if (credential.minted && credential.metadata) {
      try {
        await revokeToken({ revocationEndpoint: credential.metadata.revocationEndpoint, token: credential.token, http: { ...ctx.http, retry: REVOKE_RETRY } });
        note("edge-sts: token revoked");
      } catch (error) {
        // The command's outcome is the job's; a failed revocation is reported, not folded into it.
        warn(`could not revoke the token (${error instanceof Error ? error.message : String(error)}); it stays valid until it expires`);
      }
    }
    return status;
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, onSignal);
  }
}

/**
 * @param {string[]} command
 * @param {NodeJS.ProcessEnv} env
 * @param {(child: import("node:child_process").ChildProcess) => void} started
 * @returns {Promise<number>}
 */
function run(command, env, started) {
  return new Promise((resolve) => {
    const [file, ...rest] = command;
    const child = spawn(/** @type {string} */ (file), rest, { stdio: "inherit", env, shell: false });
    started(child);
    child.on("error", (error) => {
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      note(`edge-sts: cannot run ${JSON.stringify(file)}: ${code === "ENOENT" ? "command not found" : code ?? error.message}`);
      // As shells do: 127 not found, 126 found but not runnable.
      resolve(code === "ENOENT" ? 127 : 126);
    });
    child.on("exit", (code, signal) => resolve(signal ? 128 + signalNumber(signal) : code ?? 1));
  });
}

function signalNumber(/** @type {NodeJS.Signals} */ signal) {
  return constants.signals[signal] ?? 1;
}
