/**
 * Sending audit events off the response path. An event joins this isolate's open batch; the
 * request that opened the batch hands its flush to `waitUntil`, and the flush sends the whole
 * batch with one `Queue.sendBatch` a few milliseconds later. So a response is never held for
 * auditing and never fails because of it, and concurrent requests share one call to the
 * queue instead of one each (the call, not the event, is what costs the Worker). A request
 * never waits on another's flush: each batch is flushed by the request that opened it.
 *
 * A batch that fails to send (the call throws, or its promise rejects) is lost: each of its
 * events is counted per isolate (`lostAuditSends`) and logged as a line of its own carrying
 * its request's ID, the event's ID and kind, the isolate's count so far, and the queue's own
 * words (never the event). Without an `AUDIT_QUEUE` binding auditing is off: nothing is sent
 * or counted (every environment of wrangler.toml binds it, and `npm run deploy:check` fails
 * one that does not). It does not build events (exchange-events.ts, admin-events.ts).
 */
import type { AuditEvent } from "./events";

/** What a request hands the producer: the queue, its `waitUntil`, and its ID for the log line. */
export interface AuditSink {
  queue: Queue | undefined;
  waitUntil(promise: Promise<unknown>): void;
  requestId: string;
}

/** How long a batch stays open for other requests' events before it is sent. */
export const AUDIT_FLUSH_MS = 50;
/**
 * Events per batch: an event is at most ~6.5 KB (its provenance is capped at 4 KiB), so 32
 * stay under Queues' 256 KB per `sendBatch` (and its 100 messages).
 */
export const AUDIT_BATCH_EVENTS = 32;

interface Batch {
  queue: Queue;
  entries: { event: AuditEvent; requestId: string }[];
}

let open: Batch | null = null;
let lostSends = 0;

/** Events whose send failed in this isolate since it started. */
export const lostAuditSends = (): number => lostSends;

export function sendAuditEvent(sink: AuditSink, event: AuditEvent | null): void {
  if (!event || !sink.queue) return;
  const entry = { event, requestId: sink.requestId };
  if (open && open.queue === sink.queue && open.entries.length < AUDIT_BATCH_EVENTS) {
    open.entries.push(entry);
    return;
  }
  const batch: Batch = { queue: sink.queue, entries: [entry] };
  open = batch;
  sink.waitUntil(flush(batch));
}

async function flush(batch: Batch): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, AUDIT_FLUSH_MS));
  if (open === batch) open = null;
  try {
    await batch.queue.sendBatch(batch.entries.map(({ event }) => ({ body: event, contentType: "json" as const })));
  } catch (error) {
    for (const { event, requestId } of batch.entries) {
      lostSends++;
      console.log(
        JSON.stringify({
          request_id: requestId,
          route: "audit",
          outcome: "error",
          reason: "audit_send_failed",
          event_id: event.id,
          event_kind: event.kind,
          audit_sends_lost: lostSends,
          detail: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 160) : "non-error thrown",
        }),
      );
    }
  }
}
