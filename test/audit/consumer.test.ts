/**
 * The queue consumer (issue 10 §4): the Worker's real `queue` handler driven with
 * `createMessageBatch`. Delivery is at least once, so the same batch twice stores one row
 * per event; a message is acknowledged only once its row is committed; D1 failures retry
 * with backoff, and one bad message does not hold the others back; a message that is not
 * an event is acknowledged and dropped, and the batch says so in a log line.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { retryDelaySeconds } from "../../src/audit/consumer";
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
    // D1 refuses the batch (a transaction) and the one statement that inserts `poison`.
    const db = {
      prepare: (sql: string) => {
        const statement = env.DB.prepare(sql);
        return {
          bind: (...values: unknown[]) => {
            const bound = statement.bind(...values);
            return { run: () => (values[0] === poison ? Promise.reject(new Error("D1_ERROR: simulated")) : bound.run()) };
          },
        };
      },
      batch: () => Promise.reject(new Error("D1_ERROR: simulated")),
    } as unknown as D1Database;
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const result = await consume(events, 1, { DB: db });
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toHaveLength(1);
    expect(await rowCount(events.map((e) => e.id))).toBe(2);
    expect(await rowCount([poison])).toBe(0);
  });
});
