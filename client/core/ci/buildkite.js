// @ts-check
/**
 * Buildkite: `buildkite-agent oidc request-token --audience … --claim organization_id,pipeline_id`.
 * The two extra claims carry the organization's and pipeline's immutable UUIDs, so the
 * relationship pins them rather than trusting renameable slugs. The agent finds its own
 * credential (BUILDKITE_AGENT_ACCESS_TOKEN) in the job's environment, never in argv.
 */
import { ClientError } from "../errors.js";
import { looksLikeJwt, runTool } from "./run-tool.js";

export const BUILDKITE_CLAIMS = "organization_id,pipeline_id";

/** @type {import("./sources.js").IdTokenSource} */
export const buildkite = {
  name: "buildkite",
  label: "Buildkite",
  detect: (env) => env.BUILDKITE === "true",
  async getIdToken({ audience, env }) {
    let token;
    try {
      token = await runTool("buildkite-agent", ["oidc", "request-token", "--audience", audience, "--claim", BUILDKITE_CLAIMS], env, "buildkite-agent oidc request-token");
    } catch (error) {
      if (!(error instanceof ClientError)) throw error;
      throw new ClientError(error.kind, error.message, {
        hint: /claim/.test(error.message)
          ? "this buildkite-agent is too old for --claim; upgrade the agent"
          : "run this in a Buildkite step, where `buildkite-agent` is on PATH and BUILDKITE_AGENT_ACCESS_TOKEN is set",
      });
    }
    if (!looksLikeJwt(token)) throw new ClientError("id_token_unavailable", "`buildkite-agent oidc request-token` did not print a JWT");
    return token;
  },
  refusalHint(error, { audience }) {
    const description = error.description ?? "";
    if (/audience/.test(description)) return `the token must carry the audience ${audience}; check that --url is the server your relationship lives on`;
    if (error.error === "invalid_target" || /no trust relationship/.test(description)) {
      return "check --project, and that project's Buildkite relationship: organization_slug, pipeline_slug, the pinned organization_uuid/pipeline_uuid and its conditions; a project admin can see which check failed with `edge-sts explain`";
    }
    return undefined;
  },
};
