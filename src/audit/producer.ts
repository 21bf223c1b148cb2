/**
 * Sending audit events off the response path. An event joins this isolate's open batch; the
 * request that opened the batch hands its flush to `waitUntil`, and the flush sends the whole
 * batch with one `Queue.sendBatch` a few milliseconds later. So a response is never held for
 * auditing and never fails because of it, and concurrent requests share one call to the
 * queue instead of one each (the call, not the event, is what costs the Worker). A request
 * never waits on another's flush: each batch is flushed by the request that opened it.
 *
 * The batch's events travel packed: a message's body is the JSON array of as many events as
 * fit `AUDIT_MESSAGE_BYTES` (sent as text, so it is serialized once). Queues bills, stores
 * and delivers messages, not events: three operations per 64 KB started, so one event per
 * message made the queue the largest cost of an audited exchange after its request, and
 * every message was work for the queue and its consumer. The consumer unpacks them.
 *
 * A batch that fails to send (the call throws, or its promise rejects) is lost: each of its
 * events is counted per isolate (`lostAuditSends`) and logged as a line of its own carrying
 * its request's ID, the event's ID and kind, the isolate's count so far, and the queue's own
 * words (never the event). Without an `AUDIT_QUEUE` binding auditing is off: nothing is sent
 * or counted (every environment of wrangler.toml binds it, and `npm run deploy:check` fails
 * one that does not). It does not build events (exchange-events.ts, admin-events.ts).
 */
import type { AuditEvent } from "./events";
import { jsonArrays, type JsonArray } from "./json-arrays";

/** What a request hands the producer: the queue, its `waitUntil`, and its ID for the log line. */
export interface AuditSink {
  queue: Queue | undefined;
  waitUntil(promise: Promise<unknown>): void;
  requestId: string;
}

/** How long a batch stays open for other requests' events before it is sent. */
export const AUDIT_FLUSH_MS = 50;
/** Events per batch: what one flush sends. */
export const AUDIT_BATCH_EVENTS = 32;
/**
 * A message's body at most, in UTF-8 bytes: within the 64 KB that Queues bills as one
 * message, and half its 128 KB limit. An event larger than this (none is: its provenance is
 * capped at 4 KiB) would travel alone.
 */
export const AUDIT_MESSAGE_BYTES = 60 * 1024;
/** One `sendBatch` at most: Queues takes 256 KB and 100 messages a call. */
const SEND_BATCH_BYTES = 240 * 1024;
const SEND_BATCH_MESSAGES = 100;

type Entry = { event: AuditEvent; requestId: string };
/** A message's body (`text`) and the events in it (`items`), so a failed send can name each. */
type Packed = JsonArray<Entry>;

interface Batch {
  queue: Queue;
  entries: Entry[];
}

let open: Batch | null = null;
let lostSends = 0;

/** Events whose send failed in this isolate since it started. */
export const lostAuditSends = (): number => lostSends;

export function sendAuditEvent(sink: AuditSink, event: AuditEvent | null): void {
  if (!event || !sink.queue) return;
  const entry: Entry = { event, requestId: sink.requestId };
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
  for (const call of calls(pack(batch.entries))) {
    try {
      await batch.queue.sendBatch(call.map(({ text }) => ({ body: text, contentType: "text" as const })));
    } catch (error) {
      for (const { event, requestId } of call.flatMap((message) => message.items)) {
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
}

/** The events as JSON arrays of at most `AUDIT_MESSAGE_BYTES` each, in order. */
export const pack = (entries: Entry[]): Packed[] => jsonArrays(entries, (entry) => JSON.stringify(entry.event), AUDIT_MESSAGE_BYTES);

/** Messages grouped into `sendBatch` calls within Queues' per-call limits. */
function calls(messages: Packed[]): Packed[][] {
  const groups: Packed[][] = [];
  let bytes = 0;
  for (const message of messages) {
    const last = groups.at(-1);
    if (last && last.length < SEND_BATCH_MESSAGES && bytes + message.bytes <= SEND_BATCH_BYTES) {
      last.push(message);
      bytes += message.bytes;
    } else {
      groups.push([message]);
      bytes = message.bytes;
    }
  }
  return groups;
}
