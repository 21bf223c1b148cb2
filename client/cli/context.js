// @ts-check
/** What every command needs from its parsed options: the server URL, HTTP options, the environment. */
import { resolveServerUrl } from "../core/credentials.js";
import { isInsecureRemote } from "../core/discovery.js";
import { note, warn } from "./output.js";

/**
 * @param {Record<string, any>} values parsed options
 * @param {NodeJS.ProcessEnv} env
 */
export function commandContext(values, env) {
  const serverUrl = resolveServerUrl(values.url, env);
  if (isInsecureRemote(serverUrl)) warn(`${serverUrl} is plain http: tokens sent to it can be read in transit; use https`);
  /** @type {import("../core/http.js").RequestOptions} */
  const http = { onRetry: (message) => note(`edge-sts: ${message}`) };
  return { serverUrl, http, env, json: Boolean(values.json) };
}
