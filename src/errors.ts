/**
 * One error class, one closed union of reasons, one map to the wire.
 *
 * Everything below the routes throws `StsError(reason)`; only `app.onError` renders it.
 * Descriptions are fixed sentences a CI user can act on: they never contain the
 * presented token, a configured value, or which claim of a relationship differed.
 * `detail` is only ever a field name from our own schemas (for `field_invalid`) or a
 * short fixed phrase (for `conflict`); `logDetail` goes to the log line, never the wire.
 * `retryAfter` (seconds) replaces a 429/503's default `Retry-After` when the thrower knows
 * when a retry can succeed (e.g. the rest of a key-refetch cooldown).
 */
import * as z from "./schema";
import { documentedOnly } from "./documented";

export type Reason =
  // The request itself
  | "body_malformed"
  | "body_too_large"
  | "media_type_unsupported"
  | "field_invalid"
  | "grant_type_unsupported"
  | "subject_token_type_unsupported"
  | "requested_token_type_unsupported"
  | "subject_token_too_large"
  // Is the subject token really from that CI?
  | "token_malformed"
  | "token_algorithm_forbidden"
  | "token_header_forbidden"
  | "issuer_unknown"
  | "key_unknown"
  | "signature_invalid"
  | "token_expired"
  | "token_not_yet_valid"
  | "token_issued_in_future"
  | "token_too_old"
  | "token_lifetime_too_long"
  | "audience_mismatch"
  | "claims_invalid"
  | "token_replayed"
  // May it have this?
  | "no_trust_relationship"
  | "event_denied"
  | "target_invalid"
  | "target_ambiguous"
  | "scope_invalid"
  // Credentials of the admin API, introspection and revocation
  | "unauthenticated"
  | "insufficient_scope"
  | "revocation_unsupported"
  | "not_found"
  | "conflict"
  | "limit_exceeded"
  | "route_not_found"
  | "rate_limited"
  // The settings page: a state change that did not come from our own form
  | "cross_site_request"
  // Upstream and configuration
  | "keys_unavailable"
  | "database_unavailable"
  | "signing_keys_missing"
  | "token_hash_salt_missing"
  | "config_invalid"
  | "internal";

export class StsError extends Error {
  constructor(
    readonly reason: Reason,
    readonly detail?: string,
    readonly logDetail?: string,
    readonly retryAfter?: number,
  ) {
    super(reason);
    this.name = "StsError";
  }
}

/** Every `error` code a refusal can carry (RFC 6749 §5.2, RFC 7009 §2.2.1, and ours): a closed set clients can switch on. */
export const ERROR_CODES = [
  "invalid_request",
  "unsupported_grant_type",
  "invalid_target",
  "invalid_scope",
  "invalid_token",
  "insufficient_scope",
  "access_denied",
  "unsupported_token_type",
  "not_found",
  "conflict",
  "rate_limited",
  "temporarily_unavailable",
  "server_error",
] as const;

/** The body of every refusal, whatever the route (RFC 6749 §5.2 shape); `app.onError` renders it. */
export const ErrorBody = /* @__PURE__ */ documentedOnly(() => z.strictObject({ error: z.enum(ERROR_CODES), error_description: z.string() }));

export interface WireError {
  status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503;
  error: (typeof ERROR_CODES)[number];
  description: string;
  /** Seconds, for 429 and 503. */
  retryAfter?: number;
}

export const KEYS_RETRY_AFTER_SECONDS = 10;
export const DATABASE_RETRY_AFTER_SECONDS = 5;
export const RATE_LIMIT_RETRY_AFTER_SECONDS = 10;

const badToken = (description: string): WireError => ({ status: 400, error: "invalid_request", description });

/** The only place a reason becomes a status, an error code and words. */
export function toWire(reason: Reason, detail?: string): WireError {
  switch (reason) {
    case "body_malformed":
      return { status: 400, error: "invalid_request", description: "request body could not be parsed" };
    case "body_too_large":
      return { status: 413, error: "invalid_request", description: "request body is larger than 32 KiB" };
    case "media_type_unsupported":
      return {
        status: 415,
        error: "invalid_request",
        description: "content type must be application/x-www-form-urlencoded or application/json",
      };
    case "field_invalid":
      return { status: 400, error: "invalid_request", description: detail ?? "request has an invalid field" };
    case "grant_type_unsupported":
      return {
        status: 400,
        error: "unsupported_grant_type",
        description: "grant_type must be urn:ietf:params:oauth:grant-type:token-exchange",
      };
    case "subject_token_type_unsupported":
      return badToken(
        "subject_token_type must be urn:ietf:params:oauth:token-type:id_token or urn:ietf:params:oauth:token-type:jwt",
      );
    case "requested_token_type_unsupported":
      return badToken(
        "requested_token_type must be urn:ietf:params:oauth:token-type:jwt or urn:ietf:params:oauth:token-type:access_token",
      );
    case "subject_token_too_large":
      return { status: 413, error: "invalid_request", description: "subject token is larger than 16 KiB" };
    case "token_malformed":
      return badToken("subject token is not a well-formed JWT");
    case "token_algorithm_forbidden":
      return badToken("subject token must be signed with RS256");
    case "token_header_forbidden":
      return badToken("subject token header names its own key (jku, jwk, x5u, x5c) or critical extensions; these are not accepted");
    case "issuer_unknown":
      return badToken("subject token was not issued by a supported CI provider");
    case "key_unknown":
      return badToken("subject token is signed with a key its issuer does not publish");
    case "signature_invalid":
      return badToken("subject token signature is invalid");
    case "token_expired":
      return badToken("subject token has expired");
    case "token_not_yet_valid":
      return badToken("subject token is not valid yet (nbf is in the future)");
    case "token_issued_in_future":
      return badToken("subject token was issued in the future (iat); check the CI runner's clock");
    case "token_too_old":
      return badToken("subject token is too old; request a fresh ID token right before the exchange");
    case "token_lifetime_too_long":
      return badToken("subject token lifetime is longer than this provider allows; request a shorter-lived token");
    case "audience_mismatch":
      return badToken("subject token audience is not this service; request the ID token with this service's audience");
    case "claims_invalid":
      return badToken("subject token lacks a required claim or has a claim of the wrong type");
    case "token_replayed":
      return badToken("subject token has already been exchanged; request a new ID token");
    case "no_trust_relationship":
      return badToken("no trust relationship admits this token");
    case "event_denied":
      return badToken(
        "this token's event (e.g. pull_request_target, workflow_run, an SSH rerun) is denied unless a trust relationship names it in its conditions",
      );
    case "target_invalid":
      return { status: 400, error: "invalid_target", description: "no trust relationship of this project admits this token" };
    case "target_ambiguous":
      return {
        status: 400,
        error: "invalid_target",
        // Only the instruction: whether other projects name this job is not the caller's to learn.
        description: "pass audience: the ID of the project to exchange this token for",
      };
    case "scope_invalid":
      return { status: 400, error: "invalid_scope", description: "scope asks for more than the trust relationship grants" };
    case "unauthenticated":
      return { status: 401, error: "invalid_token", description: "a valid bearer credential is required" };
    case "insufficient_scope":
      return { status: 403, error: "insufficient_scope", description: "this credential may not do that" };
    case "revocation_unsupported":
      // RFC 7009 §2.2.1: static tokens are revoked by their owner, through the admin API.
      return {
        status: 400,
        error: "unsupported_token_type",
        description: "static tokens are revoked by deleting them: DELETE /v1/.../tokens/{id}",
      };
    case "not_found":
      return { status: 404, error: "not_found", description: "no such resource" };
    case "conflict":
      return { status: 409, error: "conflict", description: detail ?? "the resource conflicts with an existing one" };
    case "limit_exceeded":
      return { status: 409, error: "conflict", description: detail ?? "a limit of this resource has been reached" };
    case "route_not_found":
      return { status: 404, error: "not_found", description: "no such endpoint" };
    case "rate_limited":
      return {
        status: 429,
        error: "rate_limited",
        description: "too many requests; retry after the delay in Retry-After",
        retryAfter: RATE_LIMIT_RETRY_AFTER_SECONDS,
      };
    case "cross_site_request":
      return {
        status: 403,
        error: "access_denied",
        description: "cross-site request refused: reload the page and submit the form again",
      };
    case "keys_unavailable":
      return {
        status: 503,
        error: "temporarily_unavailable",
        description: "the CI provider's signing keys cannot be fetched right now; retry shortly",
        retryAfter: KEYS_RETRY_AFTER_SECONDS,
      };
    case "database_unavailable":
      return {
        status: 503,
        error: "temporarily_unavailable",
        description: "the database is unavailable; retry shortly",
        retryAfter: DATABASE_RETRY_AFTER_SECONDS,
      };
    case "signing_keys_missing":
      return { status: 500, error: "server_error", description: "server error: signing keys are not configured" };
    case "token_hash_salt_missing":
      return { status: 500, error: "server_error", description: "server error: TOKEN_HASH_SALT is not configured" };
    case "config_invalid":
      return { status: 500, error: "server_error", description: `server error: configuration is invalid (${detail ?? "vars"})` };
    case "internal":
      return { status: 500, error: "server_error", description: "server error" };
  }
}
