/**
 * RFC 9068 conformance: every token we sign as `at+jwt` (job tokens and pull tokens) must
 * be accepted by a resource server that validates JWT access tokens as RFC 9068 §4 says.
 * The validator is oauth4webapi's `validateJwtAccessToken` (a maintained implementation,
 * not our own reading of the RFC), fed our discovery document and, through its fetch
 * hook, our published JWKS.
 */
import { env } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import { describe, expect, it } from "vitest";
import { call, createProject, decodeJwt } from "../support/api";
import { addMember, createStaticToken, createUser, forgeOwnToken, ISS, mintJobToken, mintPullToken, pullClaims } from "./helpers";

/** A resource server of ours (e.g. the registry) validating a request's bearer token. */
async function validateAsResourceServer(token: string) {
  const as = await oauth.processDiscoveryResponse(new URL(ISS), await call("/.well-known/oauth-authorization-server"));
  const request = new Request("https://registry.example/v2/", { headers: { authorization: `Bearer ${token}` } });
  return oauth.validateJwtAccessToken(as, request, ISS, {
    // The JWKS is fetched from `jwks_uri` as published; the hook only delivers it from the worker under test.
    [oauth.customFetch]: (url, init) => {
      expect(url).toBe(`${ISS}/.well-known/jwks.json`);
      return call(new URL(url).pathname, { headers: init.headers });
    },
  });
}

describe("RFC 9068 §4 validation by a resource server", () => {
  it("accepts a job token, whose client_id is its trust relationship", async () => {
    const { projectId } = await createProject();
    const job = await mintJobToken(projectId);
    const claims = await validateAsResourceServer(job.token);
    expect(claims).toMatchObject({ iss: ISS, aud: ISS, sub: `project:${projectId}`, client_id: job.relationshipId, token_use: "oidc" });
  });

  it("accepts pull tokens made from every kind of credential, whose client_id names that credential", async () => {
    const { orgId, projectId } = await createProject();
    const job = await mintJobToken(projectId);
    const projectToken = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    const orgToken = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    const userId = await createUser();
    await addMember(orgId, userId, "member");
    const userToken = await createStaticToken(`/v1/users/${userId}/tokens`);
    const parents: [string, string, string][] = [
      ["job token", job.token, job.relationshipId],
      ["project token", projectToken.token, projectToken.id],
      ["organization token", orgToken.token, orgToken.id],
      ["user token", userToken.token, userToken.id],
      ["operator", env.ADMIN_TOKEN, "operator"],
    ];
    for (const [label, parent, clientId] of parents) {
      const { token } = await mintPullToken(projectId, parent);
      const claims = await validateAsResourceServer(token);
      expect(claims, label).toMatchObject({ iss: ISS, aud: ISS, sub: `project:${projectId}`, client_id: clientId, token_use: "pull", scope: "registry:pull" });
    }
  });

  it("is a real check: the validator refuses an at+jwt without client_id, as our tokens were before", async () => {
    const { orgId, projectId } = await createProject();
    const withoutClientId = await forgeOwnToken(pullClaims(orgId, projectId, { client_id: undefined }));
    expect(decodeJwt(withoutClientId).client_id).toBeUndefined();
    await expect(validateAsResourceServer(withoutClientId)).rejects.toThrow(/client_id/);
    await expect(validateAsResourceServer(await forgeOwnToken(pullClaims(orgId, projectId)))).resolves.toMatchObject({ client_id: "operator" });
  });
});
