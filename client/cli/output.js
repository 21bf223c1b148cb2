// @ts-check
/**
 * Where the CLI writes: stdout carries results only (for `token`, the token alone);
 * everything else — progress, warnings, errors — goes to stderr, through a redactor that
 * replaces every secret this process has handled, and anything shaped like a JWT or a
 * static token, with "***". The server's `error_description` is shown as it came.
 */
import { ClientError } from "../core/errors.js";

/** Secrets seen by this process (tokens, ID tokens), longest first so none is half-replaced. */
const secrets = new Set();

export function registerSecret(/** @type {string | undefined} */ value) {
  if (value && value.length >= 8) secrets.add(value);
}

const JWT_SHAPED = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;
const STATIC_TOKEN_SHAPED = /\bsts_(?:usr|org|prj)_[A-Za-z0-9]{8,}/g;

export function redact(/** @type {string} */ text) {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join("***");
  return out.replace(JWT_SHAPED, "***").replace(STATIC_TOKEN_SHAPED, "***");
}

/**
 * Before a token goes to stdout in a GitHub Actions job: `::add-mask::` (on stderr, which the
 * runner also reads for workflow commands), so the runner hides it in every later log line
 * even if the job echoes it. The one place a token reaches stderr, by design.
 */
export function maskForCi(/** @type {string} */ token) {
  if (process.env.GITHUB_ACTIONS === "true" && token && !/[\r\n]/.test(token)) process.stderr.write(`::add-mask::${token}\n`);
}

/** A result line on stdout. */
export function print(/** @type {string} */ line) {
  process.stdout.write(`${line}\n`);
}

export function printJson(/** @type {unknown} */ value) {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A diagnostic line on stderr, redacted. */
export function note(/** @type {string} */ message) {
  process.stderr.write(`${redact(message)}\n`);
}

export function warn(/** @type {string} */ message) {
  note(`edge-sts: warning: ${message}`);
}

/**
 * An error on stderr: our message, the server's error_description, and a hint; as one JSON
 * object with --json, for scripts.
 * @param {unknown} error
 * @param {boolean} json
 */
export function reportError(error, json) {
  if (error instanceof ClientError) {
    if (json) {
      const body = { error: error.kind, message: error.message, status: error.status, server_error: error.error, error_description: error.description, hint: error.hint };
      process.stderr.write(`${redact(JSON.stringify(body))}\n`);
      return;
    }
    const lines = [`edge-sts: ${error.message}`];
    if (error.description) lines.push(`  server says: ${error.description}`);
    if (error.retryAfter !== undefined && error.kind === "unavailable") lines.push(`  the server asked to retry after ${error.retryAfter} s`);
    if (error.hint) lines.push(`  hint: ${error.hint}`);
    note(lines.join("\n"));
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  note(`edge-sts: unexpected error: ${message}`);
  if (process.env.EDGE_STS_DEBUG && error instanceof Error && error.stack) note(error.stack);
}
