/**
 * Sessions of the settings page: signing in with a pasted credential, the session cookie,
 * the per-session CSRF token, and resolving the cookie back to a principal on every request.
 *
 * The browser holds only a random 256-bit session ID in a `__Host-` cookie (HttpOnly,
 * Secure, SameSite=Strict, Path=/). D1 holds SHA-256 of that ID, the kind of credential
 * and its identity (a static token's ID), never the pasted token. Every request re-reads
 * the credential: a deleted token, a removed user or organization, a rotated ADMIN_TOKEN
 * or TOKEN_HASH_SALT ends the session at once. Sessions expire 8 hours after sign-in
 * (absolute, not sliding: a stolen cookie is worth at most a working day, and requests
 * write nothing).
 *
 * The pasted token is identified by the access module every door uses
 * (`access/principal.ts`), so the page accepts exactly the credentials the API accepts.
 * What a principal may see or change is not decided here (`access/reach.ts` does).
 */
import { getCookie } from "hono/cookie";
import { describePrincipal, identifyPrincipal, noteUse, type Principal } from "../access/principal";
import { encodeBase64Url } from "../base64url";
import { BOOKMARK_PATTERN } from "../db/replicas";
import { createUiSession, deleteUiSession, findUiSession, type StoredUiSession, type UiSessionKind } from "../db/ui-sessions";
import { StsError } from "../errors";
import { accessDeps, nowSeconds, type AppContext } from "../routes/context";
import { confirmOnPrimary, databaseOf } from "../routes/database";
import { setResponseHeader } from "../routes/response-headers";
import { TOKEN_KINDS } from "../tokens/scopes";

export const SESSION_COOKIE = "__Host-sts_session";
/** Pre-session cookie for the sign-in form's CSRF token (login CSRF, OWASP). */
export const SIGN_IN_COOKIE = "__Host-sts_signin";
export const SESSION_TTL_SECONDS = 8 * 60 * 60;
/**
 * The D1 bookmark of the browser's last change (read replicas: `routes/database.ts`), so
 * the page loaded after a form post reads a replica at least as new as that post's write.
 * Not a secret (it names a position in the database's history), but kept like the others.
 */
const BOOKMARK_COOKIE = "__Host-sts_bookmark";
const SIGN_IN_COOKIE_TTL_SECONDS = 60 * 60;

/** 32 random bytes, base64url: 43 characters. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Labels keep each derived value to its one purpose (no MAC is valid as another). */
const CSRF_LABEL = "edge-sts settings csrf v1";
const SECRET_MAC_LABEL = "edge-sts settings session v1";

/** What a signed-in page knows about its caller. */
export interface UiSession {
  /** The admin API's principal type, so pages call domain functions with what routes/ would. */
  principal: Principal;
  /** The hidden-field value every state-changing form must carry. */
  csrf: string;
  /** Who is signed in, for the header: kind and public identifiers only, never a token. */
  who: Who;
  expiresAt: number;
}

export type Who =
  | { kind: "operator" }
  | { kind: "user"; userId: string; name: string; email: string; tokenId: string }
  | { kind: "organization"; orgId: string; name: string; tokenId: string };

const encoder = new TextEncoder();

const hex = (buffer: ArrayBuffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

function newSecret(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

export async function sha256Hex(value: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

async function hmac(key: string, message: string): Promise<ArrayBuffer> {
  const imported = await crypto.subtle.importKey("raw", encoder.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", imported, encoder.encode(message));
}

/**
 * The CSRF token of a session (or of a sign-in form): HMAC keyed by the cookie's secret,
 * so it needs no storage, differs per session, and reveals nothing about the cookie.
 */
export async function csrfTokenFor(secret: string): Promise<string> {
  return encodeBase64Url(new Uint8Array(await hmac(secret, CSRF_LABEL)));
}

/** Constant-time equality of two strings of any length (compares SHA-256 digests). */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(a)), crypto.subtle.digest("SHA-256", encoder.encode(b))]);
  return crypto.subtle.timingSafeEqual(x, y);
}

/** Ties a session to the secret its credential depends on; rotating that secret ends it. */
function secretMac(secret: string): Promise<string> {
  return hmac(secret, SECRET_MAC_LABEL).then(hex);
}

function cookie(name: string, value: string, maxAge: number): string {
  return `${name}=${value}; Path=/; Max-Age=${maxAge}; Secure; HttpOnly; SameSite=Strict`;
}

/** The bookmark of the browser's last change, if the cookie holds one (anything else is ignored). */
export function bookmarkCookie(c: AppContext): string | undefined {
  const value = getCookie(c, BOOKMARK_COOKIE);
  return value !== undefined && BOOKMARK_PATTERN.test(value) ? value : undefined;
}

export function setBookmarkCookie(c: AppContext, bookmark: string): void {
  setResponseHeader(c, "Set-Cookie", cookie(BOOKMARK_COOKIE, bookmark, SESSION_TTL_SECONDS), { append: true });
}

export function clearSessionCookie(c: AppContext): void {
  c.header("Set-Cookie", cookie(SESSION_COOKIE, "", 0), { append: true });
}

/** The session ID in the cookie, if it has the shape of one (anything else is ignored unread). */
function sessionIdOf(c: AppContext): string | undefined {
  const id = getCookie(c, SESSION_COOKIE);
  return id !== undefined && SECRET_PATTERN.test(id) ? id : undefined;
}

/**
 * The sign-in form's CSRF token, setting its pre-session cookie when there is none yet
 * (kept when present, so two open sign-in tabs both work).
 */
export async function signInFormToken(c: AppContext): Promise<string> {
  let secret = getCookie(c, SIGN_IN_COOKIE);
  if (secret === undefined || !SECRET_PATTERN.test(secret)) {
    secret = newSecret();
    c.header("Set-Cookie", cookie(SIGN_IN_COOKIE, secret, SIGN_IN_COOKIE_TTL_SECONDS), { append: true });
  }
  return csrfTokenFor(secret);
}

/** Refuses a sign-in form whose token does not match its pre-session cookie. */
export async function requireSignInFormToken(c: AppContext, presented: string | undefined): Promise<void> {
  const secret = getCookie(c, SIGN_IN_COOKIE);
  if (secret === undefined || !SECRET_PATTERN.test(secret) || presented === undefined) {
    throw new StsError("cross_site_request", undefined, "sign-in form token missing");
  }
  if (!(await constantTimeEqual(presented, await csrfTokenFor(secret)))) {
    throw new StsError("cross_site_request", undefined, "sign-in form token mismatch");
  }
}

/** Refuses a state change whose hidden CSRF field is not this session's. */
export async function requireSessionCsrf(session: UiSession, presented: string | undefined): Promise<void> {
  if (presented === undefined || !(await constantTimeEqual(presented, session.csrf))) {
    throw new StsError("cross_site_request", undefined, "csrf token missing or mismatched");
  }
}

/**
 * Signs in with a pasted credential: the operator's ADMIN_TOKEN, a user token or an
 * organization token. Project, job and pull tokens administer nothing, so they are refused
 * (403 `insufficient_scope`); anything unrecognised is 401 `unauthenticated`, with the
 * reason for the log line only. Sets the session cookie and drops the sign-in cookie.
 */
export async function signIn(c: AppContext, presented: string): Promise<void> {
  const config = c.get("config");
  const deps = accessDeps(c);
  const principal = await identifyPrincipal(deps, presented);
  if (typeof principal === "string") throw new StsError("unauthenticated", undefined, principal);
  let kind: UiSessionKind;
  let credentialId: string | null;
  let secret: string;
  if (principal.kind === "operator") {
    kind = "operator";
    credentialId = null;
    secret = config.adminToken!;
  } else if (principal.kind === "user" || principal.kind === "organization") {
    noteUse(deps, principal);
    kind = principal.kind;
    credentialId = principal.tokenId;
    // A static token was recognised, so the salt is configured.
    secret = config.tokenHashSalt!;
  } else {
    throw new StsError("insufficient_scope", undefined, `sign-in refused for a ${principal.kind} token`);
  }
  // Signing in again (another tab, another credential) replaces the session this browser had.
  const previous = sessionIdOf(c);
  if (previous !== undefined) await deleteUiSession(databaseOf(c), await sha256Hex(previous));
  const id = newSecret();
  const now = nowSeconds();
  await createUiSession(databaseOf(c), {
    idHash: await sha256Hex(id),
    kind,
    credentialId,
    secretMac: await secretMac(secret),
    createdAt: now,
    expiresAt: now + SESSION_TTL_SECONDS,
  });
  c.get("log").principal = describePrincipal(principal);
  c.header("Set-Cookie", cookie(SESSION_COOKIE, id, SESSION_TTL_SECONDS), { append: true });
  c.header("Set-Cookie", cookie(SIGN_IN_COOKIE, "", 0), { append: true });
}

/** Deletes the session row (if any) and the cookie. */
export async function signOut(c: AppContext): Promise<void> {
  const id = sessionIdOf(c);
  if (id !== undefined) await deleteUiSession(databaseOf(c), await sha256Hex(id));
  clearSessionCookie(c);
}

/**
 * The signed-in caller, re-checked against the credential, or null. A session whose
 * credential is gone or whose secret was rotated is deleted on sight.
 */
export async function currentSession(c: AppContext): Promise<UiSession | null> {
  const id = sessionIdOf(c);
  if (id === undefined) return null;
  const idHash = await sha256Hex(id);
  let stored = await findUiSession(databaseOf(c), idHash, nowSeconds());
  // A replica may not have seen a sign-in a moment ago (a browser without the bookmark cookie).
  const primary = confirmOnPrimary(c);
  if (!stored && primary) stored = await findUiSession(primary(), idHash, nowSeconds());
  if (!stored) return null;
  const resolved = await resolveStored(c, stored);
  if (!resolved) {
    await deleteUiSession(databaseOf(c), idHash);
    return null;
  }
  c.get("log").principal = describePrincipal(resolved.principal);
  return { ...resolved, csrf: await csrfTokenFor(id), expiresAt: stored.expiresAt };
}

async function resolveStored(c: AppContext, stored: StoredUiSession): Promise<Pick<UiSession, "principal" | "who"> | null> {
  const config = c.get("config");
  const secret = stored.kind === "operator" ? config.adminToken : config.tokenHashSalt;
  if (secret === undefined || !(await constantTimeEqual(stored.secretMac, await secretMac(secret)))) return null;
  switch (stored.kind) {
    case "operator":
      return { principal: { kind: "operator" }, who: { kind: "operator" } };
    case "user": {
      const { token, user } = stored;
      if (!token || !user || stored.credentialId === null) return null;
      const base = { scopes: TOKEN_KINDS.user.scopes, tokenId: stored.credentialId, issuedAt: token.createdAt };
      return {
        principal: { ...base, kind: "user", userId: user.id },
        who: { kind: "user", userId: user.id, name: user.name, email: user.email, tokenId: stored.credentialId },
      };
    }
    case "organization": {
      const { token, org } = stored;
      if (!token || !org || stored.credentialId === null) return null;
      const base = { scopes: TOKEN_KINDS.organization.scopes, tokenId: stored.credentialId, issuedAt: token.createdAt };
      return {
        principal: { ...base, kind: "organization", orgId: org.id },
        who: { kind: "organization", orgId: org.id, name: org.name, tokenId: stored.credentialId },
      };
    }
  }
}
