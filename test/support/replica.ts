/**
 * A lagging read replica, simulated: a D1 binding whose reads (and its sessions' reads)
 * come back as a replica that has not yet replayed some writes would answer them. `stale`
 * says how the replica sees each row read: as it is, as it was (a transformed row), or not
 * at all (null). Writes pass through to the real database. Hand it to `meteredDb` as the
 * replica, so only sessions a replica may serve read through it.
 *
 * `at` is the replica's position (a bookmark taken before the writes it has not seen): a
 * session started from a newer bookmark sees everything, as D1 guarantees by waiting for
 * the replica or asking the primary.
 */

import { env } from "cloudflare:workers";

export type Row = Record<string, unknown>;

export function laggingReplica(db: D1Database, stale: (row: Row) => Row | null, at?: string): D1Database {
  const real = new WeakMap<object, D1PreparedStatement>();

  const handle = (target: Pick<D1Database, "prepare" | "batch">, lagging: boolean) => {
    const keep = <T>(result: D1Result<T>): D1Result<T> =>
      lagging ? { ...result, results: result.results.map((row) => stale(row as Row)).filter((row) => row !== null) as T[] } : result;
    const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
      const all = async <T>() => keep(await statement.all<T>());
      const proxy = {
        bind: (...values: unknown[]) => wrap(statement.bind(...values)),
        all,
        run: all,
        first: async (column?: string) => {
          const row = ((await all<Row>()).results[0] ?? null) as Row | null;
          return column === undefined || row === null ? row : (row[column] ?? null);
        },
        raw: () => {
          throw new Error("raw() is not simulated");
        },
      };
      real.set(proxy, statement);
      return proxy as unknown as D1PreparedStatement;
    };
    return {
      prepare: (sql: string) => wrap(target.prepare(sql)),
      batch: async (statements: D1PreparedStatement[]) => (await target.batch(statements.map((s) => real.get(s) ?? s))).map(keep),
    };
  };

  return {
    ...handle(db, true),
    exec: (query: string) => db.exec(query),
    withSession: (start?: string) => {
      const session = db.withSession(start);
      const caughtUp = start !== undefined && at !== undefined && !start.startsWith("first-") && start > at;
      return { ...handle(session, !caughtUp), getBookmark: () => session.getBookmark() };
    },
    dump: () => db.dump(),
  } as unknown as D1Database;
}

/** The primary's position now: a bookmark taken on it (what a replica that stopped here has seen). */
export async function primaryPosition(db: D1Database): Promise<string> {
  const session = db.withSession("first-primary");
  await session.prepare("SELECT 1").all();
  return session.getBookmark()!;
}

/** A replica that has not seen the rows whose `id` is in `fresh` (filled as a test writes them). */
export function hiding(fresh: Set<string>, at?: string): D1Database {
  return laggingReplica(env.DB, (row) => (typeof row.id === "string" && fresh.has(row.id) ? null : row), at);
}

/** A replica that has not replayed a revocation: every token still reads as not revoked. */
export const notRevokedYet = (): D1Database => laggingReplica(env.DB, (row) => ("not_revoked" in row ? { ...row, not_revoked: 1 } : row));
