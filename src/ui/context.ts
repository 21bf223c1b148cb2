/**
 * What every handler of the settings page shares: the request's session (resolved once by
 * the middleware in `settings.tsx`), `page()` and `change()` around every handler (sign-in
 * redirect, the CSRF field of a change), rendering, running a mutating admin verb
 * (`perform`), and the redirect after a change with its fixed notice.
 *
 * It decides nothing about who may do what (the admin verbs do, through `access/`).
 */
import type { Context } from "hono";
import type { Changed } from "../admin/changes";
import type { AdminContext } from "../admin/context";
import { StsError, toWire } from "../errors";
import { performAudited } from "../routes/audit";
import { adminContextFor, type AppContext } from "../routes/context";
import type { JSX } from "./jsx-runtime";
import { fieldErrorOf, valuesOf, type FormState } from "./forms";
import { readForm } from "./security";
import { requireSessionCsrf, type UiSession } from "./session";

export type PageStatus = 200 | 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503;

const sessions = new WeakMap<Request, UiSession | null>();

export function rememberSession(c: AppContext, session: UiSession | null): void {
  sessions.set(c.req.raw, session);
}

/** The session of this request, or null when nobody is signed in. */
export const sessionOf = (c: AppContext): UiSession | null => sessions.get(c.req.raw) ?? null;

export function render(c: Context, page: JSX.Element, status: PageStatus = 200) {
  return c.html(`<!DOCTYPE html>${page}`, status);
}

export const toSignIn = (c: AppContext) => c.redirect("/settings/sign-in", 303);

/** Writes a refusal to the request's log line, as `app.ts` does for the API. */
export function logRefusal(c: AppContext, error: StsError): void {
  const log = c.get("log");
  log.reason = error.reason;
  if (error.logDetail) log.detail = error.logDetail;
}

/**
 * A form the verb refused for its input, logged: its values to fill it in again, the
 * refusal beside the field it names (one of `fields`) or for the whole form, and the
 * status to answer with. A form whose values must not come back (a pasted token) passes
 * an empty map.
 */
export function refusedForm(c: AppContext, error: StsError, form: Map<string, string>, fields: readonly string[]): { state: FormState; status: PageStatus } {
  logRefusal(c, error);
  return { state: { values: valuesOf(form), error: fieldErrorOf(error, fields) }, status: toWire(error.reason).status };
}

/**
 * A signed-in state change's fields, once its CSRF field is this session's (the origin was
 * checked by the middleware before the session was looked at).
 */
export async function checkedForm(c: AppContext, session: UiSession): Promise<Map<string, string>> {
  const form = await readForm(c);
  await requireSessionCsrf(session, form.get("csrf"));
  return form;
}

/** After a change: back to a page, with a fixed notice naming what happened (never echoed text). */
export function seeOther(c: AppContext, path: string, notice?: Notice, anchor?: string) {
  return c.redirect(`${path}${notice ? `?done=${notice}` : ""}${anchor ? `#${anchor}` : ""}`, 303);
}

/** What a page may say happened; anything else in `?done=` is ignored. */
export const NOTICES = {
  "org-created": "Organization created.",
  "project-created": "Project created. Add a trust relationship so CI jobs can get tokens for it.",
  "project-deleted": "Project deleted. Its trust relationships are gone and its tokens no longer work.",
  "relationship-added": "Trust relationship added.",
  "relationship-deleted": "Trust relationship deleted. Jobs it admitted can no longer get tokens through it.",
  "token-deleted": "Token deleted. It no longer works anywhere.",
  "member-added": "Member added.",
  "member-removed": "Member removed.",
} as const;
export type Notice = keyof typeof NOTICES;

export function noticeOf(c: AppContext): string | undefined {
  const done = c.req.query("done");
  return done !== undefined && Object.hasOwn(NOTICES, done) ? NOTICES[done as Notice] : undefined;
}

/**
 * Runs a mutating admin verb as the session's principal and returns its result: the one
 * place the page performs a change, recorded in the audit log as the admin API's are.
 */
export function perform<T>(c: AppContext, session: UiSession, verb: (ctx: AdminContext) => Promise<Changed<T>>): Promise<T> {
  return performAudited(c, adminContextFor(c, session.principal), verb);
}

type Handler<A extends unknown[]> = (c: AppContext, session: UiSession, ...rest: A) => Response | Promise<Response>;

/** A page for signed-in people: anyone else is sent to sign in. */
export function page(handler: Handler<[]>) {
  return (c: AppContext) => {
    const session = sessionOf(c);
    return session ? handler(c, session) : toSignIn(c);
  };
}

/** A signed-in state change: sent to sign in without a session, refused without its CSRF field, else handled with the form. */
export function change(handler: Handler<[Map<string, string>]>) {
  return async (c: AppContext) => {
    const session = sessionOf(c);
    return session ? handler(c, session, await checkedForm(c, session)) : toSignIn(c);
  };
}
