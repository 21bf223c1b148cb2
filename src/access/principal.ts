/**
 * Who is calling? A presented secret is the operator's ADMIN_TOKEN (constant-time), a
 * static token (checksum first, so a mistyped one costs no database read; then its HMAC),
 * one of our own JWTs (job or pull token: signature, issuer, expiry, then not revoked and
 * its project and relationship still there, and for a pull token the credential it was
 * made from still alive and still reaching the project), or nobody, with the reason why.
 *
 * Every door asks here, so the admin API, `/introspect` and the settings page accept
 * exactly the same credentials. It takes the secret as presented and narrow dependencies
 * (`db`, `config`, `now`); it reads no request (routes/ takes the secret from
 * `Authorization: Bearer`, the settings page from its sign-in form) and it decides nothing
 * about what a principal may touch (reach.ts does).
 */
import type { Config } from "../config";
import type { D1Handle } from "../db/replicas";
import { isInGoodStanding, type Standing } from "../db/revoked-tokens";
import { findStaticTokenByHash, touchStaticToken } from "../db/static-tokens";
import { looksLikeJwt, verifyOwnToken, type OwnToken } from "../tokens/own-tokens";
import { TOKEN_KINDS, type Scope } from "../tokens/scopes";
import { loadSigningKeys } from "../tokens/signing-keys";
import { hashStaticToken, looksLikeStaticToken, parseStaticToken } from "../tokens/static-tokens";

interface Static {
  scopes: readonly Scope[];
  tokenId: string;
  /** When the token was created (introspection's `iat`). */
  issuedAt: number;
}

interface Signed {
  scopes: readonly Scope[];
  token: OwnToken;
}

/**
 * A platform credential (anything but the operator). `userId`, `orgId` and `projectId` are
 * the token's reach as the scope table defines it; absent members are explicitly undefined
 * so reach checks read the same fields for every kind.
 */
export type Credential =
  | (Static & { kind: "user"; userId: string; orgId?: undefined; projectId?: undefined })
  | (Static & { kind: "organization"; userId?: undefined; orgId: string; projectId?: undefined })
  | (Static & { kind: "project"; userId?: undefined; orgId: string; projectId: string })
  | (Signed & { kind: "oidc" | "pull"; userId?: undefined; orgId: string; projectId: string });

export type Principal = { kind: "operator" } | Credential;

/** Why a presented secret was not accepted: for the log line only, never the wire. */
export type Unrecognised =
  | "no_bearer_credential"
  | "unrecognised_format"
  | "checksum_mismatch"
  | "token_hash_salt_missing"
  | "unknown_static_token"
  | "signing_keys_missing"
  | "jwt_invalid"
  | "revoked_or_orphaned";

/** What identifying a secret reads: the database, the configured secrets, the clock. */
export interface IdentifyDeps {
  db: D1Handle;
  /**
   * When `db` may be a replica: the primary, to confirm "no such token" and "not in good
   * standing" before refusing (a replica may not have seen a token created, or a project
   * or relationship made, a moment ago). The door moves the rest of its request there.
   */
  primary?: (() => D1Handle) | undefined;
  config: Config;
  now: number;
}

/** What noting a credential's use writes, after the response. */
export interface UseDeps {
  db: D1Handle;
  now: number;
  waitUntil(promise: Promise<unknown>): void;
}

const encoder = new TextEncoder();

/** Digests of the configured secrets (ADMIN_TOKEN, INTROSPECTION_TOKEN), computed once per isolate. */
const expectedDigests = new Map<string, Promise<ArrayBuffer>>();

/** Constant-time equality of two secrets (compares SHA-256 digests, so lengths don't leak). */
export async function secretsEqual(presented: string, expected: string): Promise<boolean> {
  let expectedDigest = expectedDigests.get(expected);
  if (!expectedDigest) {
    expectedDigest = crypto.subtle.digest("SHA-256", encoder.encode(expected));
    expectedDigests.set(expected, expectedDigest);
  }
  const [a, b] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(presented)), expectedDigest]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/**
 * The principal a presented secret is: the operator, a platform credential, or why it is
 * neither. Reads, never writes: a request refused after this (say, by a rate limit) has
 * changed nothing; a door that goes on to act on the credential calls `noteUse`.
 */
export async function identifyPrincipal(deps: IdentifyDeps, presented: string): Promise<Principal | Unrecognised> {
  const adminToken = deps.config.adminToken;
  if (adminToken !== undefined && (await secretsEqual(presented, adminToken))) return { kind: "operator" };
  return identifyCredential(deps, presented);
}

/**
 * The platform credential a presented token is, or why it is not one. Shared by the admin
 * API and `/introspect` (which must not take ADMIN_TOKEN for a token to describe), so both
 * accept exactly the same tokens.
 */
export async function identifyCredential(deps: IdentifyDeps, presented: string): Promise<Credential | Unrecognised> {
  if (looksLikeStaticToken(presented)) return identifyStaticToken(deps, presented);
  if (looksLikeJwt(presented)) return identifyOwnToken(deps, presented);
  return "unrecognised_format";
}

async function identifyStaticToken(deps: IdentifyDeps, presented: string): Promise<Credential | Unrecognised> {
  const kind = parseStaticToken(presented);
  if (!kind) return "checksum_mismatch";
  const salt = deps.config.tokenHashSalt;
  if (!salt) return "token_hash_salt_missing";
  const hash = await hashStaticToken(presented, salt);
  let found = await findStaticTokenByHash(deps.db, hash);
  if (!found && deps.primary) found = await findStaticTokenByHash(deps.primary(), hash);
  // The hash covers the prefix, so a stored row always has the kind its prefix says.
  if (!found || found.kind !== kind) return "unknown_static_token";
  const base = { scopes: TOKEN_KINDS[kind].scopes, tokenId: found.id, issuedAt: found.created_at };
  if (found.kind === "user" && found.user_id) return { ...base, kind: "user", userId: found.user_id };
  if (found.kind === "organization" && found.org_id) return { ...base, kind: "organization", orgId: found.org_id };
  if (found.kind === "project" && found.org_id && found.project_id) {
    return { ...base, kind: "project", orgId: found.org_id, projectId: found.project_id };
  }
  return "unknown_static_token";
}

async function identifyOwnToken(deps: IdentifyDeps, presented: string): Promise<Credential | Unrecognised> {
  const keys = await loadSigningKeys(deps.config.signingKeys);
  if (!keys) return "signing_keys_missing";
  const token = await verifyOwnToken(presented, keys, { publicUrl: deps.config.publicUrl, now: deps.now });
  if (!token) return "jwt_invalid";
  const standing = standingOf(token);
  const good = (await isInGoodStanding(deps.db, standing)) || (deps.primary !== undefined && (await isInGoodStanding(deps.primary(), standing)));
  if (!good) return "revoked_or_orphaned";
  return { kind: token.use, scopes: token.scopes, token, orgId: token.orgId, projectId: token.projectId };
}

/** What must still hold for one of our JWTs to be honoured: its own record and its parent's. */
function standingOf(token: OwnToken): Standing {
  const parent = token.parent;
  return {
    jti: token.jti,
    orgId: token.orgId,
    projectId: token.projectId,
    trustRelationshipId: parent?.kind === "job" ? parent.trustRelationshipId : token.trustRelationshipId,
    parentJti: parent?.kind === "job" ? parent.jti : undefined,
    staticTokenId: parent?.kind === "static" ? parent.tokenId : undefined,
    issuedAt: token.iat,
  };
}

/**
 * A static token's `last_used_at`, after the response (at most one write a minute per
 * token). Only for a credential actually used: never for one a rate limit refused.
 */
export function noteUse(deps: UseDeps, credential: Credential): void {
  if ("tokenId" in credential) deps.waitUntil(touchStaticToken(deps.db, credential.tokenId, deps.now).catch(() => undefined));
}

/**
 * What rate limits count a principal as: who it is, not how its secret was spelled.
 * Public identifiers only (token IDs and `jti`s are in log lines too), never a secret.
 */
export function credentialIdentity(principal: Principal): string {
  if (principal.kind === "operator") return "operator";
  return "token" in principal ? ownTokenIdentity(principal.token.jti) : principal.tokenId;
}

/** The identity of one of our JWTs, also for `/revoke`, which verifies it without authenticating anyone. */
export const ownTokenIdentity = (jti: string): string => `jwt:${jti}`;

/**
 * A log-safe name for a principal: kind and a public identifier (`user:tok_…`, `oidc:<jti>`),
 * never the secret. What log lines say and what the audit log will record as "who".
 */
export function describePrincipal(principal: Principal): string {
  if (principal.kind === "operator") return "operator";
  return "token" in principal ? `${principal.kind}:${principal.token.jti}` : `${principal.kind}:${principal.tokenId}`;
}
