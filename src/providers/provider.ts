/**
 * What a CI provider must tell the shared verifier and the trust matcher.
 *
 * A provider file knows its issuer shapes, its claims, how a job's identity becomes an
 * indexed lookup key, and how a stored relationship's identity fields compare with a
 * verified token. It does no I/O: the verifier fetches keys, `db/` stores relationships.
 */
import type * as z from "../schema";
import type { ProviderName } from "../config";

export type Claims = Record<string, unknown>;

/** Where a job's identity is found in D1: exact, indexed keys. */
export interface JobIdentity {
  /** The job's identity: GitHub "owner/repo" (lower case), CircleCI "org/project" UUIDs, Buildkite "org/pipeline" slugs, RWX subject. */
  lookupKey: string;
  /**
   * The per-tenant issuer this identity is tied to: a GitHub enterprise slug (lower case),
   * a CircleCI organization UUID; "" for none. Asked before a cold fetch from such an issuer.
   */
  issuerTenant: string;
}

export interface VerifiedToken {
  provider: ProviderName;
  issuer: string;
  /** Sub-issuer the `iss` named: a GitHub enterprise slug or a CircleCI org UUID. */
  issuerTenant: string | undefined;
  claims: Claims;
  identity: JobIdentity;
  /** The job's owner, whose budget the exchange spends (see `Provider.owner`). */
  owner: string;
  /** True when `aud` is the provider's default audience (CircleCI's org UUID), not ours. */
  defaultAudience: boolean;
  subject: string;
  jti: string | undefined;
  issuedAt: number;
  expiresAt: number;
}

/**
 * One comparison of a relationship's identity field with the token: `expected` is the
 * relationship's value, `actual` the token's (null when the token lacks the claim).
 */
export interface IdentityCheck {
  check: "identity" | "enterprise" | "pinned_id";
  /** The relationship's field. */
  field: string;
  /** The token's claim it is compared with. */
  claim: string;
  expected: unknown;
  actual: unknown;
  pass: boolean;
}

/**
 * Every identity check of one relationship against a token, in the order they decide (the
 * first failing one is the relationship's verdict), and the immutable IDs the token would
 * pin on it (used only when every check passes).
 */
export interface IdentityMatch {
  checks: IdentityCheck[];
  pins?: Record<string, string>;
}

/** A value a provider denies by default unless a condition names it exactly. */
export interface DefaultDenial {
  claim: string;
  value: string;
}

export interface Provider<S extends Record<string, unknown> = Record<string, unknown>> {
  name: ProviderName;
  /** `iss` belongs to this provider: returns the tenant it names ("" for the base issuer), or null. */
  matchIssuer(iss: string, base: string): string | null;
  /** Caps on a token's `exp − iat` and on its age `now − iat`. */
  maxLifetimeSeconds: number;
  maxAgeSeconds: number;
  /** Claims the verifier requires beyond iss/aud/exp/iat, with their types. */
  claims: z.Schema<Claims>;
  /** Claim names `conditions` may use; an entry ending in `*` is a prefix. */
  conditionClaims: readonly string[];
  /**
   * The job identity the (typed) claims state, or null if they are inconsistent. Before the
   * signature is checked it only gates a cold key fetch; it authorizes only once verified.
   */
  identify(claims: Claims, issuerTenant: string): JobIdentity | null;
  /**
   * Must a stored relationship name this issuer tenant before its keys are fetched for the
   * first time? True for open-ended issuers (GitHub enterprises, CircleCI organizations):
   * anyone can put any slug or UUID in `iss`, and that must cost no network request.
   */
  keyFetchNeedsRelationship(tenant: string): boolean;
  /**
   * The party whose exchange budget a verified token spends: one that the job cannot choose
   * and that no other tenant's token can name (GitHub owner ID, CircleCI organization UUID,
   * Buildkite organization slug, RWX subject).
   */
  owner(claims: Claims, identity: JobIdentity): string;
  /**
   * The provider's default audience, accepted besides AUDIENCE only by relationships that
   * opt in (CircleCI: the organization UUID); null when there is none.
   */
  defaultAudience(identity: JobIdentity): string | null;
  /** Does this relationship admit tokens carrying the provider's default audience? */
  acceptsDefaultAudience(subject: S): boolean;
  defaultDenials(claims: Claims): DefaultDenial[];
  /** The job's provenance, copied into the minted token's `ci` claim. */
  provenance(claims: Claims): Record<string, string | number | boolean>;

  /**
   * Provider-specific fields of a trust relationship body (strict): an object schema, whose
   * members the documented body and response take beside the common fields.
   */
  relationshipSchema: z.Schema<S> & { shape: z.Shape };
  /** Where a relationship with these fields is found by `identify`'s keys. */
  relationshipIdentity(subject: S): JobIdentity;
  /**
   * Compares every identity field of a relationship with a verified token. The identity
   * checks pass together exactly when the token's lookup key is the relationship's.
   */
  matchRelationship(subject: S, token: VerifiedToken): IdentityMatch;
}

/** Picks string, number and boolean claims for provenance, dropping absent ones. */
export function pickClaims(claims: Claims, names: readonly string[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const name of names) {
    const value = claims[name];
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[name] = value;
  }
  return out;
}

/** The value of a claim as a trace shows it: JSON as the token carried it, null when absent. */
export const claimValue = (claims: Claims, name: string): unknown => (Object.hasOwn(claims, name) ? claims[name] : null);

/** Pins of the named IDs that a relationship does not store yet; undefined when there are none. */
export function newPins(entries: [field: string, stored: unknown, seen: unknown][]): Record<string, string> | undefined {
  const pins: Record<string, string> = {};
  for (const [field, stored, seen] of entries) if (stored === undefined && typeof seen === "string") pins[field] = seen;
  return Object.keys(pins).length > 0 ? pins : undefined;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
