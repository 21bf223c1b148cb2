/**
 * The audit log in D1 (`audit_events`, migration 0006): the consumer's idempotent insert (a
 * batch of events in one statement) and the API's listing. Every read is one range of one
 * index, newest first, because event IDs sort by time (events.ts). It does not validate
 * events (the consumer does) nor decide who may read them (queries.ts, through access/).
 */
import { d1 } from "../db/d1";
import type { D1Handle } from "../db/replicas";
import type { AuditEvent } from "./events";
import { jsonArrays } from "./json-arrays";

/**
 * Who an event belongs to, and whether it is stored: over a relation `event(id, org_id,
 * project_id, kind, outcome, body)`, insert unless already there (delivery is at least once:
 * a redelivered event is the same `id`). An exchange event that arrives with a project but
 * no organization gets the project's, and is not stored when that project does not exist
 * (it belongs to no organization); an admin change without either is a user's own and is
 * kept as such. RETURNING names the rows written; a conflicting one is not returned.
 */
const INSERT_EVENTS = `INSERT INTO audit_events (id, org_id, project_id, kind, outcome, body)
  SELECT event.id, COALESCE(event.org_id, (SELECT org_id FROM projects WHERE id = event.project_id)) AS owner, event.project_id, event.kind, event.outcome, event.body
  FROM event
  WHERE owner IS NOT NULL OR (event.kind = 'admin' AND event.project_id IS NULL)
  ON CONFLICT (id) DO NOTHING
  RETURNING id`;

/**
 * Most bytes of events one statement takes. D1 binds at most 100 parameters, so many rows
 * travel as one JSON array, and a bound value is at most 2,000,000 bytes. A batch of 100
 * exchange events (~1 KB each) is one statement; one event is at most a queue message (128 KB).
 */
export const INSERT_BATCH_BYTES = 600_000;

/**
 * Many events in as few statements as fit (one for a normal batch): each one reads its
 * events from a JSON array through `json_each`, whose `value` for an object is its JSON text
 * as given, so `body` is exactly `JSON.stringify(event)`.
 * An admin change has no `outcome` field (the consumer checks the fields), so its is NULL.
 */
export function insertAuditEvents(db: D1Handle, events: AuditEvent[], maxBytes = INSERT_BATCH_BYTES): D1PreparedStatement[] {
  const statement = db.prepare(
    `WITH event (id, org_id, project_id, kind, outcome, body) AS (
       SELECT value ->> '$.id', value ->> '$.org_id', value ->> '$.project_id', value ->> '$.kind', value ->> '$.outcome', value FROM json_each(?1)
     ) ${INSERT_EVENTS}`,
  );
  return jsonArrays(events, (event) => JSON.stringify(event), maxBytes).map((array) => statement.bind(array.text));
}

export interface AuditFilters {
  projectId?: string;
  kind?: AuditEvent["kind"];
  outcome?: "minted" | "refused";
  /** Event ID bounds from `since` (inclusive) and `until` (exclusive). */
  fromId?: string;
  toId?: string;
}

/** An event as the API renders it: the stored body, its organization as resolved on insert. */
export type RenderedEvent = Omit<AuditEvent, "v">;

/**
 * The SQL of one page of an organization's events, newest first, strictly older than
 * `beforeId` (the cursor's last event), asking for one more than `limit` to know whether
 * another page exists. Every filter combination reads one index range in `id` order.
 */
export function auditPageQuery(orgId: string, filters: AuditFilters, page: { beforeId?: string; limit: number }): { sql: string; values: unknown[] } {
  const where = ["org_id = ?"];
  const values: unknown[] = [orgId];
  const add = (clause: string, value: unknown) => {
    where.push(clause);
    values.push(value);
  };
  if (filters.projectId !== undefined) add("project_id = ?", filters.projectId);
  // Only exchanges have an outcome, so an outcome filter is also an exchange filter (the
  // route refuses one with kind=admin); one index per filter keeps the range in id order.
  if (filters.outcome !== undefined) add("outcome = ?", filters.outcome);
  else if (filters.kind !== undefined) add("kind = ?", filters.kind);
  if (filters.fromId !== undefined) add("id >= ?", filters.fromId);
  if (filters.toId !== undefined) add("id < ?", filters.toId);
  if (page.beforeId !== undefined) add("id < ?", page.beforeId);
  values.push(page.limit + 1);
  return { sql: `SELECT org_id, body FROM audit_events WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT ?`, values };
}

export function listAuditEvents(
  db: D1Handle,
  orgId: string,
  filters: AuditFilters,
  page: { beforeId?: string; limit: number },
): Promise<{ events: RenderedEvent[]; more: boolean }> {
  const { sql, values } = auditPageQuery(orgId, filters, page);
  return d1(async () => {
    const { results } = await db
      .prepare(sql)
      .bind(...values)
      .all<{ org_id: string; body: string }>();
    const events = results.slice(0, page.limit).map((row) => {
      const { v: _version, ...event } = JSON.parse(row.body) as AuditEvent;
      return { ...event, org_id: row.org_id } as RenderedEvent;
    });
    return { events, more: results.length > page.limit };
  });
}
