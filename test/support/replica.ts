/**
 * A lagging read replica, simulated: a D1 binding whose reads (and its sessions' reads)
 * come back without the rows `unseen` names, as a replica that has not yet replayed their
 * writes would answer. Writes pass through to the real database. Hand it to `meteredDb`
 * as the replica, so only sessions a replica may serve read through it.
 */

type Row = Record<string, unknown>;

export function laggingReplica(db: D1Database, unseen: (row: Row) => boolean): D1Database {
  const real = new WeakMap<object, D1PreparedStatement>();
  const keep = <T>(result: D1Result<T>): D1Result<T> => ({ ...result, results: result.results.filter((row) => !unseen(row as Row)) });

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

  const handle = (target: Pick<D1Database, "prepare" | "batch">) => ({
    prepare: (sql: string) => wrap(target.prepare(sql)),
    batch: async (statements: D1PreparedStatement[]) => (await target.batch(statements.map((s) => real.get(s) ?? s))).map(keep),
  });

  return {
    ...handle(db),
    exec: (query: string) => db.exec(query),
    withSession: (start?: string) => {
      const session = db.withSession(start);
      return { ...handle(session), getBookmark: () => session.getBookmark() };
    },
    dump: () => db.dump(),
  } as unknown as D1Database;
}
