/**
 * The queue consumer (issue 10 §4): the Worker's real `queue` handler driven with
 * `createMessageBatch`. Delivery is at least once, so the same batch twice stores one row
 * per event; a message is acknowledged only once its row is committed; D1 failures retry
 * with backoff, and one bad message does not hold the others back; a message that is not
 * an event is acknowledged and dropped, and the batch says so in a log line.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { consumeAuditBatch, retryDelaySeconds } from "../../src/audit/consumer";
import type { AuditEvent } from "../../src/audit/events";
import { pack } from "../../src/audit/producer";
import { INSERT_BATCH_BYTES, insertAuditEvents } from "../../src/audit/store";
import { faultyDb } from "../robustness/support";
import { consume, listAudit, quietProject, sampleEvent } from "./support";

afterEach(() => vi.restoreAllMocks());

const rowCount = async (ids: string[]) =>
  (await env.DB.prepare(`SELECT COUNT(*) AS n FROM audit_events WHERE id IN (${ids.map(() => "?").join(",")})`).bind(...ids).first<{ n: number }>())!.n;

describe("the audit queue consumer", () => {
  it("is idempotent under redelivery: the same batch twice stores one row per event", async () => {
    const { orgId, projectId } = await quietProject();
    const events = Array.from({ length: 5 }, (_, i) => sampleEvent({ orgId, projectId, ms: Date.now() - i * 1000, kind: i % 2 ? "admin" : "exchange" }));
    const first = await consume(events);
    const again = await consume(events, 2);
    for (const result of [first, again]) {
      expect(result.explicitAcks).toHaveLength(5);
      expect(result.retryMessages).toEqual([]);
    }
    expect(await rowCount(events.map((e) => e.id))).toBe(5);
    expect((await listAudit(orgId)).events.map((e) => e.id)).toEqual(events.map((e) => e.id));
  });

  it("also when one batch carries the same event twice", async () => {
    const { orgId, projectId } = await quietProject();
    const event = sampleEvent({ orgId, projectId, ms: Date.now() });
    const result = await consume([event, event]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(await rowCount([event.id])).toBe(1);
  });

  it("acknowledges and drops messages that are not events, stores the rest, and logs the batch", async () => {
    const { orgId, projectId } = await quietProject();
    const good = sampleEvent({ orgId, projectId, ms: Date.now() });
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const bad = [
      "junk",
      null,
      { ...sampleEvent({ orgId, projectId, ms: Date.now() }), v: 2 },
      { ...sampleEvent({ orgId, projectId, ms: Date.now() }), kind: "login" },
      { ...sampleEvent({ orgId, projectId, ms: Date.now() }), token: "sts_org_secret" },
      { ...sampleEvent({ orgId, projectId, ms: Date.now() }), id: "evt_1" },
      { ...sampleEvent({ orgId, projectId, ms: Date.now() }), org_id: "org_' OR 1=1 --" },
    ];
    const result = await consume([...bad, good]);
    expect(result.explicitAcks).toHaveLength(bad.length + 1);
    expect(result.retryMessages).toEqual([]);
    expect(await rowCount([good.id])).toBe(1);
    expect((await listAudit(orgId)).events.map((e) => e.id)).toEqual([good.id]);
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.reason === "audit_batch_incomplete");
    expect(logged).toEqual([expect.objectContaining({ outcome: "error", invalid: bad.length, written: 1, retried: 0 })]);
  });

  it("logs nothing for a batch it stored whole", async () => {
    const { orgId, projectId } = await quietProject();
    const lines: unknown[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(line));
    await consume([sampleEvent({ orgId, projectId, ms: Date.now() })]);
    expect(lines).toEqual([]);
  });

  it("acknowledges nothing while D1 fails, and retries every message with backoff", async () => {
    const { orgId, projectId } = await quietProject();
    const events = [sampleEvent({ orgId, projectId, ms: Date.now() }), sampleEvent({ orgId, projectId, ms: Date.now(), kind: "admin" })];
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const down = faultyDb(env.DB, (sql) => sql.includes("audit_events"));
    for (const attempts of [1, 3]) {
      const result = await consume(events, attempts, { DB: down });
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toHaveLength(2);
      expect(result.retryDelays).toEqual([retryDelaySeconds(attempts), retryDelaySeconds(attempts)]);
    }
    expect(await rowCount(events.map((e) => e.id))).toBe(0);
    // Once D1 is back, the redelivered messages are stored.
    expect((await consume(events, 4)).explicitAcks).toHaveLength(2);
    expect(await rowCount(events.map((e) => e.id))).toBe(2);
  });

  it("backs off from 5 s, doubling, to at most 5 minutes", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10, 50].map(retryDelaySeconds)).toEqual([5, 10, 20, 40, 80, 160, 300, 300, 300]);
  });

  it("when the batch fails, stores the messages that can be stored and retries only the one that cannot", async () => {
    const { orgId, projectId } = await quietProject();
    const events = [0, 1, 2].map((i) => sampleEvent({ orgId, projectId, ms: Date.now() - i }));
    const poison = events[1]!.id;
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const result = await consume(events, 1, { DB: refusingBatchesAnd(poison) });
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toHaveLength(1);
    expect(await rowCount(events.map((e) => e.id))).toBe(2);
    expect(await rowCount([poison])).toBe(0);
  });

  it("unpacks the producer's messages, and still takes one event per message as earlier versions sent them", async () => {
    const { orgId, projectId } = await quietProject();
    const events = Array.from({ length: 7 }, (_, i) => sampleEvent({ orgId, projectId, ms: Date.now() - i * 10, kind: i % 3 ? "exchange" : "admin" }));
    const packed = packedBodies(events.slice(0, 3), events.slice(3, 6));
    const { result, acks } = await consumeDirect([...packed, events[6]]);
    expect(result).toEqual({ written: 7, skipped: 0, invalid: 0, retried: 0 });
    expect(acks).toHaveLength(3);
    expect(await rowCount(events.map((e) => e.id))).toBe(7);
    // Redelivered whole: nothing is written twice, every message is acknowledged again.
    const again = await consumeDirect(packed);
    expect(again.result).toEqual({ written: 0, skipped: 6, invalid: 0, retried: 0 });
    expect(again.acks).toHaveLength(2);
  });

  it("drops and counts what in a message is not an event, storing its neighbours; a body that is not an array of events counts as one", async () => {
    const { orgId, projectId } = await quietProject();
    const good = [sampleEvent({ orgId, projectId, ms: Date.now() - 1 }), sampleEvent({ orgId, projectId, ms: Date.now() })];
    const mixed = JSON.stringify([good[0], { ...good[1], v: 2 }, "junk", null, good[1]]);
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const { result, acks } = await consumeDirect([mixed, "[not json", '{"an":"object, not an array"}', "[]"]);
    expect(result).toEqual({ written: 2, skipped: 0, invalid: 3 + 2, retried: 0 });
    expect(acks).toHaveLength(4);
    expect(await rowCount(good.map((e) => e.id))).toBe(2);
  });

  it("when the batch fails, retries a packed message whole if one of its events cannot be stored, and acknowledges the others", async () => {
    const { orgId, projectId } = await quietProject();
    const events = [0, 1, 2, 3].map((i) => sampleEvent({ orgId, projectId, ms: Date.now() - i }));
    const { result, acks, retries } = await consumeDirect(packedBodies(events.slice(0, 2), events.slice(2)), refusingBatchesAnd(events[3]!.id));
    expect(result).toEqual({ written: 2, skipped: 0, invalid: 0, retried: 2 });
    expect([acks.length, retries.length]).toEqual([1, 1]);
    expect(await rowCount(events.map((e) => e.id))).toBe(2);
  });

  it("counts a redelivered event as skipped and a new one beside it as written, and acknowledges both", async () => {
    const { orgId, projectId } = await quietProject();
    const [old, fresh] = [sampleEvent({ orgId, projectId, ms: Date.now() - 1000 }), sampleEvent({ orgId, projectId, ms: Date.now() })];
    expect((await consumeDirect([old])).result).toEqual({ written: 1, skipped: 0, invalid: 0, retried: 0 });
    const { result, acks } = await consumeDirect([old, fresh]);
    expect(result).toEqual({ written: 1, skipped: 1, invalid: 0, retried: 0 });
    expect(acks).toHaveLength(2);
    // The same event twice in one batch: the first is written, the second skipped.
    const twice = sampleEvent({ orgId, projectId, ms: Date.now() });
    expect((await consumeDirect([twice, twice])).result).toEqual({ written: 1, skipped: 1, invalid: 0, retried: 0 });
  });

  describe.each([
    ["in one statement for the batch", () => env.DB],
    ["one message at a time, when the batch fails", () => refusingBatchesAnd()],
  ])("writing %s", (_name, dbOf) => {
    it("gives an exchange with a project and no organization the project's, stores none for a missing project, keeps a user's own admin change", async () => {
      const { orgId, projectId } = await quietProject();
      const missing = `prj_${"0".repeat(23)}1`;
      const events = [
        sampleEvent({ orgId: null, projectId, ms: Date.now() - 3 }),
        sampleEvent({ orgId: null, projectId: missing, ms: Date.now() - 2, outcome: "refused" }),
        { ...sampleEvent({ orgId: null, ms: Date.now() - 1, kind: "admin" }), action: "user.create" as const, resource_id: `usr_${"1".repeat(24)}` },
        sampleEvent({ orgId: null, projectId: missing, ms: Date.now(), kind: "admin" }),
      ];
      const { result, acks } = await consumeDirect(events, dbOf());
      expect(result).toEqual({ written: 2, skipped: 2, invalid: 0, retried: 0 });
      expect(acks).toHaveLength(4);
      const rows = await storedRows(events);
      expect(rows).toEqual([
        { id: events[0]!.id, org_id: orgId, project_id: projectId, kind: "exchange", outcome: "minted" },
        { id: events[2]!.id, org_id: null, project_id: null, kind: "admin", outcome: null },
      ]);
      expect((await listAudit(orgId)).events.map((e) => e.id)).toEqual([events[0]!.id]);
    });

    it("stores the body exactly as the event's JSON, whatever its strings and numbers, and the API renders it back", async () => {
      const { orgId, projectId } = await quietProject();
      const odd = 'é ☃ 😀 "quoted" back\\slash / \n\t\u0001 \u2028 \ud800 lone';
      const event = { ...sampleEvent({ orgId, projectId, ms: Date.now() }), subject: odd, identity: odd, provenance: { sub: odd, run_id: "r1", run_number: 12345678901234, attempt: 1.5e21, ok: true } } as AuditEvent;
      expect((await consumeDirect([event], dbOf())).result.written).toBe(1);
      const stored = await env.DB.prepare("SELECT body FROM audit_events WHERE id = ?").bind(event.id).first<{ body: string }>();
      expect(stored?.body).toBe(JSON.stringify(event));
      const { v: _v, ...rendered } = event;
      expect((await listAudit(orgId)).events).toEqual([JSON.parse(JSON.stringify(rendered))]);
    });
  });

  it("writes a batch of 100 events as one D1 batch of one statement", async () => {
    const { orgId, projectId } = await quietProject();
    const events = Array.from({ length: 100 }, (_, i) => sampleEvent({ orgId, projectId, ms: Date.now() - i, kind: i % 3 ? "exchange" : "admin" }));
    const { db, batches } = batchCounting();
    expect((await consumeDirect(events, db)).result).toEqual({ written: 100, skipped: 0, invalid: 0, retried: 0 });
    expect(batches).toEqual([1]);
    expect(await rowCount(events.map((e) => e.id))).toBe(100);
  });

  it("splits events that exceed one bound value's size into more statements of the same round trip", async () => {
    const { orgId, projectId } = await quietProject();
    // 100 admin changes of ~8 KB each: more than one statement's share (D1 binds at most 2 MB a value).
    const big = { description: "x".repeat(8_000) };
    const events = Array.from({ length: 100 }, (_, i) => ({ ...sampleEvent({ orgId, projectId, ms: Date.now() - i, kind: "admin" }), after: big }) as AuditEvent);
    const statements = insertAuditEvents(env.DB, events);
    expect(statements.length).toBe(Math.ceil((100 * JSON.stringify(events[0]).length) / INSERT_BATCH_BYTES));
    const { db, batches } = batchCounting();
    expect((await consumeDirect(events, db)).result).toEqual({ written: 100, skipped: 0, invalid: 0, retried: 0 });
    expect(batches).toEqual([statements.length]);
    expect(await rowCount(events.map((e) => e.id))).toBe(100);
  });

  it("tells written from skipped across statements: an event repeated in a later statement is skipped there", async () => {
    const { orgId, projectId } = await quietProject();
    const events = Array.from({ length: 4 }, (_, i) => sampleEvent({ orgId, projectId, ms: Date.now() - i }));
    const repeated = [...events, events[0]!];
    // A statement per event: the repeat is in the last one.
    const statements = insertAuditEvents(env.DB, repeated, JSON.stringify(events[0]).length + 2);
    expect(statements).toHaveLength(5);
    const outcomes = await env.DB.batch<{ id: string }>(statements);
    expect(outcomes.map((o) => o.results.map((r) => r.id))).toEqual([...events.map((e) => [e.id]), []]);
    expect(await rowCount(events.map((e) => e.id))).toBe(4);
  });
});

/**
 * D1 refusing every batch (a transaction), so the consumer falls back to one message at a
 * time; and, given `poison`, the statement that inserts that event too (the events travel as
 * one JSON array parameter), so that message fails again.
 */
function refusingBatchesAnd(poison?: string): D1Database {
  return {
    prepare: (sql: string) => {
      const statement = env.DB.prepare(sql);
      return {
        bind: (...values: unknown[]) => {
          const bound = statement.bind(...values);
          return { run: () => (poison !== undefined && String(values[0]).includes(poison) ? Promise.reject(new Error("D1_ERROR: simulated")) : bound.run()) };
        },
      };
    },
    batch: () => Promise.reject(new Error("D1_ERROR: simulated")),
  } as unknown as D1Database;
}

/** The real D1, recording how many statements each batch (one round trip) carries. */
function batchCounting(): { db: D1Database; batches: number[] } {
  const batches: number[] = [];
  const db = { prepare: (sql: string) => env.DB.prepare(sql), batch: (statements: D1PreparedStatement[]) => (batches.push(statements.length), env.DB.batch(statements)) } as unknown as D1Database;
  return { db, batches };
}

/** Message bodies as the producer packs them: one message per group of events. */
function packedBodies(...groups: AuditEvent[][]): string[] {
  return groups.map((events) => {
    const messages = pack(events.map((event) => ({ event, requestId: event.request_id })));
    expect(messages).toHaveLength(1);
    return messages[0]!.text;
  });
}

/** consumeAuditBatch itself over one batch: its counts, and which messages it acknowledged or retried. */
async function consumeDirect(bodies: unknown[], db: D1Database = env.DB) {
  const batch = createMessageBatch("edge-sts-audit", bodies.map((body, i) => ({ id: `direct-${crypto.randomUUID()}-${i}`, timestamp: new Date(), attempts: 1, body })));
  const ctx = createExecutionContext();
  const result = await consumeAuditBatch(batch, db);
  const state = await getQueueResult(batch, ctx);
  return { result, acks: state.explicitAcks, retries: state.retryMessages };
}

async function storedRows(events: { id: string }[]) {
  const ids = events.map((e) => e.id);
  const { results } = await env.DB.prepare(`SELECT id, org_id, project_id, kind, outcome FROM audit_events WHERE id IN (${ids.map(() => "?").join(",")}) ORDER BY id`)
    .bind(...ids)
    .all();
  return results;
}

