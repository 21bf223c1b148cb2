/**
 * Who is calling, and may they touch this organization, project or user?
 *
 * The caller is resolved once per request (the rate limit asks before the route does)
 * from `Authorization: Bearer`: the operator's ADMIN_TOKEN (constant-time), a static token
 * (checksum first, so a mistyped one costs no database read; then its HMAC), or one of our
 * own JWTs (job or pull token: signature, issuer, expiry, then not revoked and its project
 * and relationship still there, and for a pull token the credential it was made from still
 * alive and still reaching the project).
 *
 * Tenancy is enforced here and only here, from the scope table in `tokens/scopes.ts`:
 * a credential without the needed scope answers 403 `insufficient_scope` before any
 * resource is looked up (so the answer says nothing about other tenants), and a resource
 * outside the credential's reach answers 404, exactly like one that does not exist.
 */
import { ID_PATTERN } from "../db/d1";
import { findOrganization, findProject, type Organization, type Project } from "../db/organizations";
import { isInGoodStanding, type Standing } from "../db/revoked-tokens";
import { findStaticTokenByHash, touchStaticToken } from "../db/static-tokens";
import { findRole, findUser, type User } from "../db/users";
import { StsError } from "../errors";
import { looksLikeJwt, verifyOwnToken, type OwnToken } from "../tokens/own-tokens";
import { TOKEN_KINDS, type Scope } from "../tokens/scopes";
import { loadSigningKeys } from "../tokens/signing-keys";
import { hashStaticToken, looksLikeStaticToken, parseStaticToken } from "../tokens/static-tokens";
import { nowSeconds, waitUntilOf, type AppContext } from "./context";

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

export type Access = "read" | "admin";

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

export function bearerToken(c: AppContext): string | undefined {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer ([\x21-\x7e]{1,8192})$/i);
  return match?.[1];
}

/** Why a presented token was not accepted: for the log line only, never the wire. */
export type Unrecognised =
  | "no_bearer_credential"
  | "unrecognised_format"
  | "checksum_mismatch"
  | "token_hash_salt_missing"
  | "unknown_static_token"
  | "signing_keys_missing"
  | "jwt_invalid"
  | "revoked_or_orphaned";

/**
 * The platform credential a presented token is, or why it is not one. Shared by the admin
 * API and `/introspect`, so both accept exactly the same tokens.
 */
export async function identifyCredential(c: AppContext, presented: string): Promise<Credential | Unrecognised> {
  if (looksLikeStaticToken(presented)) return identifyStaticToken(c, presented);
  if (looksLikeJwt(presented)) return identifyOwnToken(c, presented);
  return "unrecognised_format";
}

async function identifyStaticToken(c: AppContext, presented: string): Promise<Credential | Unrecognised> {
  const kind = parseStaticToken(presented);
  if (!kind) return "checksum_mismatch";
  const salt = c.get("config").tokenHashSalt;
  if (!salt) return "token_hash_salt_missing";
  const found = await findStaticTokenByHash(c.env.DB, await hashStaticToken(presented, salt));
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

async function identifyOwnToken(c: AppContext, presented: string): Promise<Credential | Unrecognised> {
  const config = c.get("config");
  const keys = await loadSigningKeys(config.signingKeys);
  if (!keys) return "signing_keys_missing";
  const token = await verifyOwnToken(presented, keys, { publicUrl: config.publicUrl, now: nowSeconds() });
  if (!token) return "jwt_invalid";
  if (!(await isInGoodStanding(c.env.DB, standingOf(token)))) return "revoked_or_orphaned";
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

/** Per request: the rate limit and the route ask who is calling; the answer is worked out once. */
const callers = new WeakMap<Request, Promise<Principal | Unrecognised>>();

/**
 * Who presented this request's bearer credential, or why it is nobody. Reads, never
 * writes: a request refused after this (say, by a rate limit) has changed nothing.
 */
export function identifyCaller(c: AppContext): Promise<Principal | Unrecognised> {
  let caller = callers.get(c.req.raw);
  if (!caller) {
    caller = identifyBearer(c);
    callers.set(c.req.raw, caller);
  }
  return caller;
}

async function identifyBearer(c: AppContext): Promise<Principal | Unrecognised> {
  const presented = bearerToken(c);
  if (presented === undefined) return "no_bearer_credential";
  const adminToken = c.get("config").adminToken;
  const caller = adminToken !== undefined && (await secretsEqual(presented, adminToken)) ? ({ kind: "operator" } as const) : await identifyCredential(c, presented);
  // Logged as soon as known, so a request refused by its rate limit still says whose it was.
  if (typeof caller !== "string") c.get("log").principal = caller.kind === "operator" ? "operator" : describePrincipal(caller);
  return caller;
}

/** The caller of an authenticated route, or 401 `invalid_token`. */
export async function resolvePrincipal(c: AppContext): Promise<Principal> {
  const caller = await identifyCaller(c);
  if (typeof caller === "string") throw new StsError("unauthenticated", undefined, caller);
  if (caller.kind !== "operator") noteUse(c, caller);
  return caller;
}

/**
 * A static token's `last_used_at`, after the response (at most one write a minute per
 * token). Only for a credential actually used: never for one a rate limit refused.
 */
export function noteUse(c: AppContext, credential: Credential): void {
  if ("tokenId" in credential) waitUntilOf(c)(touchStaticToken(c.env.DB, credential.tokenId, nowSeconds()).catch(() => undefined));
}

/**
 * What rate limits count a credential as: who it is, not how its header was spelled.
 * Public identifiers only (token IDs and `jti`s are in log lines too), never a secret.
 */
export function credentialIdentity(principal: Principal): string {
  if (principal.kind === "operator") return "operator";
  return "token" in principal ? ownTokenIdentity(principal.token.jti) : principal.tokenId;
}

/** The identity of one of our JWTs, also for `/revoke`, which verifies it without authenticating anyone. */
export const ownTokenIdentity = (jti: string): string => `jwt:${jti}`;

/** A log-safe name for the caller: kind and a public identifier, never the token. */
function describePrincipal(credential: Credential): string {
  return "token" in credential ? `${credential.kind}:${credential.token.jti}` : `${credential.kind}:${credential.tokenId}`;
}

/** The scope table decides: the operator holds every scope; a credential only its kind's. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (principal.kind === "operator") return;
  if (!principal.scopes.includes(scope)) throw new StsError("insufficient_scope");
}

/** Operator-only routes (creating organizations and users). */
export function requireOperator(principal: Principal): void {
  if (principal.kind !== "operator") throw new StsError("insufficient_scope");
}

/**
 * Is the target within the principal's reach (SPEC §4)? Out of reach is `not_found`.
 * Administering needs an admin: the operator, an org token, or an admin member's user token.
 */
async function requireReach(c: AppContext, principal: Principal, target: { orgId: string; projectId?: string }, access: Access) {
  if (principal.kind === "operator") return;
  switch (TOKEN_KINDS[principal.kind].reach) {
    case "organization":
      if (principal.orgId !== target.orgId) throw new StsError("not_found");
      return;
    case "memberships": {
      const role = principal.userId === undefined ? null : await findRole(c.env.DB, target.orgId, principal.userId);
      if (!role) throw new StsError("not_found");
      if (access === "admin" && role !== "admin") throw new StsError("insufficient_scope");
      return;
    }
    case "project":
      if (target.projectId === undefined || principal.projectId !== target.projectId) throw new StsError("not_found");
      if (access === "admin") throw new StsError("insufficient_scope");
      return;
  }
}

/** A path ID that cannot exist is simply not found. */
export function pathId(pattern: RegExp, value: string): string {
  if (!pattern.test(value)) throw new StsError("not_found");
  return value;
}

/** Admin API on an organization: `api` scope, the org exists, and it is within reach. */
export async function authorizeOrg(c: AppContext, id: string, access: Access): Promise<{ principal: Principal; org: Organization }> {
  const principal = await resolvePrincipal(c);
  requireScope(principal, "api");
  const org = await findOrganization(c.env.DB, pathId(ID_PATTERN.org, id));
  if (!org) throw new StsError("not_found");
  await requireReach(c, principal, { orgId: org.id }, access);
  c.get("log").org_id = org.id;
  return { principal, org };
}

/** Admin API on a project: `api` scope, the project exists, and it is within reach. */
export async function authorizeProject(c: AppContext, id: string, access: Access): Promise<{ principal: Principal; project: Project }> {
  const principal = await resolvePrincipal(c);
  requireScope(principal, "api");
  return { principal, project: await projectWithinReach(c, principal, id, access) };
}

/**
 * Minting a pull token: any credential with registry access to the project (SPEC §4), read
 * access being enough. A pull token is the end of the delegation chain: it may not mint
 * more pull tokens, or a leaked one could be renewed forever.
 */
export async function authorizeRegistry(c: AppContext, id: string): Promise<{ principal: Principal; project: Project }> {
  const principal = await resolvePrincipal(c);
  requireScope(principal, "registry:pull");
  if (principal.kind === "pull") throw new StsError("insufficient_scope");
  return { principal, project: await projectWithinReach(c, principal, id, "read") };
}

async function projectWithinReach(c: AppContext, principal: Principal, id: string, access: Access): Promise<Project> {
  const project = await findProject(c.env.DB, pathId(ID_PATTERN.prj, id));
  if (!project) throw new StsError("not_found");
  await requireReach(c, principal, { orgId: project.org_id, projectId: project.id }, access);
  const log = c.get("log");
  log.org_id = project.org_id;
  log.project_id = project.id;
  return project;
}

/** A user's own resources (their tokens): the user themselves or the operator; anyone else 404. */
export async function authorizeUser(c: AppContext, id: string): Promise<{ principal: Principal; user: User }> {
  const principal = await resolvePrincipal(c);
  requireScope(principal, "api");
  pathId(ID_PATTERN.usr, id);
  if (principal.kind !== "operator" && principal.userId !== id) throw new StsError("not_found");
  const user = await findUser(c.env.DB, id);
  if (!user) throw new StsError("not_found");
  return { principal, user };
}
