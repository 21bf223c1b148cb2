/**
 * The audit log over HTTP: `GET /v1/orgs/{org_id}/audit`, and the doors by which routes
 * record what happened: `auditExchange` around the exchange, `audited` around every
 * mutating admin verb (one call per verb: it runs the verb, then records its change).
 *
 * HTTP only: query parameters are read here (each at most once), validated with the
 * domain's schema and handed to `listOrgAudit`; events are built and sent by src/audit/.
 */
import { Hono } from "hono";
import { auditNetwork } from "../access/client-network";
import type { Changed } from "../admin/changes";
import type { AdminContext } from "../admin/context";
import { adminEvent } from "../audit/admin-events";
import { exchangeEvent, type ExchangeOutcome } from "../audit/exchange-events";
import { sendAuditEvent, type AuditSink } from "../audit/producer";
import { AuditQuery, listOrgAudit } from "../audit/queries";
import { StsError } from "../errors";
import type { ExchangeTrace } from "../exchange";
import { safeName, validate } from "../validate";
import { adminContext } from "./caller";
import { waitUntilOf, type AppContext, type AppEnv } from "./context";

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

/**
 * Runs a mutating admin verb for this request's caller and, once it has succeeded, records
 * what it changed; returns the verb's result. A refused or failed verb records nothing.
 */
export async function audited<T>(c: AppContext, verb: (ctx: AdminContext) => Promise<Changed<T>>): Promise<T> {
  const ctx = await adminContext(c);
  const { result, change } = await verb(ctx);
  sendAuditEvent(auditSink(c), adminEvent(change, ctx.principal, { requestId: c.get("log").request_id, nowMs: Date.now() }));
  return result;
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
  const query = async () => validate(AuditQuery, singleValued(c));
  return c.json(await listOrgAudit(await adminContext(c), c.req.param("org_id"), query));
});
