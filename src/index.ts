/** The Worker's entry: HTTP through the Hono app, the audit queue's consumer, and the scheduled sweeps with their one log line. */
import { app } from "./app";
import { consumeAuditBatch } from "./audit/consumer";
import { sweepAuditEvents } from "./audit/retention";
import { configFrom, type Env } from "./config";
import { sweepExpired } from "./db/sweep";
import { sweepExpiredUiSessions } from "./db/ui-sessions";
import { StsError } from "./errors";

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
    const result = await consumeAuditBatch(batch, env.DB);
    // Quiet when every message was stored or was already there; a line when some were not.
    if (result.invalid > 0 || result.retried > 0) {
      console.log(JSON.stringify({ request_id: crypto.randomUUID(), route: `queue ${batch.queue}`, outcome: "error", reason: "audit_batch_incomplete", ...result }));
    }
  },
  async scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
    const started = Date.now();
    const now = Math.floor(started / 1000);
    const line = { request_id: crypto.randomUUID(), route: `cron ${controller.cron}`, outcome: "ok", reason: null as string | null };
    // Awaited rather than left to waitUntil, so a failed sweep shows as a failed cron run;
    // settled together, so one failing (an invalid AUDIT_RETENTION_DAYS included) does not
    // keep the others from running.
    const [tokens, sessions, audit] = await Promise.allSettled([
      sweepExpired(env.DB, now),
      sweepExpiredUiSessions(env.DB, now),
      Promise.resolve().then(() => sweepAuditEvents(env.DB, started, configFrom(env).auditRetentionDays)),
    ]);
    if (tokens.status === "fulfilled" && sessions.status === "fulfilled" && audit.status === "fulfilled") {
      console.log(
        JSON.stringify({
          ...line,
          swept_used_subject_tokens: tokens.value.usedSubjectTokens,
          swept_revoked_tokens: tokens.value.revokedTokens,
          swept_ui_sessions: sessions.value,
          swept_audit_events: audit.value.deleted,
          statements: tokens.value.statements,
          audit_statements: audit.value.statements,
          // A backlog left for the next run: a sweep is falling behind if this stays true.
          backlog: !tokens.value.complete,
          audit_backlog: !audit.value.complete,
          duration_ms: Date.now() - started,
        }),
      );
      return;
    }
    const failed = [tokens, sessions, audit].find((r) => r.status === "rejected");
    const error: unknown = failed?.status === "rejected" ? failed.reason : undefined;
    const reason = error instanceof StsError ? error.reason : "internal";
    const detail = error instanceof StsError ? error.logDetail : undefined;
    console.log(JSON.stringify({ ...line, outcome: "error", reason, detail, duration_ms: Date.now() - started }));
    throw error;
  },
} satisfies ExportedHandler<Env>;
