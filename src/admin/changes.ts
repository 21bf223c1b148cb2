/**
 * What an admin verb changed. Every mutating verb returns one `AdminChange` beside its
 * result; it is the record the audit log keeps of admin changes ("who did what to which
 * resource, when"): who is the context's principal, when its `now`, and the rest is here.
 * Explain, which changes nothing, returns its record the same way (its only write).
 *
 * A change names the organization it belongs to where there is one, the resource by its
 * public ID, and for trust relationships their whole state before or after. It never holds
 * a token's plaintext or hash: a static token is named by its ID and description only.
 */
import type { ProviderName } from "../config";
import type { Organization, Project } from "../db/organizations";
import type { Membership, User } from "../db/users";
import type { TrustRelationshipView } from "./trust-relationships";

export type AdminChange =
  | { action: "organization.create"; orgId: string; after: Organization }
  | { action: "project.create"; orgId: string; projectId: string; after: Project }
  | { action: "project.delete"; orgId: string; projectId: string; before: Project }
  | { action: "trust_relationship.create"; orgId: string; projectId: string; trustRelationshipId: string; after: TrustRelationshipView }
  | { action: "trust_relationship.delete"; orgId: string; projectId: string; trustRelationshipId: string; before: TrustRelationshipView }
  | { action: "user.create"; userId: string; after: User }
  | { action: "member.add"; orgId: string; userId: string; after: Membership }
  | { action: "member.remove"; orgId: string; userId: string }
  | ({ action: "static_token.create"; tokenId: string; description: string } & TokenOwnerIds)
  | ({ action: "static_token.delete"; tokenId: string } & TokenOwnerIds)
  | { action: "pull_token.create"; orgId: string; projectId: string; jti: string; expiresAt: number }
  | { action: "project.explain"; orgId: string; projectId: string; after: ExplainRecord };

/**
 * Explain changes nothing, but who looked into which job's outcome is worth keeping: its
 * record says what the explanation concluded, never the token or its claims.
 */
export interface ExplainRecord {
  provider: ProviderName | null;
  signature_verified: boolean;
  /** What `POST /token` would answer: its status and error code (null when it would mint). */
  status: number;
  error: string | null;
  relationship_id: string | null;
}

/** Whose static token: an organization's, a project's (in its organization), or a user's own (in none). */
export type TokenOwnerIds =
  | { owner: "organization"; orgId: string }
  | { owner: "project"; orgId: string; projectId: string }
  | { owner: "user"; userId: string };

/** A mutating verb's outcome: what the door renders, and what changed. */
export interface Changed<T> {
  result: T;
  change: AdminChange;
}
