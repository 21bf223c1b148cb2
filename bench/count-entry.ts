/**
 * Bench-only entry around the real worker that counts what an exchange costs, so "one round
 * trip per exchange" and the cost per 10⁶ exchanges are measured rather than assumed. Never
 * shipped: `src/index.ts` stays the production entry, and this file only wraps `env.DB` (and
 * any queue producer) before handing the request to it.
 *
 * Counted per bucket (`fetch` for requests, `consumer` for queue batches, `sweep` for the
 * replay sweep run through `/__bench/sweep`):
 * - D1 round trips: a statement's first/all/run/raw, a `batch` (however many statements it
 *   carries), or `exec`, on the binding or on a `withSession()` session of it;
 * - rows read and written, and the database size, from D1's result `meta` (`rows_read`,
 *   `rows_written`, `size_after`), the figures D1 bills. `first()` returns no meta, so here it
 *   runs as `all()` and returns the first row, which is what D1's `first()` does with the
 *   same query; `raw()` and `exec()` give no row counts and are counted as `uncounted`;
 * - queue messages sent through any binding with `send`/`sendBatch` (found by shape, so a new
 *   producer is counted without changing this file), their bytes as JSON, and the Queues
 *   operations they cost: write, read and delete, each per 64 KB started.
 *
 * `GET /__bench/d1` returns the counts since the last `POST /__bench/d1/reset`.
 */
import worker from "../src/index";
import { sweepExpired } from "../src/db/sweep";

interface Bucket {
  roundTrips: number;
  statements: number;
  batches: number;
  /** First word of each statement's SQL, by count (SELECT, INSERT, ...). */
  kinds: Record<string, number>;
  rowsRead: number;
  rowsWritten: number;
  /** Calls that reached D1 without reporting rows (raw, exec). */
  uncounted: number;
}

interface QueueCounts {
  messages: number;
  bytes: number;
  /** Queues operations: write + read + delete, each per 64 KB started, per message. */
  operations: number;
}

/** Top-level fields are the `fetch` bucket (what run.mjs reads); the others are beside it. */
type Counts = Bucket & {
  /** The database size after the last counted statement, in bytes (D1's `size_after`). */
  sizeAfter: number | null;
  queue: QueueCounts;
  consumer: Bucket & { invocations: number; messages: number };
  sweep: Bucket & { runs: number; deleted: number };
};

const QUEUE_OPERATION_BYTES = 64 * 1024;
const QUEUE_OPERATIONS_PER_DELIVERY = 3;

const bucket = (): Bucket => ({ roundTrips: 0, statements: 0, batches: 0, kinds: {}, rowsRead: 0, rowsWritten: 0, uncounted: 0 });
const fresh = (): Counts => ({
  ...bucket(),
  sizeAfter: null,
  queue: { messages: 0, bytes: 0, operations: 0 },
  consumer: { ...bucket(), invocations: 0, messages: 0 },
  sweep: { ...bucket(), runs: 0, deleted: 0 },
});
let counts = fresh();
const RAW = Symbol("raw statement");
const SQL = Symbol("statement sql");

function kindOf(sql: string): string {
  return sql.trim().split(/\s+/, 1)[0]!.toUpperCase();
}

function note(b: Bucket, sql: string): void {
  const kind = kindOf(sql);
  b.kinds[kind] = (b.kinds[kind] ?? 0) + 1;
}

function addMeta(b: Bucket, meta: Partial<D1Meta> | undefined): void {
  if (!meta) return;
  b.rowsRead += meta.rows_read ?? 0;
  b.rowsWritten += meta.rows_written ?? 0;
  if (typeof meta.size_after === "number") counts.sizeAfter = meta.size_after;
}

function wrapStatement(statement: D1PreparedStatement, sql: string, b: () => Bucket): D1PreparedStatement {
  const reached = () => {
    const target = b();
    target.roundTrips++;
    target.statements++;
    note(target, sql);
    return target;
  };
  return new Proxy(statement, {
    get(target, property) {
      if (property === RAW) return target;
      if (property === SQL) return sql;
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "bind") return (...args: unknown[]) => wrapStatement(value.apply(target, args), sql, b);
      if (property === "all" || property === "run") {
        return async (...args: unknown[]) => {
          const counted = reached();
          const result = (await value.apply(target, args)) as D1Result;
          addMeta(counted, result.meta);
          return result;
        };
      }
      if (property === "first") {
        return async (column?: string) => {
          const counted = reached();
          const result = await target.all<Record<string, unknown>>();
          addMeta(counted, result.meta);
          const row = result.results[0];
          if (column === undefined) return row ?? null;
          if (row !== undefined && !(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
          return row?.[column] ?? null;
        };
      }
      if (property === "raw") {
        return (...args: unknown[]) => {
          reached().uncounted++;
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
}

/** `db`, or a session of it, counting into whatever bucket `b()` names when a call is made. */
function countingDb<T extends D1Database | D1DatabaseSession>(db: T, b: () => Bucket): T {
  return new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "prepare") return (sql: string) => wrapStatement(value.call(target, sql), sql, b);
      if (property === "withSession") return (...args: unknown[]) => countingDb(value.apply(target, args) as D1DatabaseSession, b);
      if (property === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          const counted = b();
          counted.roundTrips++;
          counted.batches++;
          counted.statements += statements.length;
          for (const s of statements) note(counted, (s as unknown as Record<symbol, string>)[SQL] ?? "?");
          const results = (await value.call(target, statements.map((s) => (s as unknown as Record<symbol, D1PreparedStatement>)[RAW] ?? s))) as D1Result[];
          for (const r of results) addMeta(counted, r.meta);
          return results;
        };
      }
      if (property === "exec") {
        return (sql: string) => {
          const counted = b();
          counted.roundTrips++;
          counted.statements++;
          counted.uncounted++;
          note(counted, sql);
          return value.call(target, sql);
        };
      }
      return value.bind(target);
    },
  });
}

function bytesOf(body: unknown): number {
  try {
    // A text message is its bytes; anything else travels as its JSON.
    return new TextEncoder().encode(typeof body === "string" ? body : (JSON.stringify(body) ?? "")).length;
  } catch {
    return 0;
  }
}

function noteMessage(body: unknown): void {
  const bytes = bytesOf(body);
  counts.queue.messages++;
  counts.queue.bytes += bytes;
  counts.queue.operations += QUEUE_OPERATIONS_PER_DELIVERY * Math.max(1, Math.ceil(bytes / QUEUE_OPERATION_BYTES));
}

function isQueue(value: unknown): value is Queue {
  return typeof value === "object" && value !== null && typeof (value as Queue).send === "function" && typeof (value as Queue).sendBatch === "function";
}

function countingQueue(queue: Queue): Queue {
  return new Proxy(queue, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "send") return (body: unknown, options?: QueueSendOptions) => (noteMessage(body), value.call(target, body, options));
      if (property === "sendBatch") {
        return (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
          const list = [...messages];
          for (const m of list) noteMessage(m.body);
          return value.call(target, list, options);
        };
      }
      return value.bind(target);
    },
  });
}

type BenchEnv = Record<string, unknown> & { DB: D1Database };
type Wrapped = { fetch: BenchEnv; consumer: BenchEnv; sweep: D1Database };
const wrappedEnvs = new WeakMap<object, Wrapped>();

/** One wrapped env per isolate, like the real env object: caches keyed on env keep working. */
function wrap(env: BenchEnv): Wrapped {
  let wrapped = wrappedEnvs.get(env);
  if (!wrapped) {
    const queues = Object.fromEntries(Object.entries(env).filter(([, v]) => isQueue(v)).map(([k, v]) => [k, countingQueue(v as Queue)]));
    wrapped = {
      fetch: { ...env, ...queues, DB: countingDb(env.DB, () => counts) },
      consumer: { ...env, ...queues, DB: countingDb(env.DB, () => counts.consumer) },
      sweep: countingDb(env.DB, () => counts.sweep),
    };
    wrappedEnvs.set(env, wrapped);
  }
  return wrapped;
}

/** Later than any `expires_at` the bench writes: the sweep then removes every replay record. */
const SWEEP_EVERYTHING_AT = 2 ** 40;

export default {
  async fetch(request: Request, env: BenchEnv, ctx: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/__bench/d1") return Response.json(counts);
    if (pathname === "/__bench/d1/reset") {
      counts = fresh();
      return Response.json(counts);
    }
    if (pathname === "/__bench/sweep") {
      // The production sweep's statements on every replay record, so each deleted row's writes are counted.
      const swept = await sweepExpired(wrap(env).sweep, SWEEP_EVERYTHING_AT);
      counts.sweep.runs++;
      counts.sweep.deleted += swept.usedSubjectTokens + swept.revokedTokens;
      return Response.json({ swept, sweep: counts.sweep });
    }
    return worker.fetch!(request as never, wrap(env).fetch as never, ctx);
  },
  async queue(batch: MessageBatch, env: BenchEnv, ctx: ExecutionContext): Promise<void> {
    const handler = (worker as { queue?: (batch: MessageBatch, env: never, ctx: ExecutionContext) => Promise<void> }).queue;
    if (!handler) return;
    counts.consumer.invocations++;
    counts.consumer.messages += batch.messages.length;
    await handler.call(worker, batch, wrap(env).consumer as never, ctx);
  },
};
