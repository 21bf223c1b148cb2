// @ts-check
/**
 * GitHub Actions: the job asks GitHub's ID-token endpoint for a token with our audience
 * (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…`, `Authorization: bearer
 * $ACTIONS_ID_TOKEN_REQUEST_TOKEN` → `{ "value": … }`). GitHub sets those two variables only
 * for jobs with `permissions: id-token: write`, and never for pull requests from forks.
 */
import { ClientError } from "../errors.js";
import { responseError, send } from "../http.js";
import { looksLikeJwt } from "./run-tool.js";

const PERMISSION_HINT =
  "give the job (or workflow) `permissions: id-token: write`. GitHub never gives an ID token to pull requests from forks";

/** @type {import("./sources.js").IdTokenSource} */
export const github = {
  name: "github",
  label: "GitHub Actions",
  detect: (env) => env.GITHUB_ACTIONS === "true",
  async getIdToken({ audience, env, http }) {
    const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
    const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
    if (!requestUrl || !requestToken) {
      throw new ClientError("id_token_unavailable", "this GitHub Actions job cannot request an ID token (ACTIONS_ID_TOKEN_REQUEST_URL is not set)", {
        hint: PERMISSION_HINT,
      });
    }
    /** @type {URL} */
    let url;
    try {
      url = new URL(requestUrl);
    } catch {
      throw new ClientError("id_token_unavailable", "ACTIONS_ID_TOKEN_REQUEST_URL is not a URL");
    }
    url.searchParams.set("audience", audience);
    // A GET that spends nothing: GitHub's transient 5xx are worth retrying too.
    const response = await send(url, {
      ...http,
      retryOn: [429, 500, 502, 503, 504],
      headers: { authorization: `bearer ${requestToken}`, accept: "application/json; api-version=2.0" },
    });
    if (response.status !== 200) {
      const error = responseError(response, "requesting an ID token from GitHub");
      throw new ClientError("id_token_unavailable", error.message, {
        status: error.status,
        hint: response.status === 401 || response.status === 403 ? PERMISSION_HINT : "GitHub's ID-token endpoint failed; re-run the job",
      });
    }
    const value = response.json?.value;
    if (typeof value !== "string" || !looksLikeJwt(value)) {
      throw new ClientError("id_token_unavailable", "GitHub's ID-token endpoint answered without a token");
    }
    return value;
  },
  refusalHint(error) {
    if (error.error === "invalid_request" && /audience/.test(error.description ?? "")) {
      return "the ID token was requested with the audience this server publishes; check that --url is the server your trust relationship lives on";
    }
    if (error.error === "invalid_target" || /no trust relationship/.test(error.description ?? "")) {
      return "check --project, and that project's GitHub trust relationship (owner, repository, conditions such as ref or event_name) against this run; a project admin can see which check failed with `edge-sts explain`";
    }
    return undefined;
  },
};
