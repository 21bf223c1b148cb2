/**
 * Bench-only entry around the real worker that counts D1 round trips, so "one round trip
 * per exchange" is measured rather than assumed. Never shipped: `src/index.ts` stays the
 * production entry, and this file only wraps `env.DB` before handing the request to it.
 *
 * A round trip is one call that reaches the database: a statement's first/all/run/raw, a
 * `batch` (however many statements it carries), or `exec`. `GET /__bench/d1` returns the
 * counts since the last `POST /__bench/d1/reset`.
 */
import worker from "../src/index";

interface Counts {
  roundTrips: number;
  statements: number;
  batches: number;
  /** First word of each statement's SQL, by count (SELECT, INSERT, ...). */
  kinds: Record<string, number>;
}

const fresh = (): Counts => ({ roundTrips: 0, statements: 0, batches: 0, kinds: {} });
let counts = fresh();
const RAW = Symbol("raw statement");
const SQL = Symbol("statement sql");
const STATEMENT_CALLS = new Set(["first", "all", "run", "raw"]);

function kindOf(sql: string): string {
  return sql.trim().split(/\s+/, 1)[0]!.toUpperCase();
}

function note(sql: string): void {
  const kind = kindOf(sql);
  counts.kinds[kind] = (counts.kinds[kind] ?? 0) + 1;
}

function wrapStatement(statement: D1PreparedStatement, sql: string): D1PreparedStatement {
  return new Proxy(statement, {
    get(target, property) {
      if (property === RAW) return target;
      if (property === SQL) return sql;
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "bind") return (...args: unknown[]) => wrapStatement(value.apply(target, args), sql);
      if (typeof property === "string" && STATEMENT_CALLS.has(property)) {
        return (...args: unknown[]) => {
          counts.roundTrips++;
          counts.statements++;
          note(sql);
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
}

function countingDb(db: D1Database): D1Database {
  return new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "prepare") {
        return (sql: string) => wrapStatement(value.call(target, sql), sql);
      }
      if (property === "batch") {
        return (statements: D1PreparedStatement[]) => {
          counts.roundTrips++;
          counts.batches++;
          counts.statements += statements.length;
          for (const s of statements) note((s as unknown as Record<symbol, string>)[SQL] ?? "?");
          return value.call(target, statements.map((s) => (s as unknown as Record<symbol, D1PreparedStatement>)[RAW] ?? s));
        };
      }
      if (property === "exec") {
        return (sql: string) => {
          counts.roundTrips++;
          counts.statements++;
          note(sql);
          return value.call(target, sql);
        };
      }
      return value.bind(target);
    },
  });
}

const wrappedEnvs = new WeakMap<object, Record<string, unknown>>();

export default {
  async fetch(request: Request, env: Record<string, unknown> & { DB: D1Database }, ctx: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/__bench/d1") return Response.json(counts);
    if (pathname === "/__bench/d1/reset") {
      counts = fresh();
      return Response.json(counts);
    }
    // One wrapped env per isolate, like the real env object: caches keyed on env keep working.
    let wrapped = wrappedEnvs.get(env);
    if (!wrapped) {
      wrapped = { ...env, DB: countingDb(env.DB) };
      wrappedEnvs.set(env, wrapped);
    }
    return worker.fetch!(request as never, wrapped as never, ctx);
  },
};
