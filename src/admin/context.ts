/**
 * What every admin verb receives: who is acting (an identified principal), the database,
 * the configuration and the clock, and how its input is handed over.
 *
 * Doors build this context (routes/ from a bearer credential, the settings page from its
 * session) and call the verbs in this folder; no verb reads a request or renders one.
 */
import type { ReachContext } from "../access/reach";
import type { Config } from "../config";

/** `db`, `principal` and the optional `noteTarget` come from the access module's `ReachContext`. */
export interface AdminContext extends ReachContext {
  config: Config;
  /** Unix seconds: the time every write of the verb is stamped with. */
  now: number;
  /** Work after the response (Workers `waitUntil`), for writes the caller need not wait for. */
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * A verb's typed input: the value itself, or a reader the verb calls only once the
 * principal may act. routes/ pass their body reader, so an unauthorised request is refused
 * (401, 403, 404) before its body is read, whatever the body holds; a door that already
 * has the fields (the settings page's form) passes `validate(Schema, fields)`.
 */
export type Input<T> = T | (() => Promise<T>);

export function readInput<T>(input: Input<T>): Promise<T> {
  return typeof input === "function" ? (input as () => Promise<T>)() : Promise.resolve(input);
}
