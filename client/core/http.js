// @ts-check
/**
 * HTTP for the client: global fetch with a per-attempt timeout, no redirects (a bearer
 * credential must never follow one), bounded retries of 429 and 503 honouring
 * `Retry-After` (RFC 9110 §10.2.3), and RFC 6749 §5.2 error bodies turned into
 * ClientErrors. A 4xx is never retried: the same request would be refused again, and
 * for POST /token a retry could only spend the ID token.
 *
 * Deliberately not here: what a request means (discovery.js, exchange.js, api.js).
 */
import { ClientError } from "./errors.js";
import { VERSION } from "./version.js";

/**
 * @typedef {object} RetryPolicy
 * @property {number} maxAttempts     attempts in all, first included
 * @property {number} maxTotalWaitMs  total time spent waiting between attempts
 * @property {number} maxWaitMs       a single Retry-After longer than this is not waited for
 * @property {number} attemptTimeoutMs one attempt (connect, send, read the body)
 */

/** @type {RetryPolicy} */
export const DEFAULT_RETRY = { maxAttempts: 5, maxTotalWaitMs: 60_000, maxWaitMs: 30_000, attemptTimeoutMs: 30_000 };

/** Without Retry-After: 1 s, 2 s, 4 s, … */
const BACKOFF_BASE_MS = 1000;
/** Bodies we read are small JSON documents; anything larger is not ours. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * @typedef {object} HttpResponse
 * @property {number} status
 * @property {Headers} headers
 * @property {any} json   the parsed body, or undefined when it is not JSON
 * @property {string} text
 */

/**
 * @typedef {object} RequestOptions
 * @property {string} [method]
 * @property {Record<string, string>} [headers]
 * @property {string} [body]
 * @property {Partial<RetryPolicy>} [retry]
 * @property {(ms: number) => Promise<void>} [sleep]
 * @property {(message: string) => void} [onRetry] told before each wait, for stderr
 * @property {number[]} [retryOn] statuses to retry (default 429 and 503)
 */

const RETRY_ON = [429, 503];

const defaultSleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds from a Retry-After header: delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(/** @type {string | null} */ value, now = Date.now()) {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,9}$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * Sends a request, retrying 429/503 and network failures within the policy's bounds, and
 * returns the last response, whatever its status. Throws `unavailable` only when no
 * response was ever had.
 * @param {string | URL} url
 * @param {RequestOptions} [options]
 * @returns {Promise<HttpResponse>}
 */
export async function send(url, options = {}) {
  const policy = { ...DEFAULT_RETRY, ...options.retry };
  const sleep = options.sleep ?? defaultSleep;
  const target = String(url);
  let waited = 0;
  for (let attempt = 1; ; attempt++) {
    /** @type {HttpResponse | undefined} */
    let response;
    /** @type {unknown} */
    let failure;
    try {
      response = await attemptOnce(target, options, policy.attemptTimeoutMs);
    } catch (error) {
      failure = error;
    }
    const retryable = response === undefined || (options.retryOn ?? RETRY_ON).includes(response.status);
    if (!retryable) return /** @type {HttpResponse} */ (response);
    const retryAfter = response ? parseRetryAfter(response.headers.get("retry-after")) : undefined;
    const waitMs = retryAfter !== undefined ? retryAfter * 1000 : BACKOFF_BASE_MS * 2 ** (attempt - 1);
    const lastAttempt = attempt >= policy.maxAttempts || waitMs > policy.maxWaitMs || waited + waitMs > policy.maxTotalWaitMs;
    if (lastAttempt) {
      if (response) return response;
      throw new ClientError("unavailable", `could not reach ${originOf(target)} (${describeNetworkError(failure)})`, {
        hint: `tried ${attempt} time(s); check the URL and the network, then run again`,
      });
    }
    const why = response ? `answered ${response.status}` : `could not be reached (${describeNetworkError(failure)})`;
    options.onRetry?.(`${originOf(target)} ${why}; retrying in ${Math.round(waitMs / 100) / 10} s (attempt ${attempt + 1} of ${policy.maxAttempts})`);
    await sleep(waitMs);
    waited += waitMs;
  }
}

/** @returns {Promise<HttpResponse>} */
async function attemptOnce(/** @type {string} */ url, /** @type {RequestOptions} */ options, /** @type {number} */ timeoutMs) {
  const response = await fetch(url, {
    method: options.method ?? "GET",
    headers: { "user-agent": `edge-sts/${VERSION} node/${process.versions.node}`, accept: "application/json", ...options.headers },
    body: options.body,
    redirect: "manual",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await readCapped(response);
  /** @type {any} */
  let json;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

async function readCapped(/** @type {Response} */ response) {
  if (!response.body) return "";
  const chunks = [];
  let size = 0;
  for await (const chunk of /** @type {AsyncIterable<Uint8Array>} */ (/** @type {unknown} */ (response.body))) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw new Error("response body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function describeNetworkError(/** @type {unknown} */ error) {
  if (!(error instanceof Error)) return "network error";
  if (error.name === "TimeoutError" || error.name === "AbortError") return "timed out";
  const cause = /** @type {{ code?: unknown, message?: unknown }} */ (error.cause ?? {});
  if (typeof cause.code === "string") return cause.code;
  if (typeof cause.message === "string" && cause.message) return cause.message.slice(0, 100);
  return error.message === "fetch failed" ? "network error" : error.message.slice(0, 100);
}

export function originOf(/** @type {string} */ url) {
  try {
    return new URL(url).origin;
  } catch {
    return "the server";
  }
}

/**
 * The server's refusal as a ClientError: 429 and 5xx are `unavailable`, other 4xx
 * `refused`, keeping `error`, `error_description` and `Retry-After`.
 * @param {HttpResponse} response
 * @param {string} what what was being done, e.g. "exchanging the ID token"
 */
export function responseError(response, what) {
  const body = typeof response.json === "object" && response.json !== null ? response.json : {};
  const error = typeof body.error === "string" ? body.error.slice(0, 100) : undefined;
  const description = typeof body.error_description === "string" ? body.error_description.slice(0, 500) : undefined;
  const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
  const kind = response.status === 429 || response.status >= 500 ? "unavailable" : "refused";
  const location = response.status >= 300 && response.status < 400 ? "; the server redirected, check the URL (no redirect is followed with a credential)" : "";
  return new ClientError(kind, `${what} failed: the server answered ${response.status}${error ? ` ${error}` : ""}${location}`, {
    status: response.status,
    error,
    description,
    retryAfter,
  });
}
