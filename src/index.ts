/** The Worker's entry: HTTP through the Hono app, and the scheduled sweeps with their one log line. */
import { app } from "./app";
import type { Env } from "./config";
import { sweepExpired } from "./db/sweep";
import { sweepExpiredUiSessions } from "./db/ui-sessions";
import { StsError } from "./errors";

export default {
  fetch: app.fetch,
  async scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
    const started = Date.now();
    const now = Math.floor(started / 1000);
    const line = { request_id: crypto.randomUUID(), route: `cron ${controller.cron}`, outcome: "ok", reason: null as string | null };
    // Awaited rather than left to waitUntil, so a failed sweep shows as a failed cron run;
    // settled together, so one failing does not keep the other from running.
    const [tokens, sessions] = await Promise.allSettled([sweepExpired(env.DB, now), sweepExpiredUiSessions(env.DB, now)]);
    if (tokens.status === "fulfilled" && sessions.status === "fulfilled") {
      console.log(
        JSON.stringify({
          ...line,
          swept_used_subject_tokens: tokens.value.usedSubjectTokens,
          swept_revoked_tokens: tokens.value.revokedTokens,
          swept_ui_sessions: sessions.value,
          statements: tokens.value.statements,
          // A backlog left for the next run: the sweep is falling behind if this stays true.
          backlog: !tokens.value.complete,
          duration_ms: Date.now() - started,
        }),
      );
      return;
    }
    const error: unknown = tokens.status === "rejected" ? tokens.reason : sessions.status === "rejected" ? sessions.reason : undefined;
    const reason = error instanceof StsError ? error.reason : "internal";
    const detail = error instanceof StsError ? error.logDetail : undefined;
    console.log(JSON.stringify({ ...line, outcome: "error", reason, detail, duration_ms: Date.now() - started }));
    throw error;
  },
} satisfies ExportedHandler<Env>;
