/**
 * Revoked minted tokens (job and pull tokens), by `jti`, kept until they would have
 * expired anyway (the scheduled sweep deletes them after that), and the one query that
 * says whether such a token is still in good standing.
 */
import { d1 } from "./d1";

/** RFC 7009 §2.2: revoking twice is not an error. */
export function revokeToken(db: D1Database, jti: string, expiresAt: number): Promise<void> {
  return d1(async () => {
    await db.prepare("INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING").bind(jti, expiresAt).run();
  });
}

export interface Standing {
  jti: string;
  orgId: string;
  projectId: string;
  /** Job tokens name the relationship that admitted them; pull tokens don't. */
  trustRelationshipId: string | undefined;
}

/**
 * One round trip: not revoked, its project still exists in its organization, and (for job
 * tokens) the trust relationship that admitted it still exists. Deleting a project or a
 * relationship therefore revokes every token minted through it, without listing them.
 */
export function isInGoodStanding(db: D1Database, token: Standing): Promise<boolean> {
  return d1(async () => {
    const row = await db
      .prepare(
        `SELECT
           EXISTS (SELECT 1 FROM projects WHERE id = ?1 AND org_id = ?2) AS project_ok,
           NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?3) AS not_revoked,
           (?4 IS NULL OR EXISTS (SELECT 1 FROM trust_relationships WHERE id = ?4 AND project_id = ?1)) AS relationship_ok`,
      )
      .bind(token.projectId, token.orgId, token.jti, token.trustRelationshipId ?? null)
      .first<{ project_ok: number; not_revoked: number; relationship_ok: number }>();
    return row !== null && row.project_ok === 1 && row.not_revoked === 1 && row.relationship_ok === 1;
  });
}
