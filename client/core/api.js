// @ts-check
/**
 * The admin API (`/v1`) as the README documents it: JSON in and out, `Authorization:
 * Bearer`, RFC 6749-shaped errors. One function per request the CLI makes; each returns
 * the server's JSON as it is, so `--json` prints exactly what the API said.
 *
 * Deliberately not here: which credential to use (credentials.js) or how to print (cli/).
 */
import { ClientError } from "./errors.js";
import { responseError, send } from "./http.js";

/**
 * @typedef {object} Api
 * @property {string} serverUrl
 * @property {string} token
 * @property {import("./http.js").RequestOptions} [http]
 */

/** Path segments are IDs we check the shape of, so nothing a user types can change the path. */
const ID = {
  org: /^org_[0-9a-f]{24}$/,
  prj: /^prj_[0-9a-f]{24}$/,
  trl: /^trl_[0-9a-f]{24}$/,
  tok: /^tok_[0-9a-f]{24}$/,
  usr: /^usr_[0-9a-f]{24}$/,
};

/**
 * @param {keyof typeof ID} kind
 * @param {string | undefined} value
 * @param {string} flag how the user gives it, for the message
 */
export function checkId(kind, value, flag) {
  if (value === undefined || value === "") throw new ClientError("usage", `${flag} is required`);
  if (!ID[kind].test(value)) throw new ClientError("usage", `${flag} must be an ID like ${kind}_0123456789abcdef01234567 (got ${JSON.stringify(value.slice(0, 40))})`);
  return value;
}

/**
 * @param {Api} api
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {string} [what]
 * @returns {Promise<any>}
 */
export async function call(api, method, path, body, what = `${method} ${path}`) {
  const response = await send(`${api.serverUrl}${path}`, {
    ...api.http,
    method,
    headers: { authorization: `Bearer ${api.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status >= 200 && response.status < 300) return response.json ?? null;
  throw adminError(responseError(response, what));
}

/** The admin API's refusals, with what to do about them. */
function adminError(/** @type {ClientError} */ error) {
  const hints = /** @type {Record<number, string>} */ ({
    401: "the credential is unknown, deleted or expired: log in again (`edge-sts login`) or check EDGE_STS_TOKEN",
    403: "this credential may not do that: administering needs an org admin's user token, an organization token or the operator's token",
    404: "no such resource, or it is outside this credential's reach (another organization's resources look the same)",
  });
  const hint = error.status !== undefined ? hints[error.status] : undefined;
  return hint && !error.hint ? new ClientError(error.kind, error.message, { ...error, hint }) : error;
}

/** `GET /v1/users/{id}`: the user token proves itself (the user or the operator may read it). */
export const getUser = (/** @type {Api} */ api, /** @type {string} */ userId) => call(api, "GET", `/v1/users/${userId}`, undefined, "checking the user token");

// Projects
export const createProject = (/** @type {Api} */ api, /** @type {string} */ orgId, /** @type {string} */ name) =>
  call(api, "POST", `/v1/orgs/${orgId}/projects`, { name }, "creating the project");
export const listProjects = (/** @type {Api} */ api, /** @type {string} */ orgId) => call(api, "GET", `/v1/orgs/${orgId}/projects`, undefined, "listing projects");

// Trust relationships
export const createRelationship = (/** @type {Api} */ api, /** @type {string} */ projectId, /** @type {Record<string, unknown>} */ body) =>
  call(api, "POST", `/v1/projects/${projectId}/trust-relationships`, body, "creating the trust relationship");
export const listRelationships = (/** @type {Api} */ api, /** @type {string} */ projectId) =>
  call(api, "GET", `/v1/projects/${projectId}/trust-relationships`, undefined, "listing trust relationships");
export const deleteRelationship = (/** @type {Api} */ api, /** @type {string} */ projectId, /** @type {string} */ id) =>
  call(api, "DELETE", `/v1/projects/${projectId}/trust-relationships/${id}`, undefined, "deleting the trust relationship");

/**
 * Static tokens live under their owner: a project, an organization or a user.
 * @typedef {{ kind: "project" | "org" | "user", id: string }} TokenOwner
 */
const ownerPath = (/** @type {TokenOwner} */ owner) => ({ project: "/v1/projects/", org: "/v1/orgs/", user: "/v1/users/" })[owner.kind] + owner.id;

export const createToken = (/** @type {Api} */ api, /** @type {TokenOwner} */ owner, /** @type {string} */ description) =>
  call(api, "POST", `${ownerPath(owner)}/tokens`, { description }, "creating the token");
export const listTokens = (/** @type {Api} */ api, /** @type {TokenOwner} */ owner) => call(api, "GET", `${ownerPath(owner)}/tokens`, undefined, "listing tokens");
export const deleteToken = (/** @type {Api} */ api, /** @type {TokenOwner} */ owner, /** @type {string} */ id) =>
  call(api, "DELETE", `${ownerPath(owner)}/tokens/${id}`, undefined, "deleting the token");

/** `POST /v1/projects/{id}/pull-tokens`: any credential with registry access to the project. */
export const createPullToken = (/** @type {Api} */ api, /** @type {string} */ projectId, /** @type {number | undefined} */ expiresIn) =>
  call(api, "POST", `/v1/projects/${projectId}/pull-tokens`, expiresIn === undefined ? {} : { expires_in: expiresIn }, "creating the pull token");

/**
 * `POST /v1/projects/{id}/explain` (SPEC §6). A server without it answers 404 "no such
 * endpoint", which is not the same as 404 "no such resource" (an unknown project).
 */
export async function explain(/** @type {Api} */ api, /** @type {string} */ projectId, /** @type {string} */ subjectToken) {
  try {
    return await call(api, "POST", `/v1/projects/${projectId}/explain`, { subject_token: subjectToken }, "explaining the token");
  } catch (error) {
    if (error instanceof ClientError && error.status === 404 && /no such endpoint/.test(error.description ?? "")) {
      throw new ClientError("unsupported", "this server does not support explain yet (it has no POST /v1/projects/{id}/explain)", {
        status: 404,
        error: error.error,
        description: error.description,
        hint: "upgrade the edge-sts service; until then the refusal's error_description names the failed stage",
      });
    }
    throw error;
  }
}
