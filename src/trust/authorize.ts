/**
 * "May it have this?" — a pure function of (verified token, candidate relationships,
 * request). It picks the relationship that admits the token, the project it reaches and
 * the scopes granted. No I/O; pins it decides on are returned for `db/` to store.
 *
 * Each relationship is evaluated on its own, as a list of named checks whose first failure
 * is its verdict; `authorize` reads the verdicts. The candidates are one project's: the
 * audience's, or — without audience — the only project whose relationships name the job's
 * identity. Which project that is, and whether it is unique, `db/` decides from the
 * lookup key alone, so other tenants' relationships are never evaluated.
 */
import { StsError } from "../errors";
import type { VerifiedToken } from "../providers/provider";
import { PROVIDERS } from "../providers/registry";
import { scopesOf, type Scope } from "../tokens/scopes";
import { failedCondition } from "./conditions";

export interface TrustRelationship {
  id: string;
  projectId: string;
  orgId: string;
  provider: string;
  subject: Record<string, unknown>;
  conditions: Record<string, string>;
  tokenTtlSeconds: number;
  createdAt: number;
}

/** What `db/` found for a verified token: the relationships of the one project to consider. */
export interface Candidates {
  relationships: readonly TrustRelationship[];
  /** Without audience: relationships of more than one project name the job's identity. */
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
 * - `conditions`: every condition holds (`claim` names the first that does not);
 * - `default_denial`: no event denied by default (`claim` names it) unless a condition names it.
 */
export type Check = "provider" | "identity" | "enterprise" | "pinned_id" | "default_audience" | "conditions" | "default_denial";

/** One relationship's verdict on one token. */
export type Evaluation =
  | { relationship: TrustRelationship; admits: true; pins?: Record<string, string> }
  | { relationship: TrustRelationship; admits: false; failed: Check; claim?: string };

export function evaluate(token: VerifiedToken, relationship: TrustRelationship): Evaluation {
  const refuse = (failed: Check, claim?: string): Evaluation => ({ relationship, admits: false, failed, ...(claim ? { claim } : {}) });
  if (relationship.provider !== token.provider) return refuse("provider");
  const provider = PROVIDERS[token.provider];
  const identity = provider.matchRelationship(relationship.subject, token);
  if (!identity.match) return refuse(identity.why);
  if (token.defaultAudience && !provider.acceptsDefaultAudience(relationship.subject)) return refuse("default_audience");
  const condition = failedCondition(relationship.conditions, token.claims);
  if (condition !== undefined) return refuse("conditions", condition);
  // Default denials are lifted only by a condition naming the denied value exactly.
  for (const denial of provider.defaultDenials(token.claims)) {
    if (relationship.conditions[denial.claim] !== denial.value) return refuse("default_denial", denial.claim);
  }
  return { relationship, admits: true, ...(identity.pins ? { pins: identity.pins } : {}) };
}

export function authorize(token: VerifiedToken, candidates: Candidates, target: ExchangeTarget): Grant {
  // Without audience, a job is routed only when one project names it; which one must never
  // depend on conditions, or another tenant's looser relationship could take the job.
  if (target.audience === undefined && candidates.ambiguous) throw new StsError("target_ambiguous");
  const considered =
    target.audience === undefined ? candidates.relationships : candidates.relationships.filter((r) => r.projectId === target.audience);
  const evaluations = considered.map((relationship) => evaluate(token, relationship));
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
