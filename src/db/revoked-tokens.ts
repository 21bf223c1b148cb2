/**
 * Revoked minted tokens (job and pull tokens), by `jti`, kept until they would have
 * expired anyway (the scheduled sweep deletes them after that), and the one query that
 * says whether such a token is still in good standing.
 */
import { d1 } from "./d1";
import type { D1Handle } from "./replicas";

/** RFC 7009 §2.2: revoking twice is not an error. */
export function revokeToken(db: D1Handle, jti: string, expiresAt: number): Promise<void> {
  return d1(async () => {
    await db.prepare("INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING").bind(jti, expiresAt).run();
  });
}

export interface Standing {
  jti: string;
  orgId: string;
  projectId: string;
  /** The trust relationship a job token came through (for a pull token made from one: its parent's). */
  trustRelationshipId: string | undefined;
  /** A pull token made from a job token: the job token's `jti`, which must not be revoked either. */
  parentJti: string | undefined;
  /** A pull token made from a static token: that token's ID, which must still exist and reach the project. */
  staticTokenId: string | undefined;
  /** When the token was issued: a user's membership must date from then, not from a later re-invitation. */
  issuedAt: number;
}

/**
 * One round trip: not revoked, its project still exists in its organization, (for job
 * tokens, and pull tokens made from one) the trust relationship still exists and the job
 * token is not revoked, and (for pull tokens made from a static token) that token still
 * exists and still reaches the project: a project token of this project, an organization
 * token of its organization, or a user token whose user has been a member of it without
 * a break since the token was issued (removing and re-adding a member does not revive it).
 * Deleting a project, a relationship, a static token or a membership, or revoking a job
 * token, therefore ends every token derived from it at once, without listing them.
 */
export function isInGoodStanding(db: D1Handle, token: Standing): Promise<boolean> {
  return d1(async () => {
    const row = await db
      .prepare(
        `SELECT
           EXISTS (SELECT 1 FROM projects WHERE id = ?1 AND org_id = ?2) AS project_ok,
           NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?3 OR jti = ?5) AS not_revoked,
           (?4 IS NULL OR EXISTS (SELECT 1 FROM trust_relationships WHERE id = ?4 AND project_id = ?1)) AS relationship_ok,
           (?6 IS NULL OR EXISTS (
             SELECT 1 FROM static_tokens t WHERE t.id = ?6 AND (
               (t.kind = 'project' AND t.project_id = ?1 AND t.org_id = ?2)
               OR (t.kind = 'organization' AND t.org_id = ?2)
               OR (t.kind = 'user' AND EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = ?2 AND m.user_id = t.user_id AND m.created_at <= ?7))))) AS parent_ok`,
      )
      .bind(token.projectId, token.orgId, token.jti, token.trustRelationshipId ?? null, token.parentJti ?? null, token.staticTokenId ?? null, token.issuedAt)
      .first<{ project_ok: number; not_revoked: number; relationship_ok: number; parent_ok: number }>();
    return row !== null && row.project_ok === 1 && row.not_revoked === 1 && row.relationship_ok === 1 && row.parent_ok === 1;
  });
}
