/**
 * The audit event of one exchange, built from what the exchange had established when it
 * answered (its trace), whether it minted or refused.
 *
 * Only verified tokens are recorded: a refusal before the token fully verified (format,
 * issuer, key, signature, expiry, audience, claims) proves nothing about who sent it, and
 * an expired or foreign-audience token, even correctly signed, could be replayed forever by
 * whoever found it to fill an organization's log. Those refusals are in the request's log
 * line only.
 *
 * An event belongs to one project: the one that minted, else the one the job named in
 * `audience`, else the one project whose relationships name the job's identity (the one it
 * was routed to). Never to a project that merely has a relationship naming the same
 * repository as another's: a refusal that names no project when several projects, or
 * none, name the job belongs to no organization and is not recorded.
 * Pure: no I/O; the producer sends what this returns.
 */
import { StsError, type Reason } from "../errors";
import type { ExchangeResult, ExchangeTrace } from "../exchange";
import { PROVIDERS } from "../providers/registry";
import { capProvenance } from "../tokens/mint";
import { shadowRecord } from "../trust/authorize";
import { AUDIT_EVENT_VERSION, newEventId, type ExchangeEvent } from "./events";

/** Refusals whose `logDetail` says which check of the project's relationships failed. */
const AUTHORIZATION_REASONS: ReadonlySet<Reason> = new Set<Reason>([
  "no_trust_relationship",
  "event_denied",
  "target_invalid",
  "target_ambiguous",
  "scope_invalid",
]);

export interface ExchangeContext {
  requestId: string;
  /** The client network, already truncated (`auditNetwork`). */
  clientNetwork: string;
  /** The project ID the job sent as `audience`, if any. */
  audience: string | undefined;
  nowMs: number;
}

export type ExchangeOutcome = { minted: ExchangeResult } | { refused: unknown };

/** The event to record, or null when there is nothing to record (unverified, or no project). */
export function exchangeEvent(trace: ExchangeTrace, ctx: ExchangeContext, outcome: ExchangeOutcome): ExchangeEvent | null {
  const token = trace.token;
  if (!token) return null;
  const owner = "minted" in outcome ? outcome.minted.grant.relationship : attribute(trace, ctx.audience);
  if (!owner) return null;

  // The same values and caps as the minted token's `ci` claim: what is left out is named.
  const { subject, omitted, ...provenance } = capProvenance({}, { subject: token.subject, ...PROVIDERS[token.provider].provenance(token.claims) });

  const base = {
    v: AUDIT_EVENT_VERSION,
    id: newEventId(ctx.nowMs),
    time: Math.floor(ctx.nowMs / 1000),
    request_id: ctx.requestId,
    org_id: owner.orgId,
    project_id: owner.projectId,
    kind: "exchange" as const,
    provider: token.provider,
    issuer: token.issuer,
    subject: typeof subject === "string" ? subject : null,
    identity: token.identity.lookupKey,
    provenance: provenance as Record<string, string | number | boolean>,
    omitted: Array.isArray(omitted) ? omitted : [],
    audience: ctx.audience ?? null,
    client_network: ctx.clientNetwork,
    shadow: (trace.shadow ?? []).map(shadowRecord),
  };
  if ("minted" in outcome) {
    const { grant, jti, scopes } = outcome.minted;
    return {
      ...base,
      outcome: "minted",
      reason: null,
      detail: null,
      relationship_id: grant.relationship.id,
      jti,
      scope: scopes.join(" "),
      pinned: grant.pins ?? null,
    };
  }
  const error = outcome.refused;
  const reason: Reason = error instanceof StsError ? error.reason : "internal";
  const detail = error instanceof StsError && AUTHORIZATION_REASONS.has(reason) ? (error.logDetail?.slice(0, 256) ?? null) : null;
  return { ...base, outcome: "refused", reason, detail, relationship_id: null, jti: null, scope: null, pinned: null };
}

/**
 * The project a refused exchange belongs to: the audience's (its organization known when a
 * relationship of it was read, else looked up by the consumer), or the only project whose
 * relationships name the job. Null when neither: the refusal is nobody's to read.
 */
function attribute(trace: ExchangeTrace, audience: string | undefined): { projectId: string; orgId: string | null } | null {
  const relationships = trace.candidates?.relationships ?? [];
  if (audience !== undefined) {
    return { projectId: audience, orgId: relationships.find((r) => r.projectId === audience)?.orgId ?? null };
  }
  // Without audience, `db/` reads one project's relationships, and none when several name the job.
  if (trace.candidates?.ambiguous || new Set(relationships.map((r) => r.projectId)).size !== 1) return null;
  return { projectId: relationships[0]!.projectId, orgId: relationships[0]!.orgId };
}

