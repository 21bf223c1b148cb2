// @ts-check
/**
 * One error class for everything the client refuses or fails at, with a closed set of
 * kinds. The CLI turns a kind into an exit code in one place (cli/exit-codes.js); the
 * Action turns it into `::error::`. Messages never contain a token: they are built from
 * our own words, HTTP statuses and the server's `error_description`, which (SPEC §2)
 * never echoes a token either.
 */

/**
 * @typedef {"usage"            // bad arguments or configuration given to the client
 *   | "no_credential"          // nothing to authenticate with: no token, no login, no CI ID token
 *   | "id_token_unavailable"   // the CI could not give this job an ID token
 *   | "refused"                // the server answered 4xx (never retried)
 *   | "unavailable"            // 429/503 after bounded retries, 5xx, network failure
 *   | "unsupported"            // this server lacks the endpoint (e.g. explain before it exists)
 * } ErrorKind
 */

export class ClientError extends Error {
  /**
   * @param {ErrorKind} kind
   * @param {string} message what went wrong, in our words
   * @param {{ hint?: string, status?: number, error?: string, description?: string, retryAfter?: number }} [details]
   *   `status`, `error` and `description` are the server's (RFC 6749 §5.2); `hint` is what to do next.
   */
  constructor(kind, message, details = {}) {
    super(message);
    this.name = "ClientError";
    /** @type {ErrorKind} */
    this.kind = kind;
    this.hint = details.hint;
    this.status = details.status;
    this.error = details.error;
    this.description = details.description;
    this.retryAfter = details.retryAfter;
  }
}

/** A copy of `error` with a (more specific) hint, keeping everything the server said. */
export function withHint(/** @type {ClientError} */ error, /** @type {string | undefined} */ hint) {
  if (!hint) return error;
  const copy = new ClientError(error.kind, error.message, { ...error, hint });
  return copy;
}
