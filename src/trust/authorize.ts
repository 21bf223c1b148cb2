/**
 * "May it have this?" — a pure function of (verified token, candidate relationships,
 * request). It picks the relationship that admits the token, the project it reaches and
 * the scopes granted. No I/O; pins it decides on are returned for `db/` to store.
 */
import { StsError } from "../errors";
import type { VerifiedToken } from "../providers/provider";
import { PROVIDERS } from "../providers/registry";
import { scopesOf, type Scope } from "../tokens/scopes";
import { conditionsHold } from "./conditions";

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

type Verdict = { admits: true; pins?: Record<string, string> } | { admits: false; why: string };

/** Why one relationship does or does not admit the token (also the basis for a future `explain`). */
export function evaluate(token: VerifiedToken, relationship: TrustRelationship): Verdict {
  const provider = PROVIDERS[token.provider];
  if (relationship.provider !== token.provider) return { admits: false, why: "provider" };
  const identity = provider.matchRelationship(relationship.subject, token);
  if (!identity.match) return { admits: false, why: identity.why };
  if (!conditionsHold(relationship.conditions, token.claims)) return { admits: false, why: "conditions" };
  // Default denials are lifted only by a condition naming the denied value exactly.
  for (const denial of provider.defaultDenials(token.claims)) {
    if (relationship.conditions[denial.claim] !== denial.value) return { admits: false, why: "default_denial" };
  }
  return { admits: true, pins: identity.pins };
}

export function authorize(token: VerifiedToken, candidates: readonly TrustRelationship[], target: ExchangeTarget): Grant {
  const admitting: { relationship: TrustRelationship; pins?: Record<string, string> }[] = [];
  let deniedByDefault = false;
  for (const relationship of candidates) {
    const verdict = evaluate(token, relationship);
    if (verdict.admits) admitting.push({ relationship, pins: verdict.pins });
    else if (verdict.why === "default_denial") deniedByDefault = true;
  }
  if (admitting.length === 0) throw new StsError(deniedByDefault ? "event_denied" : "no_trust_relationship");

  const inProject = target.audience === undefined ? admitting : admitting.filter((a) => a.relationship.projectId === target.audience);
  if (inProject.length === 0) throw new StsError("target_invalid");
  const projects = new Set(inProject.map((a) => a.relationship.projectId));
  if (projects.size > 1) throw new StsError("target_ambiguous");

  // Several relationships of one project may admit the token: the oldest wins, so the
  // choice is stable and adding a relationship never changes an existing job's grant.
  const chosen = inProject.reduce((a, b) =>
    a.relationship.createdAt < b.relationship.createdAt ||
    (a.relationship.createdAt === b.relationship.createdAt && a.relationship.id < b.relationship.id)
      ? a
      : b,
  );
  return { relationship: chosen.relationship, scopes: narrowScopes(scopesOf("oidc"), target.scope), pins: chosen.pins };
}

/** RFC 8693 §2.1 `scope`: a subset of what is granted; asking for more is `invalid_scope`. */
export function narrowScopes(granted: readonly Scope[], requested: readonly string[] | undefined): Scope[] {
  if (requested === undefined) return [...granted];
  if (requested.some((s) => !(granted as readonly string[]).includes(s))) throw new StsError("scope_invalid");
  return granted.filter((s) => requested.includes(s));
}
