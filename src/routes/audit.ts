/**
 * The audit log over HTTP: `GET /v1/orgs/{org_id}/audit` for the organization's admins, and
 * the doors by which routes record events (`auditExchange`, `recordAdminChange`).
 *
 * HTTP only: the query is validated here (an unknown parameter, a repeated one, or a value
 * outside its set is 400 naming the field), access is `authorizeOrg(…, "admin")` — the
 * operator, the organization's token, its admin members; a member is 403, a project or job
 * token 403 (no `api` scope), another organization's credential 404 — and the rest is
 * src/audit/.
 */
import { Hono } from "hono";
import * as z from "zod";
import { adminEvent, type ActingPrincipal, type AdminChange } from "../audit/admin-events";
import { decodeCursor, encodeCursor } from "../audit/cursor";
import { exchangeEvent, type ExchangeOutcome } from "../audit/exchange-events";
import { EVENT_KINDS, EXCHANGE_OUTCOMES, eventIdFloor } from "../audit/events";
import { sendAuditEvent, type AuditSink } from "../audit/producer";
import { listAuditEvents, type AuditFilters } from "../audit/store";
import { ID_PATTERN } from "../db/d1";
import { StsError } from "../errors";
import type { ExchangeTrace } from "../exchange";
import { authorizeOrg } from "./access";
import { safeName, validate } from "./body";
import { auditNetwork } from "./client-network";
import { waitUntilOf, type AppContext, type AppEnv } from "./context";

export const DEFAULT_AUDIT_PAGE = 50;
export const MAX_AUDIT_PAGE = 200;

/** Unix seconds (digits only) or an RFC 3339 date-time with its offset, as milliseconds. */
const Time = z.union([
  z.string().regex(/^[0-9]{1,12}$/).transform((s) => Number(s) * 1000),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
], { error: "must be Unix seconds or an RFC 3339 date-time" });

const AuditQuery = z.strictObject({
  project_id: z.string().regex(ID_PATTERN.prj, "must be a project ID (prj_…)").optional(),
  kind: z.enum(EVENT_KINDS).optional(),
  outcome: z.enum(EXCHANGE_OUTCOMES).optional(),
  since: Time.optional(),
  until: Time.optional(),
  cursor: z.string().max(512).optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_AUDIT_PAGE))
    .optional(),
});

/** The request's way to the audit queue: the binding, its `waitUntil`, and its request ID. */
export function auditSink(c: AppContext): AuditSink {
  return { queue: c.env.AUDIT_QUEUE, waitUntil: waitUntilOf(c), requestId: c.get("log").request_id };
}

/**
 * The audit of one exchange: `trace` goes into `exchange()`'s deps, and `record` sends the
 * event once it answered (the refusal's too). The client network is truncated here.
 */
export function auditExchange(c: AppContext, audience: string | undefined) {
  const trace: ExchangeTrace = {};
  const clientNetwork = auditNetwork(c.req.header("cf-connecting-ip"), c.req.header("cf-connecting-ipv6"));
  const record = (outcome: ExchangeOutcome) =>
    sendAuditEvent(auditSink(c), exchangeEvent(trace, { requestId: c.get("log").request_id, clientNetwork, audience, nowMs: Date.now() }, outcome));
  return { trace, record };
}

/** Records an admin change that has been made (call after the write succeeded). */
export function recordAdminChange(c: AppContext, principal: ActingPrincipal, change: AdminChange): void {
  sendAuditEvent(auditSink(c), adminEvent(change, principal, { requestId: c.get("log").request_id, nowMs: Date.now() }));
}

/** Each parameter once: a repeated filter would otherwise silently keep only one value. */
function singleValued(c: AppContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (values.length !== 1) throw new StsError("field_invalid", `${safeName(name)}: must be given once`);
    out[name] = values[0]!;
  }
  return out;
}

export const auditRoutes = new Hono<AppEnv>().get("/v1/orgs/:org_id/audit", async (c) => {
  const { org } = await authorizeOrg(c, c.req.param("org_id"), "admin");
  const query = validate(AuditQuery, singleValued(c));
  if (query.outcome !== undefined && query.kind === "admin") throw new StsError("field_invalid", "outcome: applies to exchange events only");
  if (query.since !== undefined && query.until !== undefined && query.until <= query.since) {
    throw new StsError("field_invalid", "until: must be later than since");
  }
  const filters: AuditFilters = {
    projectId: query.project_id,
    kind: query.kind,
    outcome: query.outcome,
    fromId: query.since === undefined ? undefined : eventIdFloor(query.since),
    toId: query.until === undefined ? undefined : eventIdFloor(query.until),
  };
  const beforeId = query.cursor === undefined ? undefined : await decodeCursor(query.cursor, org.id, filters);
  const { events, more } = await listAuditEvents(c.env.DB, org.id, filters, { beforeId, limit: query.limit ?? DEFAULT_AUDIT_PAGE });
  const next = more ? await encodeCursor({ org: org.id, filters, lastId: events[events.length - 1]!.id }) : null;
  return c.json({ events, next_cursor: next });
});
