/** The Worker's entry: HTTP through the Hono app, and the scheduled sweep. */
import { app } from "./app";
import type { Env } from "./config";
import { sweepExpired } from "./db/sweep";
import { sweepExpiredUiSessions } from "./db/ui-sessions";

export default {
  fetch: app.fetch,
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    ctx.waitUntil(sweepExpired(env.DB, Math.floor(Date.now() / 1000)));
    ctx.waitUntil(sweepExpiredUiSessions(env.DB, Math.floor(Date.now() / 1000)));
  },
} satisfies ExportedHandler<Env>;
