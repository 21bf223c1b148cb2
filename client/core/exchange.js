// @ts-check
/**
 * POST /token (RFC 8693): the job's ID token for a project-scoped token. `audience` is
 * always the project: never leave the server to infer it, so another tenant's relationship
 * naming the same repository can never route this job elsewhere.
 */
import { ClientError } from "./errors.js";
import { responseError, send } from "./http.js";

const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";

/**
 * @typedef {object} Minted
 * @property {string} token
 * @property {number} expiresIn seconds
 * @property {number} expiresAt Unix seconds
 * @property {string} scope
 */

/**
 * @param {{ tokenEndpoint: string, subjectToken: string, project: string, scope?: string, http?: import("./http.js").RequestOptions }} request
 * @returns {Promise<Minted>}
 */
export async function exchangeIdToken({ tokenEndpoint, subjectToken, project, scope, http = {} }) {
  const form = new URLSearchParams({ grant_type: GRANT_TYPE, subject_token: subjectToken, subject_token_type: ID_TOKEN_TYPE, audience: project });
  if (scope) form.set("scope", scope);
  const response = await send(tokenEndpoint, {
    ...http,
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
  if (response.status !== 200) throw responseError(response, "exchanging the ID token");
  const body = response.json ?? {};
  if (typeof body.access_token !== "string" || body.access_token.length === 0) {
    throw new ClientError("unavailable", "the server's token response has no access_token");
  }
  const expiresIn = Number.isInteger(body.expires_in) && body.expires_in > 0 ? body.expires_in : 0;
  return {
    token: body.access_token,
    expiresIn,
    expiresAt: Math.floor(Date.now() / 1000) + expiresIn,
    scope: typeof body.scope === "string" ? body.scope : "",
  };
}
