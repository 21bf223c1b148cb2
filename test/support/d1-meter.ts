/**
 * A D1 binding that meters what the worker asks of the database: every round trip (one
 * statement call, or one batch) with its SQL, the rows D1 itself reports as read
 * (`meta.rows_read`), and where it ran: on the binding itself, or through a session of it
 * (`withSession`), named by the constraint or bookmark the session was started from. For
 * tests that bound the exchange's database cost and prove which reads a replica may serve.
 */

export interface RoundTrip {
  sql: string[];
  rowsRead: number;
  /** `"binding"`, or the session's start: `"first-primary"`, `"first-unconstrained"` or a bookmark. */
  via: string;
}

export interface Meter {
  db: D1Database;
  trips: RoundTrip[];
  /** The argument of every `withSession` call, in order. */
  sessions: string[];
  rowsRead(): number;
  reset(): void;
}

/**
 * `replica`, when given, stands in for a replica: sessions started "first-unconstrained"
 * (or from a bookmark) run on it instead of on `db`, which stays the primary.
 */
export function meteredDb(db: D1Database, replica?: D1Database): Meter {
  const trips: RoundTrip[] = [];
  const sessions: string[] = [];
  const wrapped = new WeakMap<object, { statement: D1PreparedStatement; sql: string }>();
  const rowsOf = (result: D1Result<unknown>) => result.meta?.rows_read ?? 0;

  const wrap = (statement: D1PreparedStatement, sql: string, via: string): D1PreparedStatement => {
    const all = async <T>() => {
      const result = await statement.all<T>();
      trips.push({ sql: [sql], rowsRead: rowsOf(result), via });
      return result;
    };
    const proxy = {
      bind: (...values: unknown[]) => wrap(statement.bind(...values), sql, via),
      all,
      run: all,
      // `first` reports no meta: read through `all` so its rows are counted.
      first: async (column?: string) => {
        const row = ((await all<Record<string, unknown>>()).results[0] ?? null) as Record<string, unknown> | null;
        return column === undefined || row === null ? row : row[column];
      },
      raw: () => {
        throw new Error("raw() is not metered");
      },
    };
    wrapped.set(proxy, { statement, sql });
    return proxy as unknown as D1PreparedStatement;
  };

  const handle = (target: Pick<D1Database, "prepare" | "batch">, via: string) => ({
    prepare: (sql: string) => wrap(target.prepare(sql), sql, via),
    batch: async (statements: D1PreparedStatement[]) => {
      const inner = statements.map((s) => wrapped.get(s) ?? { statement: s, sql: "?" });
      const results = await target.batch(inner.map((s) => s.statement));
      trips.push({ sql: inner.map((s) => s.sql), rowsRead: results.reduce((sum, r) => sum + rowsOf(r), 0), via });
      return results;
    },
  });

  const metered = {
    ...handle(db, "binding"),
    exec: (query: string) => db.exec(query),
    withSession: (start?: string) => {
      const at = start ?? "first-unconstrained";
      sessions.push(at);
      const session = (at !== "first-primary" && replica ? replica : db).withSession(at);
      return { ...handle(session, at), getBookmark: () => session.getBookmark() };
    },
    dump: () => db.dump(),
  } as unknown as D1Database;

  return {
    db: metered,
    trips,
    sessions,
    rowsRead: () => trips.reduce((sum, t) => sum + t.rowsRead, 0),
    reset: () => {
      trips.splice(0);
      sessions.splice(0);
    },
  };
}
