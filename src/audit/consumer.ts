/**
 * The queue consumer: writes a batch of audit events to D1 and acknowledges each message
 * only once its row is committed, so a crash between the two only redelivers, and a
 * redelivery inserts nothing (store.ts: idempotent on the event ID).
 *
 * The whole batch is one D1 batch (one transaction, one round trip) of one INSERT of all
 * its events (store.ts `insertAuditEvents`; more only when the events outgrow one bound
 * value): one statement per event cost the consumer about twice the CPU per event. If it
 * fails, each message is tried on its own, so one bad message cannot hold the others
 * back: those written are acknowledged, the rest retried with exponential backoff until Queues gives up
 * after `max_retries` (wrangler.toml) and moves them to the dead-letter queue. A message
 * that is not an event of a version we know is acknowledged and counted: retrying cannot
 * make it one. It does not log (its caller does) nor build events.
 */
import { isAuditEvent, type AuditEvent } from "./events";
import { insertAuditEvent, insertAuditEvents } from "./store";

/** Retry delays: 5 s, 10 s, 20 s, … capped at 5 minutes. */
const RETRY_BASE_SECONDS = 5;
const RETRY_MAX_SECONDS = 300;

export interface ConsumeResult {
  /** Rows inserted. */
  written: number;
  /** Acknowledged without a row: already stored (a redelivery), or belonging to no organization. */
  skipped: number;
  /** Not an audit event (acknowledged, dropped). */
  invalid: number;
  /** Left for redelivery. */
  retried: number;
}

export const retryDelaySeconds = (attempts: number): number =>
  Math.min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** Math.max(0, Math.min(attempts, 10) - 1));

export async function consumeAuditBatch(batch: MessageBatch<unknown>, db: D1Database): Promise<ConsumeResult> {
  const result: ConsumeResult = { written: 0, skipped: 0, invalid: 0, retried: 0 };
  const valid: { message: Message<unknown>; event: AuditEvent }[] = [];
  for (const message of batch.messages) {
    if (isAuditEvent(message.body)) {
      valid.push({ message, event: message.body });
    } else {
      result.invalid++;
      message.ack();
    }
  }
  if (valid.length === 0) return result;

  // Written or not is told by the statement's RETURNING: an ID it names was inserted now,
  // once, so of two messages carrying the same event only the first counts as written.
  const settle = (message: Message<unknown>, written: boolean) => {
    if (written) result.written++;
    else result.skipped++;
    message.ack();
  };
  try {
    const outcomes = await db.batch<{ id: string }>(insertAuditEvents(db, valid.map(({ event }) => event)));
    const inserted = new Set(outcomes.flatMap((outcome) => outcome.results.map((row) => row.id)));
    for (const { message, event } of valid) settle(message, inserted.delete(event.id));
    return result;
  } catch {
    // Fall through: one message at a time.
  }
  for (const { message, event } of valid) {
    try {
      settle(message, (await insertAuditEvent(db, event).run()).meta.changes > 0);
    } catch {
      result.retried++;
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
  return result;
}
