/**
 * Off the response path (issue 10 §4, §6): the exchange never waits on the audit send and
 * never fails because of it; a lost send is counted per isolate and logged with the
 * request's ID; and the audited exchange's response path is still one D1 round trip, the
 * consumer's writes being a separate invocation.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AuditEvent } from "../../src/audit/events";
import { AUDIT_BATCH_EVENTS, AUDIT_MESSAGE_BYTES, lostAuditSends, pack, sendAuditEvent } from "../../src/audit/producer";
import { client, expectAccepted, isolatedIssuers, seedJob } from "../robustness/support";
import { meteredDb } from "../support/d1-meter";
import { recordingQueue, sampleEvent, waitForAudit } from "./support";

afterEach(() => vi.restoreAllMocks());

function captureLog() {
  const lines: Record<string, unknown>[] = [];
  vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(JSON.parse(String(line))));
  return lines;
}

describe("a failing audit queue", () => {
  it.each(["throw", "reject"] as const)("does not fail the exchange when the queue call %ss; the lost event is counted and logged", async (mode) => {
    const issuers = isolatedIssuers("lost");
    const job = await seedJob(client(issuers), "github", issuers);
    const failing = client({ ...issuers, AUDIT_QUEUE: recordingQueue(mode) });
    const before = lostAuditSends();
    const lines = captureLog();
    const response = await failing.exchange(await job.token());
    await expectAccepted(response);
    expect(lostAuditSends()).toBe(before + 1);
    const requestId = response.headers.get("x-request-id");
    const lost = lines.filter((l) => l.reason === "audit_send_failed");
    expect(lost).toEqual([expect.objectContaining({ request_id: requestId, route: "audit", outcome: "error", event_kind: "exchange", audit_sends_lost: before + 1 })]);
    expect(String(lost[0]!.event_id)).toMatch(/^evt_/);
    // The request's own line is the usual one: a 200.
    expect(lines.filter((l) => l.request_id === requestId && l.route === "/token")).toEqual([expect.objectContaining({ status: 200, outcome: "ok" })]);
  });

  it("does not fail a refusal's answer either: the refusal is still the answer", async () => {
    const issuers = isolatedIssuers("lost-refused");
    const job = await seedJob(client(issuers), "rwx", issuers);
    const before = lostAuditSends();
    captureLog();
    const response = await client({ ...issuers, AUDIT_QUEUE: recordingQueue("throw") }).exchange(await job.token(), { scope: "api" });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_scope");
    expect(lostAuditSends()).toBe(before + 1);
  });

  it("never makes the response wait: a send that never settles still gets the token at once", async () => {
    const issuers = isolatedIssuers("hang");
    const job = await seedJob(client(issuers), "rwx", issuers);
    const sends: unknown[] = [];
    const hanging = { sendBatch: (messages: unknown[]) => (sends.push(...messages), new Promise<void>(() => undefined)) } as unknown as Queue;
    // settle: false — waiting for waitUntil would wait forever; the response must not.
    const response = await client({ ...issuers, AUDIT_QUEUE: hanging }, { settle: false }).exchange(await job.token());
    await expectAccepted(response);
    // The send is made after the response (its batch is flushed a few ms later) and never settles.
    await vi.waitFor(() => expect(sends).toHaveLength(1), { timeout: 5000 });
  });

  it("records nothing and counts nothing without the binding (auditing off)", async () => {
    const issuers = isolatedIssuers("unbound");
    const job = await seedJob(client(issuers), "rwx", issuers);
    const before = lostAuditSends();
    const lines = captureLog();
    const unbound = client({ ...issuers, AUDIT_QUEUE: undefined });
    for (let i = 0; i < 2; i++) await expectAccepted(await unbound.exchange(await job.token()));
    expect(lostAuditSends()).toBe(before);
    expect(lines.filter((l) => l.route !== "/token")).toEqual([]);
  });
});

describe("the audited exchange's response path", () => {
  it.each(["github", "rwx"] as const)("is one D1 round trip for a warm %s exchange, and the event still arrives", async (provider) => {
    const issuers = isolatedIssuers("trips");
    const api = client(issuers);
    const job = await seedJob(api, provider, issuers);
    // Warm the key cache and pin first-seen IDs, so the next exchange is the steady state.
    await expectAccepted(await api.exchange(await job.token()));
    const meter = meteredDb(env.DB);
    const response = await client({ ...issuers, DB: meter.db }).exchange(await job.token());
    await expectAccepted(response);
    expect(meter.trips).toHaveLength(1);
    expect(meter.trips.flatMap((trip) => trip.sql).some((sql) => sql.includes("audit_events"))).toBe(false);
    // The real queue carried the event; the consumer wrote it with its own invocation.
    const orgId = ((await (await api.admin("GET", `/v1/projects/${job.projectId}`)).json()) as { org_id: string }).org_id;
    await waitForAudit(orgId, (events) => events.some((e) => e.request_id === response.headers.get("x-request-id")));
  });
});

describe("batching", () => {
  it("sends the events of concurrent requests in one call, each request's event exactly once", async () => {
    const issuers = isolatedIssuers("batch");
    const job = await seedJob(client(issuers), "rwx", issuers);
    const queue = recordingQueue();
    const api = client({ ...issuers, AUDIT_QUEUE: queue });
    const tokens = await Promise.all(Array.from({ length: 8 }, () => job.token()));
    const responses = await Promise.all(tokens.map((token) => api.exchange(token)));
    for (const response of responses) await expectAccepted(response);
    expect(queue.sent.map((e) => e.request_id).sort()).toEqual(responses.map((r) => r.headers.get("x-request-id")).sort());
    expect(queue.calls.reduce((a, b) => a + b, 0)).toBe(8);
  });

  it("puts the events of requests within one flush window into one call, at most AUDIT_BATCH_EVENTS each, flushed by the request that opened the batch", async () => {
    const queue = recordingQueue();
    const flushes: Promise<unknown>[] = [];
    const sinkOf = (i: number) => ({ queue, requestId: `req-${i}`, waitUntil: (p: Promise<unknown>) => void flushes.push(p) });
    const n = AUDIT_BATCH_EVENTS + 3;
    for (let i = 0; i < n; i++) sendAuditEvent(sinkOf(i), sampleEvent({ orgId: null, ms: Date.now(), kind: "admin" }));
    // Only the requests that opened a batch wait for a flush.
    expect(flushes).toHaveLength(2);
    expect(queue.calls).toEqual([]);
    await Promise.all(flushes);
    expect(queue.calls).toEqual([AUDIT_BATCH_EVENTS, 3]);
    // Each flush's events travel in one message, their JSON array as text.
    expect(queue.messages.map((call) => call.map((m) => m.contentType))).toEqual([["text"], ["text"]]);
    // A batch never mixes queues (two environments, or a test's stand-in beside the real one).
    const other = recordingQueue();
    sendAuditEvent({ queue: other, requestId: "x", waitUntil: (p) => void flushes.push(p) }, sampleEvent({ orgId: null, ms: Date.now(), kind: "admin" }));
    sendAuditEvent(sinkOf(n), sampleEvent({ orgId: null, ms: Date.now(), kind: "admin" }));
    await Promise.all(flushes);
    expect([other.calls, queue.calls]).toEqual([[1], [AUDIT_BATCH_EVENTS, 3, 1]]);
  });

  it("packs events into messages of at most AUDIT_MESSAGE_BYTES, whole and in order, and calls of at most 256 KB", async () => {
    // Admin changes of ~15 KB each (a relationship's description and conditions at their limits, and more).
    const big = (i: number) => ({ ...sampleEvent({ orgId: null, ms: Date.now() + i, kind: "admin" }), after: { description: `${i}`.padEnd(15_000, "é") } }) as AuditEvent;
    const events = Array.from({ length: AUDIT_BATCH_EVENTS }, (_, i) => big(i));
    const messages = pack(events.map((event) => ({ event, requestId: event.request_id })));
    const bytes = (body: string) => new TextEncoder().encode(body).length;
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) {
      expect(bytes(m.text)).toBe(m.bytes);
      expect(m.bytes).toBeLessThanOrEqual(AUDIT_MESSAGE_BYTES);
    }
    expect(messages.flatMap((m) => JSON.parse(m.text) as AuditEvent[])).toEqual(events);
    // Through the producer: every event sent once, in calls within Queues' limits.
    const queue = recordingQueue();
    const flushes: Promise<unknown>[] = [];
    for (const event of events) sendAuditEvent({ queue, requestId: event.request_id, waitUntil: (p) => void flushes.push(p) }, event);
    await Promise.all(flushes);
    expect(queue.sent.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(queue.messages.length).toBeGreaterThan(1);
    for (const call of queue.messages) {
      expect(call.length).toBeLessThanOrEqual(100);
      expect(call.reduce((sum, m) => sum + bytes(String(m.body)), 0)).toBeLessThanOrEqual(256 * 1024);
    }
  });

  it("sends an event larger than a message's share alone, whole", () => {
    const huge = { ...sampleEvent({ orgId: null, ms: Date.now(), kind: "admin" }), after: { description: "x".repeat(AUDIT_MESSAGE_BYTES) } } as AuditEvent;
    const small = sampleEvent({ orgId: null, ms: Date.now(), kind: "admin" });
    const messages = pack([small, huge, small].map((event) => ({ event, requestId: "r" })));
    expect(messages.map((m) => (JSON.parse(m.text) as AuditEvent[]).length)).toEqual([1, 1, 1]);
  });

  it("counts and logs every event of a batch that fails, each with its own request's ID", async () => {
    const issuers = isolatedIssuers("batch-lost");
    const job = await seedJob(client(issuers), "rwx", issuers);
    const api = client({ ...issuers, AUDIT_QUEUE: recordingQueue("reject") });
    const tokens = await Promise.all(Array.from({ length: 5 }, () => job.token()));
    const before = lostAuditSends();
    const lines = captureLog();
    const responses = await Promise.all(tokens.map((token) => api.exchange(token)));
    for (const response of responses) await expectAccepted(response);
    expect(lostAuditSends()).toBe(before + 5);
    const lost = lines.filter((l) => l.reason === "audit_send_failed");
    expect(lost.map((l) => l.request_id).sort()).toEqual(responses.map((r) => r.headers.get("x-request-id")).sort());
  });
});
