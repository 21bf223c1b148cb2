/** Removes replay records and revocations whose tokens have expired anyway. */
import { d1 } from "./d1";

export function sweepExpired(db: D1Database, now: number): Promise<{ usedSubjectTokens: number; revokedTokens: number }> {
  return d1(async () => {
    const [used, revoked] = await db.batch([
      db.prepare("DELETE FROM used_subject_tokens WHERE expires_at < ?").bind(now),
      db.prepare("DELETE FROM revoked_tokens WHERE expires_at < ?").bind(now),
    ]);
    return { usedSubjectTokens: used?.meta.changes ?? 0, revokedTokens: revoked?.meta.changes ?? 0 };
  });
}
