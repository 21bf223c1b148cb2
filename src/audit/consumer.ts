/**
 * The queue consumer: writes a batch of audit events to D1 and acknowledges each message
 * only once its events' rows are committed, so a crash between the two only redelivers, and
 * a redelivery inserts nothing (store.ts: idempotent on the event ID).
 *
 * A message carries the JSON array of the events the producer packed into it (text), or,
 * as versions before packing sent them and may still be queued during a deploy, one event.
 * The whole batch is one D1 batch (one transaction, one round trip) of one INSERT of all
 * its events (store.ts `insertAuditEvents`; more only when the events outgrow one bound
 * value): one statement per event cost the consumer about twice the CPU per event. If it
 * fails, each message is tried on its own, so one bad message cannot hold the others
 * back: those written are acknowledged, the rest retried with exponential backoff until
 * Queues gives up after `max_retries` (wrangler.toml) and moves them to the dead-letter
 * queue. What is not an event of a version we know is acknowledged and counted: retrying
 * cannot make it one. It does not log (its caller does) nor build events.
 */
import { isAuditEvent, type AuditEvent } from "./events";
import { insertAuditEvents } from "./store";

/** Retry delays: 5 s, 10 s, 20 s, … capped at 5 minutes. */
const RETRY_BASE_SECONDS = 5;
const RETRY_MAX_SECONDS = 300;

/** What became of a batch's events (not messages: a message may carry many). */
export interface ConsumeResult {
  /** Rows inserted. */
  written: number;
  /** Acknowledged without a row: already stored (a redelivery), or belonging to no organization. */
  skipped: number;
  /** Not an audit event (acknowledged, dropped); a message that is not an array of events counts one. */
  invalid: number;
  /** Left for redelivery with their message. */
  retried: number;
}

export const retryDelaySeconds = (attempts: number): number =>
  Math.min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** Math.max(0, Math.min(attempts, 10) - 1));

/** A message's candidate events: its packed array, or the one event of an older producer; null when it is neither. */
function bodyEvents(body: unknown): unknown[] | null {
  if (typeof body !== "string") return [body];
  try {
    const parsed: unknown = JSON.parse(body);
    return Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

export async function consumeAuditBatch(batch: MessageBatch<unknown>, db: D1Database): Promise<ConsumeResult> {
  const result: ConsumeResult = { written: 0, skipped: 0, invalid: 0, retried: 0 };
  const carrying: { message: Message<unknown>; events: AuditEvent[] }[] = [];
  for (const message of batch.messages) {
    const candidates = bodyEvents(message.body);
    const events = (candidates ?? []).filter(isAuditEvent);
    result.invalid += candidates ? candidates.length - events.length : 1;
    if (events.length > 0) carrying.push({ message, events });
    else message.ack();
  }
  if (carrying.length === 0) return result;

  // Written or not is told by the statements' RETURNING: an ID they name was inserted now,
  // once, so of two copies of the same event only the first counts as written.
  const settle = ({ message, events }: (typeof carrying)[number], inserted: Set<string>) => {
    for (const event of events) {
      if (inserted.delete(event.id)) result.written++;
      else result.skipped++;
    }
    message.ack();
  };
  const returnedIds = (outcomes: D1Result<{ id: string }>[]) => new Set(outcomes.flatMap((outcome) => outcome.results.map((row) => row.id)));
  try {
    const outcomes = await db.batch<{ id: string }>(insertAuditEvents(db, carrying.flatMap(({ events }) => events)));
    const inserted = returnedIds(outcomes);
    for (const entry of carrying) settle(entry, inserted);
    return result;
  } catch {
    // Fall through: one message at a time.
  }
  for (const entry of carrying) {
    try {
      // Statement by statement (a message's events are one, unless they outgrow a bound value):
      // a message stopped halfway is retried whole, and its rows already written are skipped then.
      const outcomes: D1Result<{ id: string }>[] = [];
      for (const statement of insertAuditEvents(db, entry.events)) outcomes.push(await statement.run<{ id: string }>());
      settle(entry, returnedIds(outcomes));
    } catch {
      result.retried += entry.events.length;
      entry.message.retry({ delaySeconds: retryDelaySeconds(entry.message.attempts) });
    }
  }
  return result;
}
