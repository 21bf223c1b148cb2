/**
 * Hono with RegExpRouter alone. `hono`'s default router, SmartRouter, starts with
 * RegExpRouter and falls back to TrieRouter only for a path RegExpRouter cannot compile;
 * every route here compiles (the first request compiles them all, so any test would throw
 * otherwise), which leaves the chooser and the fallback as ~1 KiB gzip of the Worker's bundle
 * that never runs. The routes match exactly as before: SmartRouter hands every match to
 * RegExpRouter once it has chosen it.
 */
import type { Env, Schema } from "hono";
import { HonoBase } from "hono/hono-base";
import { RegExpRouter } from "hono/router/reg-exp-router";

export class Hono<E extends Env = Env, S extends Schema = {}, BasePath extends string = "/"> extends HonoBase<E, S, BasePath> {
  constructor() {
    super({ router: new RegExpRouter() });
  }
}
