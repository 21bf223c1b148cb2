// @ts-check
/**
 * What the client learns from the server's URL alone: its RFC 8414 metadata
 * (`/.well-known/oauth-authorization-server`), i.e. the token and revocation endpoints and
 * `subject_token_audience`, the `aud` the CI's ID token must carry.
 *
 * Deliberately not here: which project to ask for (the exchange always names it).
 */
import { ClientError } from "./errors.js";
import { responseError, send } from "./http.js";

/**
 * @typedef {object} ServerMetadata
 * @property {string} issuer
 * @property {string} tokenEndpoint
 * @property {string} revocationEndpoint
 * @property {string} subjectTokenAudience the `aud` to ask the CI for
 * @property {boolean} audienceDeclared false when an older server lacks `subject_token_audience` and the issuer is used instead
 */

/**
 * The server URL as given (`--url`, `EDGE_STS_URL`, a stored login): http(s), no
 * credentials, query or fragment; trailing slashes dropped.
 * @param {string | undefined} value
 * @returns {string}
 */
export function normalizeServerUrl(value) {
  if (value === undefined || value.trim() === "") {
    throw new ClientError("usage", "no server URL: pass --url or set EDGE_STS_URL", { hint: "e.g. --url https://sts.example.com" });
  }
  /** @type {URL} */
  let url;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ClientError("usage", "the server URL is not a valid URL", { hint: "e.g. --url https://sts.example.com" });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ClientError("usage", "the server URL must start with https://");
  if (url.username || url.password || url.search || url.hash) {
    throw new ClientError("usage", "the server URL must not contain credentials, a query or a fragment");
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** Plain http is for a server on this machine; anywhere else it exposes tokens in transit. */
export function isInsecureRemote(/** @type {string} */ serverUrl) {
  const url = new URL(serverUrl);
  return url.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
}

/**
 * Fetches and checks the server's metadata.
 * @param {string} serverUrl normalized
 * @param {import("./http.js").RequestOptions} [options]
 * @returns {Promise<ServerMetadata>}
 */
export async function discover(serverUrl, options = {}) {
  const response = await send(`${serverUrl}/.well-known/oauth-authorization-server`, options);
  if (response.status === 404) {
    throw new ClientError("unsupported", `${serverUrl} has no /.well-known/oauth-authorization-server: is this an edge-sts URL?`, {
      status: 404,
      hint: "pass the URL of the edge-sts service itself, e.g. https://sts.example.com",
    });
  }
  if (response.status !== 200) throw responseError(response, "reading the server's metadata");
  const doc = response.json;
  if (typeof doc !== "object" || doc === null) {
    throw new ClientError("unsupported", `${serverUrl}/.well-known/oauth-authorization-server is not a JSON document: is this an edge-sts URL?`);
  }
  const issuer = httpUrl(doc.issuer);
  const tokenEndpoint = httpUrl(doc.token_endpoint);
  if (!issuer || !tokenEndpoint) {
    throw new ClientError("unsupported", "the server's metadata lacks issuer or token_endpoint: is this an edge-sts URL?");
  }
  const declared = typeof doc.subject_token_audience === "string" && doc.subject_token_audience.length > 0;
  return {
    issuer,
    tokenEndpoint,
    revocationEndpoint: httpUrl(doc.revocation_endpoint) ?? `${serverUrl}/revoke`,
    // An older server does not say; its AUDIENCE defaults to its issuer (PUBLIC_URL).
    subjectTokenAudience: declared ? doc.subject_token_audience : issuer,
    audienceDeclared: declared,
  };
}

/** @returns {string | undefined} */
function httpUrl(/** @type {unknown} */ value) {
  if (typeof value !== "string") return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? value : undefined;
  } catch {
    return undefined;
  }
}
