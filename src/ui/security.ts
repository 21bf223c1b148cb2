/**
 * The settings page's protections at the door: response headers on every page (a strict
 * CSP, no-store, nosniff, no referrer, no framing), the same-origin check on every POST,
 * the form body reader, and the rate limit.
 *
 * CSRF is refused three times over: the session cookie is SameSite=Strict, every POST must
 * come from our own origin (below), and every form carries a per-session token
 * (`session.ts`). This file does not decide who may do what.
 */
import type { MiddlewareHandler } from "hono";
import { StsError } from "../errors";
import { readCappedText } from "../read-capped";
import type { AppContext } from "../routes/context";
import { credentialIdentity, type Principal } from "../access/principal";
import { limitCaller } from "../routes/rate-limit";

/**
 * No inline script or style, nothing from elsewhere, no plugins, no <base>, forms only to
 * us, never framed (CSP Level 3; `frame-ancestors` supersedes X-Frame-Options).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

/**
 * Every response under /settings: the headers above, and `no-store` unless the route set
 * its own caching (only the content-addressed assets do). Applied after the handler, so
 * errors and redirects carry them too.
 */
export const pageHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  for (const [name, value] of Object.entries(PAGE_HEADERS)) c.res.headers.set(name, value);
  if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  if (new URL(c.req.url).protocol === "https:") c.res.headers.set("Strict-Transport-Security", "max-age=31536000");
};

/**
 * A POST must come from a page of our own origin. Browsers send `Origin` on every POST,
 * but as the literal `null` when the page's referrer policy is `no-referrer` (Fetch
 * §3.1, "serializing a request origin"), which ours is; then `Sec-Fetch-Site`, which a
 * page cannot forge, must say `same-origin`. A request with neither is refused.
 */
export function requireSameOrigin(c: AppContext): void {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin") throw new StsError("cross_site_request", undefined, `sec-fetch-site ${site.slice(0, 16)}`);
  const origin = c.req.header("origin");
  if (origin === new URL(c.req.url).origin) return;
  if ((origin === undefined || origin === "null") && site === "same-origin") return;
  throw new StsError("cross_site_request", undefined, origin === undefined ? "no origin" : "foreign origin");
}

/** The admin API's body cap (its 413 says 32 KiB); a form post is far smaller. */
export const MAX_FORM_BYTES = 32 * 1024;

const forms = new WeakMap<Request, Map<string, string>>();

/**
 * The POST's form fields, read once (size-capped) and remembered for the request. Only
 * `application/x-www-form-urlencoded`, what our forms send; a field given twice is refused.
 */
export async function readForm(c: AppContext): Promise<Map<string, string>> {
  const cached = forms.get(c.req.raw);
  if (cached) return cached;
  const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") throw new StsError("media_type_unsupported");
  // Never cancel a request body: it would break the client's keep-alive connection behind wrangler dev (read-capped.ts).
  const read = await readCappedText(c.req.raw.body, c.req.header("content-length"), MAX_FORM_BYTES, { unread: "discard" });
  if (!read.ok) throw new StsError(read.why === "too_large" ? "body_too_large" : "body_malformed");
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(read.text)) {
    if (fields.has(name)) throw new StsError("field_invalid", "a form field was repeated");
    fields.set(name, value);
  }
  forms.set(c.req.raw, fields);
  return fields;
}

/**
 * The admin API's budgets (`ADMIN_LIMITER`) apply to the page as they are: a sign-in
 * attempt has not authenticated yet, so it counts against its client network, like a
 * request with an unknown bearer token; a signed-in request counts against its
 * credential's identity, the same budget that credential spends on `/v1`.
 */
export function limitSignIn(c: AppContext): Promise<void> {
  return limitCaller(c, undefined);
}

export function limitSession(c: AppContext, principal: Principal): Promise<void> {
  return limitCaller(c, credentialIdentity(principal));
}
