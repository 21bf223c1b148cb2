/**
 * Sending audit events: one `Queue.send` per event, handed to `waitUntil`, so a response is
 * never held for it and never fails because of it. Delivery to D1 is the consumer's job.
 *
 * A send that fails (it throws, or its promise rejects) is lost: it is counted per isolate
 * (`lostAuditSends`) and logged as a line of its own carrying the request's ID, the event's
 * ID and kind, the isolate's count so far, and the queue's own words (never the event).
 * Without an `AUDIT_QUEUE` binding auditing is off: nothing is sent or counted (every
 * environment of wrangler.toml binds it, and `npm run deploy:check` fails one that does not).
 * It does not build events (exchange-events.ts, admin-events.ts) nor decide who may read them.
 */
import type { AuditEvent } from "./events";

/** What a request hands the producer: the queue, its `waitUntil`, and its ID for the log line. */
export interface AuditSink {
  queue: Queue | undefined;
  waitUntil(promise: Promise<unknown>): void;
  requestId: string;
}

let lostSends = 0;

/** Sends that failed in this isolate since it started. */
export const lostAuditSends = (): number => lostSends;

export function sendAuditEvent(sink: AuditSink, event: AuditEvent | null): void {
  if (!event || !sink.queue) return;
  let sending: Promise<unknown>;
  try {
    sending = sink.queue.send(event, { contentType: "json" });
  } catch (error) {
    sending = Promise.reject(error);
  }
  sink.waitUntil(
    sending.catch((error: unknown) => {
      lostSends++;
      console.log(
        JSON.stringify({
          request_id: sink.requestId,
          route: "audit",
          outcome: "error",
          reason: "audit_send_failed",
          event_id: event.id,
          event_kind: event.kind,
          audit_sends_lost: lostSends,
          detail: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 160) : "non-error thrown",
        }),
      );
    }),
  );
}
