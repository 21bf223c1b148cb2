/**
 * The audit log in D1 (`audit_events`, migration 0006): the consumer's idempotent insert and
 * the API's listing. Every read is one range of one index, newest first, because event IDs
 * sort by time (events.ts). It does not validate events (the consumer does) nor decide who
 * may read them (queries.ts, through access/).
 */
import { d1 } from "../db/d1";
import type { D1Handle } from "../db/replicas";
import type { AuditEvent } from "./events";

/**
 * Insert unless already there (delivery is at least once: a redelivered event is the same
 * `id`). An exchange event that arrives with a project but no organization gets the
 * project's, and is not stored when that project does not exist (it belongs to no
 * organization); an admin change without either is a user's own and is kept as such.
 */
export function insertAuditEvent(db: D1Handle, event: AuditEvent): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO audit_events (id, org_id, project_id, kind, outcome, body)
       SELECT ?1, owner.org_id, ?3, ?4, ?5, ?6
       FROM (SELECT COALESCE(?2, (SELECT org_id FROM projects WHERE id = ?3)) AS org_id) AS owner
       WHERE owner.org_id IS NOT NULL OR (?4 = 'admin' AND ?3 IS NULL)
       ON CONFLICT (id) DO NOTHING`,
    )
    .bind(event.id, event.org_id, event.project_id, event.kind, event.kind === "exchange" ? event.outcome : null, JSON.stringify(event));
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
