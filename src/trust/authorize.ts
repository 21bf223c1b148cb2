/**
 * "May it have this?" — pure functions of (verified token, candidate relationships,
 * request). No I/O; pins it decides on are returned for `db/` to store.
 *
 * One evaluation, many readers: `traceRelationships` puts the token through every check of
 * every candidate relationship (expected vs actual, pass or fail), and everything else
 * reads that trace. `authorize` takes the verdict from the first failing check of each
 * relationship in `enforce` mode, picks the one that admits, and the scopes granted;
 * `shadowVerdicts` says what `shadow` relationships would have done (recorded, never
 * enforced); explain (admin/explain.ts) renders the whole trace for a project admin. A
 * shadow relationship never mints, never pins and never changes the answer.
 *
 * The candidates are one project's: the audience's, or — without audience — the only
 * project whose enforce-mode relationships name the job's identity. Which project that is,
 * and whether it is unique, `db/` decides from the lookup key alone, so other tenants'
 * relationships are never evaluated.
 */
import { StsError } from "../errors";
import { claimValue, type VerifiedToken } from "../providers/provider";
import { PROVIDERS } from "../providers/registry";
import { scopesOf, type Scope } from "../tokens/scopes";
import { conditionHolds } from "./conditions";

/** `enforce` relationships admit tokens; `shadow` ones are only evaluated and recorded. */
export const RELATIONSHIP_MODES = ["enforce", "shadow"] as const;
export type RelationshipMode = (typeof RELATIONSHIP_MODES)[number];

export interface TrustRelationship {
  id: string;
  projectId: string;
  orgId: string;
  provider: string;
  mode: RelationshipMode;
  subject: Record<string, unknown>;
  conditions: Record<string, string>;
  tokenTtlSeconds: number;
  createdAt: number;
}

/** What `db/` found for a verified token: the relationships of the one project to consider. */
export interface Candidates {
  relationships: readonly TrustRelationship[];
  /** Without audience: enforce-mode relationships of more than one project name the job's identity. */
  ambiguous: boolean;
}

export interface Grant {
  relationship: TrustRelationship;
  scopes: Scope[];
  /** Immutable IDs first seen on this token, to be pinned on the relationship. */
  pins: Record<string, string> | undefined;
}

export interface ExchangeTarget {
  audience: string | undefined;
  scope: string[] | undefined;
}

/**
 * The checks a relationship puts a token through, in this order:
 * - `provider`: the relationship is for the token's CI;
 * - `identity`, `enterprise`, `pinned_id`: it names the job (repository, project, pipeline,
 *   vault subject), its enterprise, and the immutable IDs pinned on it;
 * - `default_audience`: the token carries our audience, or the provider's default one
 *   (CircleCI's org UUID) and the relationship sets `accept_default_audience`;
 * - `conditions`: every condition holds (one check per condition);
 * - `default_denial`: no event denied by default unless a condition names it exactly.
 */
export type Check = "provider" | "identity" | "enterprise" | "pinned_id" | "default_audience" | "conditions" | "default_denial";

/**
 * One check of one relationship: `expected` is the relationship's side (its field's value,
 * a condition's pattern; null when it sets nothing), `actual` the token's (the claim as the
 * token carried it; null when absent).
 */
export interface CheckResult {
  check: Check;
  /** The relationship's field (`owner/repository`, `owner_id`, `conditions.ref`, …). */
  field: string;
  /** The token's claim it is compared with. */
  claim: string;
  expected: unknown;
  actual: unknown;
  pass: boolean;
}

/** One relationship's every check on one token, and its verdict: its first failing check. */
export type Evaluation =
  | { relationship: TrustRelationship; checks: CheckResult[]; admits: true; pins?: Record<string, string> }
  | { relationship: TrustRelationship; checks: CheckResult[]; admits: false; failed: Check; claim?: string };

/** Every candidate's evaluation: what every reader of the exchange's decision reads. */
export interface Trace {
  evaluations: Evaluation[];
  ambiguous: boolean;
}

/** What a shadow relationship would have done with the token: recorded, never enforced. */
export interface ShadowVerdict {
  relationshipId: string;
  admits: boolean;
  /** The check it would refuse at, and for conditions and default denials the claim. */
  failed?: Check;
  claim?: string;
}

export function evaluate(token: VerifiedToken, relationship: TrustRelationship): Evaluation {
  const checks: CheckResult[] = [
    { check: "provider", field: "provider", claim: "iss", expected: relationship.provider, actual: token.provider, pass: relationship.provider === token.provider },
  ];
  // Another CI's relationship has none of this token's fields: nothing else to compare.
  if (relationship.provider !== token.provider) return verdict(relationship, checks, undefined);
  const provider = PROVIDERS[token.provider];
  const identity = provider.matchRelationship(relationship.subject, token);
  checks.push(...identity.checks);
  if (token.defaultAudience) {
    const accepts = provider.acceptsDefaultAudience(relationship.subject);
    checks.push({ check: "default_audience", field: "accept_default_audience", claim: "aud", expected: accepts, actual: claimValue(token.claims, "aud"), pass: accepts });
  }
  const conditions = relationship.conditions;
  for (const [claim, pattern] of Object.entries(conditions)) {
    checks.push({
      check: "conditions",
      field: `conditions.${claim}`,
      claim,
      expected: pattern,
      actual: claimValue(token.claims, claim),
      pass: conditionHolds(pattern, claim, token.claims),
    });
  }
  // Default denials are lifted only by a condition naming the denied value exactly.
  for (const denial of provider.defaultDenials(token.claims)) {
    const named = Object.hasOwn(conditions, denial.claim) ? conditions[denial.claim]! : null;
    checks.push({
      check: "default_denial",
      field: `conditions.${denial.claim}`,
      claim: denial.claim,
      expected: named,
      actual: denial.value,
      pass: named === denial.value,
    });
  }
  return verdict(relationship, checks, identity.pins);
}

function verdict(relationship: TrustRelationship, checks: CheckResult[], pins: Record<string, string> | undefined): Evaluation {
  const failed = checks.find((c) => !c.pass);
  if (!failed) return { relationship, checks, admits: true, ...(pins ? { pins } : {}) };
  const named = failed.check === "conditions" || failed.check === "default_denial";
  return { relationship, checks, admits: false, failed: failed.check, ...(named ? { claim: failed.claim } : {}) };
}

/** Every check of every candidate relationship, enforce and shadow. */
export function traceRelationships(token: VerifiedToken, candidates: Candidates): Trace {
  return { evaluations: candidates.relationships.map((relationship) => evaluate(token, relationship)), ambiguous: candidates.ambiguous };
}

/** The relationships whose verdicts count: enforce mode, of the audience's project when there is one. */
function enforced(trace: Trace, target: ExchangeTarget): Evaluation[] {
  return trace.evaluations.filter(
    (e) => e.relationship.mode === "enforce" && (target.audience === undefined || e.relationship.projectId === target.audience),
  );
}

export function authorize(trace: Trace, target: ExchangeTarget): Grant {
  // Without audience, a job is routed only when one project names it; which one must never
  // depend on conditions, or another tenant's looser relationship could take the job.
  if (target.audience === undefined && trace.ambiguous) throw new StsError("target_ambiguous");
  const evaluations = enforced(trace, target);
  const admitting = evaluations.filter((e) => e.admits);
  if (admitting.length === 0) throw refusal(evaluations, target);
  // `db/` hands over one project's relationships; several would be a bug, never a choice.
  if (new Set(admitting.map((a) => a.relationship.projectId)).size > 1) throw new StsError("target_ambiguous");

  // Several relationships of one project may admit the token: the oldest wins, so the
  // choice is stable and adding a relationship never changes an existing job's grant.
  const chosen = admitting.reduce((a, b) =>
    a.relationship.createdAt < b.relationship.createdAt ||
    (a.relationship.createdAt === b.relationship.createdAt && a.relationship.id < b.relationship.id)
      ? a
      : b,
  );
  return { relationship: chosen.relationship, scopes: narrowScopes(scopesOf("oidc"), target.scope), pins: chosen.pins };
}

/** What each shadow relationship of the project would have done: "would admit", or the check it would refuse at. */
export function shadowVerdicts(trace: Trace, target: ExchangeTarget): ShadowVerdict[] {
  return trace.evaluations
    .filter((e) => e.relationship.mode === "shadow" && (target.audience === undefined || e.relationship.projectId === target.audience))
    .map((e) =>
      e.admits
        ? { relationshipId: e.relationship.id, admits: true }
        : { relationshipId: e.relationship.id, admits: false, failed: e.failed, ...(e.claim !== undefined ? { claim: e.claim } : {}) },
    );
}

/** A shadow verdict as the log line (and the audit log) records it: "would admit", or "would refuse" at a check. */
export interface ShadowRecord {
  relationship_id: string;
  result: "would_admit" | "would_refuse";
  /** The check it would refuse at (`conditions: ref`, `default_denial: event_name`, `pinned_id`, …); null when it would admit. */
  reason: string | null;
}

const MAX_SHADOW_REASON_LENGTH = 128;

export function shadowRecord(verdict: ShadowVerdict): ShadowRecord {
  if (verdict.admits) return { relationship_id: verdict.relationshipId, result: "would_admit", reason: null };
  const reason = verdict.claim === undefined ? String(verdict.failed) : `${verdict.failed}: ${verdict.claim}`;
  return { relationship_id: verdict.relationshipId, result: "would_refuse", reason: reason.slice(0, MAX_SHADOW_REASON_LENGTH) };
}

/**
 * The wire says only that no relationship admits the token (or that an event is denied by
 * default); which check failed goes to the log line, never to the client.
 */
function refusal(evaluations: readonly Evaluation[], target: ExchangeTarget): StsError {
  const failed = [...new Set(evaluations.flatMap((e) => (e.admits ? [] : [e.failed])))];
  const logDetail = failed.length > 0 ? `failed: ${failed.join(",")}` : "no relationship names this job";
  if (failed.includes("default_denial")) return new StsError("event_denied", undefined, logDetail);
  return new StsError(target.audience === undefined ? "no_trust_relationship" : "target_invalid", undefined, logDetail);
}

/** RFC 8693 §2.1 `scope`: a subset of what is granted; asking for more is `invalid_scope`. */
export function narrowScopes(granted: readonly Scope[], requested: readonly string[] | undefined): Scope[] {
  if (requested === undefined) return [...granted];
  if (requested.some((s) => !(granted as readonly string[]).includes(s))) throw new StsError("scope_invalid");
  return granted.filter((s) => requested.includes(s));
}
