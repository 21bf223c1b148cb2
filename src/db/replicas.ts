/**
 * Where a query runs, with D1 read replication (the Sessions API). Every verb in `db/`
 * takes a `D1Handle`: the binding itself (always the primary), or a session of it. Writes
 * always go to the primary; a session's reads go to the primary or to a replica, but never
 * to one older than what the session has already seen or written (sequential consistency).
 *
 * Who reads where is the callers' choice, and the README's "Read replicas" section says why
 * for each path: an answer that a lagging replica could have got wrong is confirmed on the
 * primary before anyone acts on it. This file names the two fixed starts of a session; a
 * request's own session may also start from a client's bookmark (routes/database.ts).
 */

/** What the verbs need of D1: the binding or a `D1DatabaseSession` alike. */
export type D1Handle = Pick<D1Database, "prepare" | "batch">;

/**
 * A D1 bookmark as D1 hands them out (`getBookmark()`): four hex groups, 8-8-8-32, ordered
 * lexicographically by position in the database's history. Anything else a client sends
 * back is refused at the door rather than handed to D1.
 */
export const BOOKMARK_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/** The primary first: answers that must be current (a revocation, a write's preconditions). */
export const onPrimary = (db: D1Database): D1DatabaseSession => db.withSession("first-primary");

/** The nearest instance, replica or primary: possibly behind the primary by its replication lag. */
export const onNearest = (db: D1Database): D1DatabaseSession => db.withSession("first-unconstrained");

/** The later of two bookmarks (they sort by position), or whichever exists. */
export function laterBookmark(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return a > b ? a : b;
}
