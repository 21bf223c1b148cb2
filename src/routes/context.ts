/**
 * The Hono environment shared by every route: the Worker bindings, the parsed config,
 * and the fields of this request's single log line; and the narrow dependencies the
 * layers below receive instead of it.
 */
import type { Context } from "hono";
import type { Principal } from "../access/principal";
import type { AdminContext } from "../admin/context";
import type { Config, Env } from "../config";
import type { ShadowRecord } from "../trust/authorize";
import { confirmOnPrimary, databaseOf, type RequestDatabase } from "./database";

/** What routes add to the request's log line; route, status and outcome are derived at the end. */
export interface LogFields {
  request_id: string;
  reason?: string;
  detail?: string;
  provider?: string;
  project_id?: string;
  org_id?: string;
  principal?: string;
  /** `POST /token`: what the project's shadow relationships would have done (absent when it has none). */
  shadow?: ShadowRecord[];
}

export type AppEnv = {
  Bindings: Env;
  /** `database`: the request's D1 sessions, once a door started one (`routes/database.ts`). */
  Variables: { config: Config; log: LogFields; database?: RequestDatabase };
};

export type AppContext = Context<AppEnv>;

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** `waitUntil` when running in a Worker, else a no-op sink (Hono without an execution context). */
export function waitUntilOf(c: AppContext): (promise: Promise<unknown>) => void {
  return (promise) => {
    try {
      c.executionCtx.waitUntil(promise);
    } catch {
      promise.catch(() => undefined);
    }
  };
}

/**
 * What identifying a credential and noting its use need (access/principal.ts): this
 * request's database handle (database.ts), and how to confirm a replica's answer.
 */
export function accessDeps(c: AppContext) {
  return { db: databaseOf(c), primary: confirmOnPrimary(c), config: c.get("config"), now: nowSeconds(), waitUntil: waitUntilOf(c) };
}

/**
 * The context an admin verb runs in, for a principal this door has identified (routes/
 * from a bearer credential, the settings page from its session). The log line learns the
 * organization and project once they are known to be within the principal's reach.
 */
export function adminContextFor(c: AppContext, principal: Principal): AdminContext {
  const log = c.get("log");
  return {
    ...accessDeps(c),
    principal,
    noteTarget: ({ orgId, projectId }) => {
      log.org_id = orgId;
      if (projectId !== undefined) log.project_id = projectId;
    },
  };
}
