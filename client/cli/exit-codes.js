// @ts-check
/**
 * Exit codes, in one place: the CLI's help, the README and scripts rely on them.
 * `exec` exits with its command's status instead (128 + N when a signal N ended it).
 */

export const EXIT = /** @type {const} */ ({
  ok: 0,
  /** a bug or an unexpected failure */
  unexpected: 1,
  /** bad arguments or configuration */
  usage: 2,
  /** no credential, or the CI could not give this job an ID token */
  noCredential: 3,
  /** the server refused (4xx): not retried, fix the request or the relationship */
  refused: 4,
  /** the server or network is unavailable (429/503 after retries, 5xx, no connection) */
  unavailable: 5,
  /** this server lacks the feature (e.g. explain) */
  unsupported: 6,
});

/** @param {import("../core/errors.js").ErrorKind} kind */
export function exitCodeFor(kind) {
  switch (kind) {
    case "usage":
      return EXIT.usage;
    case "no_credential":
    case "id_token_unavailable":
      return EXIT.noCredential;
    case "refused":
      return EXIT.refused;
    case "unavailable":
      return EXIT.unavailable;
    case "unsupported":
      return EXIT.unsupported;
  }
}

export const EXIT_CODES_HELP = `Exit codes:
  0    success
  1    unexpected failure (a bug: please report it)
  2    usage: bad arguments or configuration
  3    no credential, or the CI could not give this job an ID token
  4    refused by the server (4xx; never retried)
  5    server or network unavailable (429/503 after retries honouring Retry-After, 5xx)
  6    not supported by this server (e.g. explain on a server without it)
  exec exits with its command's status, or 128+N when signal N ended it`;
