/**
 * Retention: deletes audit events older than `AUDIT_RETENTION_DAYS` (default 90), in bounded
 * batches like the replay sweep. Each statement deletes at most `batchRows` rows taken from
 * the oldest end of the primary key's index (event IDs sort by time, so "older than" is an
 * ID range and no scan is needed); one run stops after `maxStatements` statements or
 * `budgetMs`, so a backlog is worked off over successive runs instead of in one statement
 * that holds D1, which serves one query at a time per database. It does not decide when it
 * runs (the cron trigger does) nor log (its caller does).
 */
import { d1 } from "../db/d1";
import { eventIdFloor } from "./events";

export interface AuditSweepLimits {
  /**
   * Rows one DELETE may remove. An audit row is ~1 KB with four secondary indexes: 2,000 of
   * them take ~60 ms in local workerd (~30 µs a row), which is as long as an exchange queued
   * behind one statement waits.
   */
  batchRows: number;
  /** Statements per run; with the replay sweep's 300 and the session sweep's 20, below D1's 1,000 queries per invocation. */
  maxStatements: number;
  /** No new statement after this much wall time. */
  budgetMs: number;
}

/** 600 × 2,000 = 1,200,000 rows per hourly run: more than 10⁶ audited exchanges an hour leave. */
export const AUDIT_SWEEP_LIMITS: AuditSweepLimits = { batchRows: 2_000, maxStatements: 600, budgetMs: 120_000 };

export const AUDIT_SWEEP_STATEMENT = "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE id < ?1 ORDER BY id LIMIT ?2)";

export interface AuditSweepResult {
  deleted: number;
  statements: number;
  /** False when a budget ran out with expired events left. */
  complete: boolean;
}

export const DAY_MS = 86_400_000;

export function sweepAuditEvents(
  db: D1Database,
  nowMs: number,
  retentionDays: number,
  limits: AuditSweepLimits = AUDIT_SWEEP_LIMITS,
  clock: () => number = Date.now,
): Promise<AuditSweepResult> {
  const cutoff = eventIdFloor(nowMs - retentionDays * DAY_MS);
  return d1(async () => {
    const started = clock();
    const result: AuditSweepResult = { deleted: 0, statements: 0, complete: false };
    while (result.statements < limits.maxStatements && clock() - started < limits.budgetMs) {
      const { meta } = await db.prepare(AUDIT_SWEEP_STATEMENT).bind(cutoff, limits.batchRows).run();
      result.statements++;
      result.deleted += meta.changes;
      // A short batch means no expired event is left.
      if (meta.changes < limits.batchRows) {
        result.complete = true;
        break;
      }
    }
    return result;
  });
}
