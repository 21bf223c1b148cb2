// @ts-check
/**
 * Runs a CI's own command-line tool (`circleci`, `buildkite-agent`) to get an ID token:
 * no shell, a bounded time and output, and an environment without our own secrets. Only
 * non-secret values (an audience, claim names) ever go into its argv; the tool finds its
 * own credentials in the job's environment, where the CI put them.
 */
import { spawn } from "node:child_process";
import { ClientError } from "../errors.js";

const TOOL_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 64 * 1024;
/** Ours to hold, not the CI tool's to see. */
const OWN_SECRETS = ["EDGE_STS_TOKEN", "EDGE_STS_OIDC_TOKEN"];

/**
 * @param {string} command
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @param {string} label e.g. "circleci run oidc get"
 * @returns {Promise<string>} the tool's stdout, trimmed
 */
export function runTool(command, args, env, label) {
  const childEnv = { ...env };
  for (const name of OWN_SECRETS) delete childEnv[name];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: childEnv, stdio: ["ignore", "pipe", "pipe"], shell: false });
    /** @type {Buffer[]} */
    const out = [];
    /** @type {Buffer[]} */
    const err = [];
    let size = 0;
    const collect = (/** @type {Buffer[]} */ into) => (/** @type {Buffer} */ chunk) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) {
        child.kill("SIGKILL");
        return;
      }
      into.push(chunk);
    };
    child.stdout.on("data", collect(out));
    child.stderr.on("data", collect(err));
    const timer = setTimeout(() => child.kill("SIGKILL"), TOOL_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      reject(
        new ClientError("id_token_unavailable", code === "ENOENT" ? `\`${command}\` is not on PATH` : `could not run \`${command}\` (${code ?? error.message})`),
      );
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString("utf8").trim();
      if (status === 0) {
        resolve(Buffer.concat(out).toString("utf8").trim());
        return;
      }
      const how = signal ? `was stopped (${signal})` : `exited with status ${status}`;
      // The tool's own words help (a missing context, an old agent); they are shown on
      // stderr through the CLI's redaction of anything shaped like a token.
      reject(new ClientError("id_token_unavailable", `\`${label}\` ${how}${stderr ? `: ${stderr.slice(0, 500)}` : ""}`));
    });
  });
}

/** A compact JWS: three base64url segments. Anything else is not an ID token. */
export function looksLikeJwt(/** @type {string} */ value) {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value) && value.length <= 16 * 1024;
}
