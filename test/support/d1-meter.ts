/**
 * A D1 binding that meters what the worker asks of the database: every round trip (one
 * statement call, or one batch) with its SQL, and the rows D1 itself reports as read
 * (`meta.rows_read`). For tests that bound the exchange's database cost.
 */

export interface RoundTrip {
  sql: string[];
  rowsRead: number;
}

export interface Meter {
  db: D1Database;
  trips: RoundTrip[];
  rowsRead(): number;
  reset(): void;
}

export function meteredDb(db: D1Database): Meter {
  const trips: RoundTrip[] = [];
  const wrapped = new WeakMap<object, { statement: D1PreparedStatement; sql: string }>();
  const rowsOf = (result: D1Result<unknown>) => result.meta?.rows_read ?? 0;

  const wrap = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const all = async <T>() => {
      const result = await statement.all<T>();
      trips.push({ sql: [sql], rowsRead: rowsOf(result) });
      return result;
    };
    const proxy = {
      bind: (...values: unknown[]) => wrap(statement.bind(...values), sql),
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

  const metered = {
    prepare: (sql: string) => wrap(db.prepare(sql), sql),
    batch: async (statements: D1PreparedStatement[]) => {
      const inner = statements.map((s) => wrapped.get(s) ?? { statement: s, sql: "?" });
      const results = await db.batch(inner.map((s) => s.statement));
      trips.push({ sql: inner.map((s) => s.sql), rowsRead: results.reduce((sum, r) => sum + rowsOf(r), 0) });
      return results;
    },
    exec: (query: string) => db.exec(query),
    withSession: () => {
      throw new Error("not used");
    },
    dump: () => db.dump(),
  } as unknown as D1Database;

  return {
    db: metered,
    trips,
    rowsRead: () => trips.reduce((sum, t) => sum + t.rowsRead, 0),
    reset: () => void trips.splice(0),
  };
}
