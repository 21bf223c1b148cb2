/**
 * Reading the audit log in tests: the real API (`GET /v1/orgs/{id}/audit`), polled until the
 * queue consumer has written what a test expects. Delivery is asynchronous (the producer
 * sends after the response; the consumer writes batches), so tests wait for a condition
 * with a generous deadline rather than for a fixed time.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { AUDIT_EVENT_VERSION, newEventId, type AuditEvent } from "../../src/audit/events";
import { insertAuditEvents } from "../../src/audit/store";
import worker from "../../src/index";
import { client } from "../robustness/support";
import { admin } from "../support/api";

export interface Listed {
  events: Record<string, any>[];
  next_cursor: string | null;
}

export async function listAudit(orgId: string, query: Record<string, string> = {}, token: string = env.ADMIN_TOKEN): Promise<Listed> {
  const qs = new URLSearchParams(query).toString();
  const response = await admin("GET", `/v1/orgs/${orgId}/audit${qs ? `?${qs}` : ""}`, undefined, token);
  const body = (await response.json()) as Listed;
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** Polls the organization's log until `done(events)` holds; fails after `timeoutMs`. */
export async function waitForAudit(
  orgId: string,
  done: (events: Record<string, any>[]) => boolean,
  query: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<Record<string, any>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { events } = await listAudit(orgId, { limit: "200", ...query });
    if (done(events)) return events;
    if (Date.now() > deadline) throw new Error(`audit log of ${orgId} never reached the expected state; it has ${JSON.stringify(events).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A queue binding stand-in that keeps what is sent (to inspect events without the consumer),
 * or fails: `throw` throws from the call itself, `reject` returns a rejected promise.
 * `sent` holds the events, unpacked from the messages that carried them.
 */
export function recordingQueue(mode: "ok" | "throw" | "reject" = "ok") {
  const sent: any[] = [];
  const calls: number[] = [];
  const messages: { body: unknown; contentType?: string }[][] = [];
  const accept = (batch: { body: unknown; contentType?: string }[]) => {
    if (mode === "throw") throw new Error("Queue send failed: simulated");
    if (mode === "reject") return Promise.reject(new Error("Queue send failed: simulated"));
    const events = batch.flatMap(({ body }) => (typeof body === "string" ? (JSON.parse(body) as unknown[]) : [structuredClone(body)]));
    messages.push(batch);
    calls.push(events.length);
    sent.push(...events);
    return Promise.resolve();
  };
  const queue = {
    sent,
    /** Events per call, in order. */
    calls,
    /** The messages of each call, as sent. */
    messages,
    send: (body: unknown) => accept([{ body }]),
    sendBatch: (batch: { body: unknown; contentType?: string }[]) => accept(batch),
  };
  return queue as typeof queue & Queue;
}

let batchNumber = 0;

/**
 * Runs the worker's real `queue` handler over `bodies` as one batch; returns its ack/retry
 * state and the delay each retry asked for (which `getQueueResult` does not report).
 */
export async function consume(bodies: unknown[], attempts = 1, queueEnv: Record<string, unknown> = {}) {
  const batch = createMessageBatch("edge-sts-audit", bodies.map((body, i) => ({ id: `msg-${++batchNumber}-${i}`, timestamp: new Date(), attempts, body })));
  const retryDelays: (number | undefined)[] = [];
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    Object.defineProperty(message, "retry", { value: (options?: QueueRetryOptions) => (retryDelays.push(options?.delaySeconds), retry(options)) });
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...queueEnv } as never, ctx);
  return { ...(await getQueueResult(batch, ctx)), retryDelays };
}

/** A valid event of the organization at `ms`, as the producer would send it (for the consumer and queries). */
export function sampleEvent(opts: { orgId: string | null; projectId?: string | null; ms: number; kind?: "exchange" | "admin"; outcome?: "minted" | "refused" }): AuditEvent {
  const base = {
    v: AUDIT_EVENT_VERSION,
    id: newEventId(opts.ms),
    time: Math.floor(opts.ms / 1000),
    request_id: crypto.randomUUID(),
    org_id: opts.orgId,
    project_id: opts.projectId ?? null,
  };
  if ((opts.kind ?? "exchange") === "admin") {
    return { ...base, kind: "admin", actor: { type: "operator" }, action: "project.create", resource_id: opts.projectId ?? "prj_000000000000000000000000", before: null, after: { name: "app" } };
  }
  const minted = (opts.outcome ?? "minted") === "minted";
  return {
    ...base,
    kind: "exchange",
    outcome: minted ? "minted" : "refused",
    reason: minted ? null : "no_trust_relationship",
    detail: null,
    provider: "rwx",
    issuer: "https://cloud.rwx.com/mint",
    subject: "mint:vault",
    identity: "mint:vault",
    provenance: { sub: "mint:vault", run_id: "r1" },
    omitted: [],
    audience: null,
    relationship_id: minted ? "trl_000000000000000000000000" : null,
    jti: minted ? crypto.randomUUID() : null,
    scope: minted ? "builds" : null,
    pinned: null,
    client_network: "203.0.113.0/24",
    shadow: [],
  };
}

/** Stores events as the consumer does (idempotent insert), bypassing the queue. */
export async function store(events: AuditEvent[]): Promise<void> {
  await env.DB.batch(insertAuditEvents(env.DB, events));
}

/**
 * An organization with two projects, made through the admin API by a client whose audit
 * queue only records: their admin changes stay out of the log, so a test's listing holds
 * only the events it stores itself.
 */
export async function quietProject(): Promise<{ orgId: string; projectId: string; other: string }> {
  const quiet = client({ AUDIT_QUEUE: recordingQueue() });
  const created = async (path: string, body: unknown) => {
    const response = await quiet.admin("POST", path, body);
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };
  const orgId = await created("/v1/orgs", { name: "audited" });
  return { orgId, projectId: await created(`/v1/orgs/${orgId}/projects`, { name: "app" }), other: await created(`/v1/orgs/${orgId}/projects`, { name: "other" }) };
}
