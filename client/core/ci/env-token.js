// @ts-check
/**
 * RWX, or any CI: the run puts an ID token in `EDGE_STS_OIDC_TOKEN` itself. On RWX that is
 * the vault's OIDC token, `${{ vaults.<vault>.oidc.<name> }}`, whose audience is set in the
 * vault, not by us; so a refusal for the audience says which audience to set there.
 */
import { ClientError } from "../errors.js";
import { looksLikeJwt } from "./run-tool.js";

/** @type {import("./sources.js").IdTokenSource} */
export const envToken = {
  name: "rwx",
  label: "EDGE_STS_OIDC_TOKEN (RWX, or any CI)",
  detect: (env) => Boolean(env.EDGE_STS_OIDC_TOKEN),
  async getIdToken({ env }) {
    const token = env.EDGE_STS_OIDC_TOKEN?.trim();
    if (!token) {
      throw new ClientError("id_token_unavailable", "EDGE_STS_OIDC_TOKEN is not set", {
        hint: "on RWX: env: EDGE_STS_OIDC_TOKEN: ${{ vaults.<vault>.oidc.<token-name> }}",
      });
    }
    if (!looksLikeJwt(token)) throw new ClientError("id_token_unavailable", "EDGE_STS_OIDC_TOKEN does not hold a JWT");
    return token;
  },
  refusalHint(error, { audience }) {
    const description = error.description ?? "";
    if (/audience/.test(description)) return `the ID token's audience must be ${audience}: on RWX, set it on the vault's OIDC token`;
    if (/expired|too old/.test(description)) return "EDGE_STS_OIDC_TOKEN holds an old token; RWX makes a fresh one for every task that references the vault token";
    if (error.error === "invalid_target" || /no trust relationship/.test(description)) {
      return "check --project, and that project's RWX relationship: its subject must equal the vault's OIDC subject exactly (copy it from the vault page); a project admin can see which check failed with `edge-sts explain`";
    }
    return undefined;
  },
};
