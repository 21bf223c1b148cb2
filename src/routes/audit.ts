/**
 * The audit log over HTTP: `GET /v1/orgs/{org_id}/audit`, and the doors by which routes
 * record what happened: `auditExchange` around the exchange, `audited` around every
 * mutating admin verb (one call per verb: it runs the verb, then records its change).
 *
 * HTTP only: query parameters are read here (each at most once), validated with the
 * domain's schema and handed to `listOrgAudit`; events are built and sent by src/audit/.
 */
import * as z from "../schema";
import { auditNetwork } from "../access/client-network";
import type { Changed } from "../admin/changes";
import type { AdminContext } from "../admin/context";
import { adminEvent } from "../audit/admin-events";
import { ADMIN_ACTIONS, EVENT_ID_PATTERN } from "../audit/events";
import { exchangeEvent, type ExchangeOutcome } from "../audit/exchange-events";
import { sendAuditEvent, type AuditSink } from "../audit/producer";
import { AuditQuery, listOrgAudit } from "../audit/queries";
import { StsError } from "../errors";
import type { ExchangeTrace } from "../exchange";
import { PROVIDER_NAMES } from "../providers/registry";
import { safeName, validate } from "../validate";
import { adminContext } from "./caller";
import { waitUntilOf, type AppContext, type AppEnv } from "./context";
import { ADMIN, type Operations } from "./document";
import { Hono } from "./hono";

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
  // Without the queue auditing is off: no event is built for nobody (the producer would drop it).
  if (!c.env.AUDIT_QUEUE) return { trace, record: (_outcome: ExchangeOutcome) => undefined };
  const clientNetwork = auditNetwork(c.req.header("cf-connecting-ip"), c.req.header("cf-connecting-ipv6"));
  const record = (outcome: ExchangeOutcome) =>
    sendAuditEvent(auditSink(c), exchangeEvent(trace, { requestId: c.get("log").request_id, clientNetwork, audience, nowMs: Date.now() }, outcome));
  return { trace, record };
}

/**
 * Runs a mutating admin verb as `ctx`'s principal and, once it has succeeded, records what
 * it changed; returns the verb's result. A refused or failed verb records nothing. Every
 * door that changes something goes through here: the admin API (`audited`) and the
 * settings page (`ui/context.ts`'s `perform`).
 */
export async function performAudited<C extends AdminContext, T>(c: AppContext, ctx: C, verb: (ctx: C) => Promise<Changed<T>>): Promise<T> {
  const { result, change } = await verb(ctx);
  sendAuditEvent(auditSink(c), adminEvent(change, ctx.principal, { requestId: c.get("log").request_id, nowMs: Date.now() }));
  return result;
}

/** `performAudited` for the admin API's caller. */
export async function audited<T>(c: AppContext, verb: (ctx: AdminContext) => Promise<Changed<T>>): Promise<T> {
  return performAudited(c, await adminContext(c), verb);
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

/** An event as the listing renders it (`src/audit/events.ts`'s types, minus the version). */
function auditPageSchema() {
  const base = {
    id: z.string().check(z.regex(EVENT_ID_PATTERN)),
    time: z.number().check(z.int()),
    request_id: z.string(),
    org_id: z.nullable(z.string()),
    project_id: z.nullable(z.string()),
  };
  const exchange = z.strictObject({
    ...base,
    kind: z.literal("exchange"),
    outcome: z.enum(["minted", "refused"]),
    reason: z.nullable(z.string()).check(z.describe("The refusal's error reason; null when minted")),
    detail: z.nullable(z.string()).check(z.describe("For authorization refusals, the checks that failed (`failed: conditions`)")),
    provider: z.enum(PROVIDER_NAMES),
    issuer: z.string(),
    subject: z.nullable(z.string()),
    identity: z.string(),
    provenance: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    omitted: z.array(z.string()),
    audience: z.nullable(z.string()),
    relationship_id: z.nullable(z.string()),
    jti: z.nullable(z.string()),
    scope: z.nullable(z.string()),
    pinned: z.nullable(z.record(z.string(), z.string())),
    client_network: z.string().check(z.describe("An IPv4 /24 or an IPv6 /48, never an address")),
    shadow: z.array(
      z.strictObject({ relationship_id: z.string(), result: z.enum(["would_admit", "would_refuse"]), reason: z.nullable(z.string()) }),
    ),
  });
  const admin = z.strictObject({
    ...base,
    kind: z.literal("admin"),
    actor: z.union([
      z.strictObject({ type: z.literal("operator") }),
      z.strictObject({ type: z.literal("user"), user_id: z.string(), token_id: z.string() }),
      z.strictObject({ type: z.enum(["organization", "project"]), token_id: z.string() }),
      z.strictObject({ type: z.enum(["oidc", "pull"]), jti: z.string() }),
    ]),
    action: z.enum(ADMIN_ACTIONS),
    resource_id: z.string(),
    before: z.nullable(z.record(z.string(), z.unknown())),
    after: z.nullable(z.record(z.string(), z.unknown())),
  });
  return z.strictObject({
    events: z.array(z.discriminatedUnion("kind", [exchange, admin])),
    next_cursor: z.nullable(z.string()).check(z.describe("Pass as `cursor` for the next (older) page; null on the last page")),
  });
}

/** The route above, documented (a function, so the worker's bundle drops it: only `npm run openapi` calls it). */
export const auditOperations = (): Operations => ({
  "GET /v1/orgs/{org_id}/audit": {
    tag: "organizations",
    summary: "Read the organization's audit log (an admin of the organization)",
    description:
      "Exchanges of verified tokens (minted or refused, with shadow relationships' verdicts) and admin changes, newest first. Each parameter at most once; a repeated or unknown one is `400 invalid_request` naming it. `since` is inclusive, `until` exclusive.",
    security: "credential",
    query: AuditQuery,
    responses: { 200: { description: "One page of events, newest first", schema: auditPageSchema() } },
    errors: [400, ...ADMIN],
  },
});
