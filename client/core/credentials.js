// @ts-check
/**
 * Which credential a command uses, in one order everywhere (SPEC §6): `--token`, then
 * `EDGE_STS_TOKEN`, then the stored login for this server, then this CI job's ID token
 * exchanged at /token for the project. Admin commands stop before OIDC: a job token may not
 * administer anything, so they say so instead of minting one.
 *
 * Also here, because it follows the same order: which server URL a command talks to.
 */
import { discover, normalizeServerUrl } from "./discovery.js";
import { ClientError, withHint } from "./errors.js";
import { exchangeIdToken } from "./exchange.js";
import { readLogins } from "./login-store.js";
import { detectSource } from "./ci/sources.js";

/**
 * @typedef {object} Credential
 * @property {string} token
 * @property {"flag" | "env" | "login" | "oidc"} source
 * @property {string} [userId]  the stored login's user
 * @property {import("./exchange.js").Minted} [minted]  set when this run minted the token (OIDC): it is ours to revoke
 * @property {import("./discovery.js").ServerMetadata} [metadata]
 * @property {import("./ci/sources.js").IdTokenSource} [ci]
 */

/**
 * `--url`, else EDGE_STS_URL, else the URL of the one stored login.
 * @param {string | undefined} flagUrl
 * @param {NodeJS.ProcessEnv} env
 */
export function resolveServerUrl(flagUrl, env) {
  if (flagUrl) return normalizeServerUrl(flagUrl);
  if (env.EDGE_STS_URL) return normalizeServerUrl(env.EDGE_STS_URL);
  const stored = Object.keys(readLogins(env).logins);
  if (stored.length === 1) return /** @type {string} */ (stored[0]);
  return normalizeServerUrl(undefined);
}

/**
 * The first static credential in order: `--token`, `EDGE_STS_TOKEN`, the stored login.
 * @param {{ serverUrl: string, flagToken?: string, env: NodeJS.ProcessEnv }} input
 * @returns {Credential | undefined}
 */
export function resolveStaticCredential({ serverUrl, flagToken, env }) {
  if (flagToken) return { token: flagToken.trim(), source: "flag" };
  if (env.EDGE_STS_TOKEN) return { token: env.EDGE_STS_TOKEN.trim(), source: "env" };
  const login = readLogins(env).logins[serverUrl];
  if (login) return { token: login.token, source: "login", userId: login.user_id };
  return undefined;
}

/**
 * A credential that may administer: never OIDC.
 * @param {{ serverUrl: string, flagToken?: string, env: NodeJS.ProcessEnv }} input
 * @returns {Credential}
 */
export function requireAdminCredential(input) {
  const credential = resolveStaticCredential(input);
  if (credential) return credential;
  throw new ClientError("no_credential", "this command needs a user, organization or operator token", {
    hint: "run `edge-sts login`, set EDGE_STS_TOKEN, or pass --token (a CI job's OIDC token may not administer)",
  });
}

/**
 * @typedef {object} OidcRequest
 * @property {string} serverUrl
 * @property {NodeJS.ProcessEnv} env
 * @property {string} [ci]  `--ci`
 * @property {import("./ci/sources.js").SourceOptions} [options]
 * @property {import("./http.js").RequestOptions} [http]
 */

/**
 * This job's ID token, for the audience the server publishes.
 * @param {OidcRequest} request
 */
export async function getJobIdToken({ serverUrl, env, ci, options = {}, http = {} }) {
  const source = detectSource(env, ci);
  const metadata = await discover(serverUrl, http);
  const idToken = await source.getIdToken({ audience: metadata.subjectTokenAudience, env, http, options });
  return { idToken, source, metadata };
}

/**
 * Gets this job's ID token and exchanges it for a token of `project`.
 * @param {OidcRequest & { project: string, scope?: string, onIdToken?: (idToken: string) => void }} request
 * @returns {Promise<Credential>}
 */
export async function mintForProject(request) {
  const { idToken, source, metadata } = await getJobIdToken(request);
  request.onIdToken?.(idToken);
  try {
    const minted = await exchangeIdToken({
      tokenEndpoint: metadata.tokenEndpoint,
      subjectToken: idToken,
      project: request.project,
      scope: request.scope,
      http: request.http,
    });
    return { token: minted.token, source: "oidc", minted, metadata, ci: source };
  } catch (error) {
    if (!(error instanceof ClientError) || error.kind !== "refused") throw error;
    throw withHint(error, generalHint(error) ?? source.refusalHint(error, { audience: metadata.subjectTokenAudience, options: request.options ?? {} }));
  }
}

/** What to check for refusals every CI shares. */
function generalHint(/** @type {ClientError} */ error) {
  if (error.error === "invalid_scope") return "--scope may only narrow what the relationship grants (e.g. registry:pull)";
  if (/already been exchanged/.test(error.description ?? "")) return "each ID token is exchanged once; run the command again for a fresh one";
  return undefined;
}

/**
 * The resolution order of SPEC §6 for commands that act on a project as a job would.
 * @param {OidcRequest & { flagToken?: string, project: string, scope?: string, onIdToken?: (idToken: string) => void }} request
 * @returns {Promise<Credential>}
 */
export async function resolveCredential(request) {
  const credential = resolveStaticCredential({ serverUrl: request.serverUrl, flagToken: request.flagToken, env: request.env });
  if (credential) return credential;
  try {
    return await mintForProject(request);
  } catch (error) {
    if (!(error instanceof ClientError) || error.kind !== "no_credential") throw error;
    throw new ClientError("no_credential", `no credential: no --token, no EDGE_STS_TOKEN, no stored login for ${request.serverUrl}, and no CI ID token`, { hint: error.hint });
  }
}
