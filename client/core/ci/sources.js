// @ts-check
/**
 * Where this job's ID token comes from: one entry per CI (one file each), and the
 * detection that picks one. An explicit `--ci` wins; then a token the run put in
 * EDGE_STS_OIDC_TOKEN; then the CI the environment says we are in.
 */
import { ClientError } from "../errors.js";
import { buildkite } from "./buildkite.js";
import { circleci } from "./circleci.js";
import { envToken } from "./env-token.js";
import { github } from "./github.js";

/**
 * @typedef {object} SourceOptions
 * @property {boolean} [circleciDefaultToken] use $CIRCLE_OIDC_TOKEN_V2 as it is
 */

/**
 * @typedef {object} IdTokenSource
 * @property {"github" | "circleci" | "buildkite" | "rwx"} name
 * @property {string} label
 * @property {(env: NodeJS.ProcessEnv) => boolean} detect
 * @property {(context: { audience: string, env: NodeJS.ProcessEnv, http: import("../http.js").RequestOptions, options: SourceOptions }) => Promise<string>} getIdToken
 * @property {(error: ClientError, context: { audience: string, options: SourceOptions }) => string | undefined} refusalHint
 *   what to check when the server refuses this CI's token
 */

/** In detection order after the explicit variable. */
export const SOURCES = /** @type {const} */ ([envToken, github, circleci, buildkite]);

export const SOURCE_NAMES = SOURCES.map((s) => s.name);

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {string} [forced] `--ci`
 * @returns {IdTokenSource}
 */
export function detectSource(env, forced) {
  if (forced !== undefined) {
    const source = SOURCES.find((s) => s.name === forced);
    if (!source) throw new ClientError("usage", `unknown --ci ${JSON.stringify(forced)}: one of ${SOURCE_NAMES.join(", ")}`);
    return source;
  }
  const found = SOURCES.find((s) => s.detect(env));
  if (found) return found;
  throw new ClientError("no_credential", "no CI ID token: this is not a GitHub Actions, CircleCI or Buildkite job, and EDGE_STS_OIDC_TOKEN is not set", {
    hint:
      "in CI: run in GitHub Actions (with permissions: id-token: write), CircleCI or Buildkite, or put an ID token in EDGE_STS_OIDC_TOKEN (RWX); " +
      "on a workstation: run `edge-sts login`",
  });
}
