/**
 * The Hono environment shared by every route: the Worker bindings, the parsed config,
 * and the fields of this request's single log line.
 */
import type { Context } from "hono";
import type { Config, Env } from "../config";

/** What routes add to the request's log line; route, status and outcome are derived at the end. */
export interface LogFields {
  request_id: string;
  reason?: string;
  detail?: string;
  provider?: string;
  project_id?: string;
  org_id?: string;
  principal?: string;
}

export type AppEnv = {
  Bindings: Env;
  Variables: { config: Config; log: LogFields };
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
