/**
 * Where this request's D1 queries run, with D1 read replication (`db/replicas.ts`), for
 * the doors that read on a caller's behalf: the admin API, `/introspect`, the settings page.
 *
 * - Admin API reads (GET, HEAD) start from the bookmark the client sent back in
 *   `Sts-Bookmark` (so they see at least what its earlier requests saw or wrote), or, with
 *   none, from the nearest replica. Every other admin request (changes, explain, suggest)
 *   starts on the primary, so a change is decided on current data.
 * - An answer a replica may have got wrong (a credential it does not know, one it thinks
 *   revoked) is confirmed on the primary, and the rest of the request then stays there
 *   (`confirmOnPrimary`).
 * - Every admin API response carries, in `Sts-Bookmark`, the newest bookmark the request
 *   saw or wrote, for the client's next read.
 *
 * HTTP only: which constraint a request starts from, and the header. The verbs below take
 * the handle `databaseOf` gives and never learn which instance answered.
 */
import type { MiddlewareHandler } from "hono";
import { BOOKMARK_PATTERN, laterBookmark, onPrimary, type D1Handle } from "../db/replicas";
import { StsError } from "../errors";
import type { AppContext, AppEnv } from "./context";
import { setResponseHeader } from "./response-headers";

/** Request and response header of the admin API: a D1 bookmark, opaque to clients. */
export const BOOKMARK_HEADER = "Sts-Bookmark";

/** The request's D1 sessions, kept in its context (`c.get("database")`). */
export interface RequestDatabase {
  current: D1DatabaseSession;
  /** The request's session on the primary, once it has one. */
  primary?: D1DatabaseSession;
  /** Newest bookmark of sessions the request has left (it moved to the primary). */
  left: string | null;
}

/** Starts this request's session: from a constraint, or from a bookmark (validated by the caller). */
export function startSession(c: AppContext, start: "first-primary" | "first-unconstrained" | string): void {
  const session = c.env.DB.withSession(start);
  c.set("database", { current: session, primary: start === "first-primary" ? session : undefined, left: null });
}

/** The handle this request's queries use: its session, or the binding (the primary) when it started none. */
export function databaseOf(c: AppContext): D1Handle {
  return c.get("database")?.current ?? c.env.DB;
}

/**
 * How to confirm a replica's answer: moves the rest of the request to the primary and
 * returns it. Undefined when the request reads the primary already (or has no session),
 * so nothing is asked twice.
 */
export function confirmOnPrimary(c: AppContext): (() => D1Handle) | undefined {
  const request = c.get("database");
  if (!request || request.current === request.primary) return undefined;
  return () => {
    request.primary ??= onPrimary(c.env.DB);
    if (request.current !== request.primary) {
      request.left = laterBookmark(request.left, request.current.getBookmark());
      request.current = request.primary;
    }
    return request.primary;
  };
}

/** The newest bookmark this request has seen or written, if it ran any query in a session. */
export function bookmarkOf(c: AppContext): string | null {
  const request = c.get("database");
  return request ? laterBookmark(request.left, request.current.getBookmark()) : null;
}

/** A bookmark a client sent back, or undefined; one D1 never handed out is refused (400). */
export function presentedBookmark(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!BOOKMARK_PATTERN.test(value)) throw new StsError("field_invalid", `${name}: not a bookmark this service returned`);
  return value;
}

/** The admin API's session (mounted on `/v1/*` before anything that reads D1), and its bookmark on the way out. */
export const apiDatabase: MiddlewareHandler<AppEnv> = async (c, next) => {
  const presented = presentedBookmark(c.req.header(BOOKMARK_HEADER), BOOKMARK_HEADER);
  const reading = c.req.method === "GET" || c.req.method === "HEAD";
  startSession(c, reading ? (presented ?? "first-unconstrained") : "first-primary");
  await next();
  const bookmark = laterBookmark(presented, bookmarkOf(c));
  if (bookmark) setResponseHeader(c, BOOKMARK_HEADER, bookmark);
};
