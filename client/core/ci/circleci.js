// @ts-check
/**
 * CircleCI: `circleci run oidc get --claims '{"aud":"…"}'` asks CircleCI for a token with
 * our audience. `$CIRCLE_OIDC_TOKEN_V2` is used only when asked for (`--circleci-default-token`):
 * its audience is the organization UUID, fixed, and the same token is handed to every
 * service the job talks to, so a relationship accepts it only with
 * `accept_default_audience: true`.
 */
import { ClientError } from "../errors.js";
import { looksLikeJwt, runTool } from "./run-tool.js";

/** @type {import("./sources.js").IdTokenSource} */
export const circleci = {
  name: "circleci",
  label: "CircleCI",
  detect: (env) => env.CIRCLECI === "true",
  async getIdToken({ audience, env, options }) {
    if (options.circleciDefaultToken) {
      const token = env.CIRCLE_OIDC_TOKEN_V2;
      if (!token) {
        throw new ClientError("id_token_unavailable", "CIRCLE_OIDC_TOKEN_V2 is not set in this job", {
          hint: "CircleCI sets it in jobs that may get OIDC tokens; without --circleci-default-token the client runs `circleci run oidc get` instead",
        });
      }
      if (!looksLikeJwt(token)) throw new ClientError("id_token_unavailable", "CIRCLE_OIDC_TOKEN_V2 does not hold a JWT");
      return token;
    }
    let token;
    try {
      token = await runTool("circleci", ["run", "oidc", "get", "--claims", JSON.stringify({ aud: audience })], env, "circleci run oidc get");
    } catch (error) {
      if (!(error instanceof ClientError)) throw error;
      throw new ClientError(error.kind, error.message, {
        hint:
          "run this inside a CircleCI job whose image has the `circleci` CLI (CircleCI's cimg images do), in a job that may get OIDC tokens; " +
          "or pass --circleci-default-token to use $CIRCLE_OIDC_TOKEN_V2 with a relationship that sets accept_default_audience",
      });
    }
    if (!looksLikeJwt(token)) throw new ClientError("id_token_unavailable", "`circleci run oidc get` did not print a JWT");
    return token;
  },
  refusalHint(error, { audience, options }) {
    const description = error.description ?? "";
    if (/audience/.test(description)) {
      return options.circleciDefaultToken
        ? "$CIRCLE_OIDC_TOKEN_V2's audience is the organization UUID: the CircleCI relationship must set accept_default_audience: true (or drop --circleci-default-token)"
        : `the token must carry the audience ${audience}; check that --url is the server your relationship lives on`;
    }
    if (error.error === "invalid_target" || /no trust relationship/.test(description)) {
      return "check --project, and that project's CircleCI relationship: organization_uuid and project_uuid (UUIDs from Organization and Project Settings, not names) and its conditions; a project admin can see which check failed with `edge-sts explain`";
    }
    if (/event/.test(description)) return "SSH reruns are denied unless a relationship's conditions name oidc.circleci.com/ssh-rerun";
    return undefined;
  },
};
