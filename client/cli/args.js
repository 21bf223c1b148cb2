// @ts-check
/**
 * Argument parsing on `node:util` parseArgs (strict: an unknown or misspelt option is a
 * usage error, never silently ignored), and the options several commands share.
 */
import { parseArgs } from "node:util";
import { ClientError } from "../core/errors.js";
import { SOURCE_NAMES } from "../core/ci/sources.js";

/** @typedef {Record<string, { type: "string" | "boolean", short?: string, multiple?: boolean }>} OptionSpec */

/** Every command takes these. */
export const GLOBAL_OPTIONS = /** @type {const} */ ({
  url: { type: "string" },
  token: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
});

/** Commands that may get this job's ID token. */
export const OIDC_OPTIONS = /** @type {const} */ ({
  ci: { type: "string" },
  "circleci-default-token": { type: "boolean" },
});

export const GLOBAL_HELP = `Options every command takes:
  --url URL          the edge-sts service (else EDGE_STS_URL, else the URL of your one stored login)
  --token TOKEN      the credential to use (else EDGE_STS_TOKEN, else the stored login, else this CI job's ID token);
                     prefer EDGE_STS_TOKEN: a flag's value is visible to other processes on the machine
  --json             machine-readable output (errors too, on stderr)
  -h, --help         this help`;

export const OIDC_HELP = `Getting this job's ID token (when no other credential is given):
  --ci NAME          skip detection: ${SOURCE_NAMES.join(", ")} (rwx = the token in EDGE_STS_OIDC_TOKEN, any CI)
  --circleci-default-token
                     CircleCI: use $CIRCLE_OIDC_TOKEN_V2 as it is instead of \`circleci run oidc get\`;
                     the relationship must set accept_default_audience`;

/**
 * @param {string[]} args
 * @param {OptionSpec} options
 * @returns {{ values: Record<string, any>, positionals: string[] }}
 */
export function parse(args, options) {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values, positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] ?? "" : String(error);
    // parseArgs quotes what was typed; keep it short and keep a mistyped `--token=…` value out of the message.
    throw new ClientError("usage", message.replace(/--token[= ]\S+/g, "--token …").slice(0, 300), { hint: "see --help" });
  }
}

/** A value given by flag or environment variable, or a usage error naming both. */
export function required(/** @type {string | undefined} */ flag, /** @type {string | undefined} */ fromEnv, /** @type {string} */ what) {
  const value = flag ?? fromEnv;
  if (value === undefined || value === "") throw new ClientError("usage", `${what} is required`);
  return value;
}
