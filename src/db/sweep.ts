/**
 * Removes replay records and revocations whose tokens have expired anyway, in bounded
 * batches: each statement deletes at most `batchRows` rows found through the table's
 * expiry index, and one run stops after `maxStatements` statements or `budgetMs`, so a
 * backlog is worked off over successive runs instead of one statement that holds D1
 * (which serves one query at a time per database) or outlives the invocation's limits.
 * It does not decide when it runs (the cron trigger does) nor log (its caller does).
 */
import { d1 } from "./d1";

export interface SweepLimits {
  /** Rows one DELETE may remove: one short write, so exchanges queued behind it barely wait. */
  batchRows: number;
  /** Statements per run, far below D1's 1,000 queries per Worker invocation (Workers Paid). */
  maxStatements: number;
  /** No new statement after this much wall time; a cron invocation may last 15 minutes. */
  budgetMs: number;
}

/** 300 × 10,000 = 3,000,000 rows per run at most: three times 10⁶ exchanges an hour. */
export const SWEEP_LIMITS: SweepLimits = { batchRows: 10_000, maxStatements: 300, budgetMs: 120_000 };

export interface SweepResult {
  usedSubjectTokens: number;
  revokedTokens: number;
  statements: number;
  /** False when a budget ran out before both tables were clear of expired rows. */
  complete: boolean;
}

/**
 * One batch per table: the subquery walks the covering index `<table>_by_expiry` from its
 * oldest entry and stops after `?2` rows, then each row goes by primary key, so a batch
 * costs O(batch · log n) whatever the table's size (see the EXPLAIN test).
 */
export const SWEEP_STATEMENTS = {
  usedSubjectTokens:
    "DELETE FROM used_subject_tokens WHERE token_key IN (SELECT token_key FROM used_subject_tokens WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)",
  revokedTokens: "DELETE FROM revoked_tokens WHERE jti IN (SELECT jti FROM revoked_tokens WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)",
} as const;

type Table = keyof typeof SWEEP_STATEMENTS;

export function sweepExpired(
  db: D1Database,
  now: number,
  limits: SweepLimits = SWEEP_LIMITS,
  clock: () => number = Date.now,
): Promise<SweepResult> {
  return d1(async () => {
    const started = clock();
    const result: SweepResult = { usedSubjectTokens: 0, revokedTokens: 0, statements: 0, complete: false };
    // Round robin, so a backlog in one table never starves the other of its share.
    let pending: Table[] = ["revokedTokens", "usedSubjectTokens"];
    while (pending.length > 0) {
      const next: Table[] = [];
      for (const table of pending) {
        if (result.statements >= limits.maxStatements || clock() - started >= limits.budgetMs) return result;
        const { meta } = await db.prepare(SWEEP_STATEMENTS[table]).bind(now, limits.batchRows).run();
        result.statements++;
        result[table] += meta.changes;
        // A short batch means the index has no expired entry left for this table.
        if (meta.changes >= limits.batchRows) next.push(table);
      }
      pending = next;
    }
    result.complete = true;
    return result;
  });
}
