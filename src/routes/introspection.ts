/**
 * `POST /introspect` (RFC 7662) for downstream services and `POST /revoke` (RFC 7009) for
 * holders of minted tokens.
 *
 * Introspection accepts exactly the credentials the admin API accepts (`identifyCredential`)
 * and answers `{"active": false}` for everything else — revoked, expired, mistyped,
 * unknown, foreign — with no hint of which (RFC 7662 §2.2). The reason goes to the log
 * line only. Neither endpoint echoes the presented token.
 *
 * Budgets (rate-limit.ts): the introspection caller has its own; `/revoke` counts a token
 * we signed against that token's identity, and anything else against its client network.
 */
import { Hono } from "hono";
import * as z from "zod";
import { revokeToken } from "../db/revoked-tokens";
import { listUserOrgIds } from "../db/users";
import { StsError } from "../errors";
import { verifyOwnToken } from "../tokens/own-tokens";
import { loadSigningKeys } from "../tokens/signing-keys";
import { looksLikeStaticToken } from "../tokens/static-tokens";
import { identifyCredential, noteUse, ownTokenIdentity, secretsEqual, type Credential } from "../access/principal";
import { readOAuthBody } from "./body";
import { bearerToken } from "./caller";
import { accessDeps, nowSeconds, type AppContext, type AppEnv } from "./context";
import { limitCaller, limitIntrospectionCaller } from "./rate-limit";

// RFC 7662 §2.1 and RFC 7009 §2.1: `token`, and an optional hint we may ignore. Unknown
// parameters are ignored, as for any OAuth endpoint (RFC 6749 §3.2).
const TokenParameter = z.looseObject({
  token: z.string().min(1).optional(),
  token_type_hint: z.string().optional(),
});

/** Form or JSON; a request with no content type and an empty body has none (body.ts). */
const readParameters = (c: AppContext) => readOAuthBody(c, TokenParameter);

/**
 * RFC 7662 §2.1: the caller must be authorized; here, by the INTROSPECTION_TOKEN secret.
 * The caller spends its own (large) budget; anyone else spends their client network's.
 */
async function requireIntrospectionCaller(c: AppContext): Promise<void> {
  const expected = c.get("config").introspectionToken;
  const presented = bearerToken(c);
  if (expected !== undefined && presented !== undefined && (await secretsEqual(presented, expected))) {
    await limitIntrospectionCaller(c);
    return;
  }
  await limitCaller(c, undefined);
  throw new StsError("unauthenticated", undefined, expected === undefined ? "INTROSPECTION_TOKEN is not configured" : undefined);
}

/**
 * RFC 7662 §2.2 members (`client_id` for our JWTs: the relationship, or what a pull token was
 * made from), plus ours: `token_use`, `org_id`, `project_id` (and `org_ids` for user tokens).
 */
async function describeActive(c: AppContext, credential: Credential): Promise<Record<string, unknown>> {
  const common = { active: true, token_type: "Bearer", scope: credential.scopes.join(" "), iss: c.get("config").publicUrl };
  switch (credential.kind) {
    case "oidc":
    case "pull": {
      const t = credential.token;
      return {
        ...common,
        token_use: t.use,
        sub: t.sub,
        aud: t.iss,
        org_id: t.orgId,
        project_id: t.projectId,
        ...(t.trustRelationshipId ? { trust_relationship_id: t.trustRelationshipId } : {}),
        client_id: t.clientId,
        jti: t.jti,
        iat: t.iat,
        ...(t.nbf !== undefined ? { nbf: t.nbf } : {}),
        exp: t.exp,
      };
    }
    // Static tokens do not expire: no `exp` (RFC 7662 §2.2 makes it optional).
    case "project":
      return { ...common, token_use: "project", sub: `project:${credential.projectId}`, org_id: credential.orgId, project_id: credential.projectId, iat: credential.issuedAt };
    case "organization":
      return { ...common, token_use: "organization", sub: `organization:${credential.orgId}`, org_id: credential.orgId, iat: credential.issuedAt };
    case "user":
      // A user token reaches every project of every org the user belongs to, as of now.
      return {
        ...common,
        token_use: "user",
        sub: `user:${credential.userId}`,
        org_ids: await listUserOrgIds(c.env.DB, credential.userId),
        iat: credential.issuedAt,
      };
  }
}

/** A live token we signed (signature, issuer, time), whatever its stored standing. */
async function verifyOurs(c: AppContext, token: string) {
  const keys = await loadSigningKeys(c.get("config").signingKeys);
  return keys ? verifyOwnToken(token, keys, { publicUrl: c.get("config").publicUrl, now: nowSeconds() }) : null;
}

export const introspectionRoutes = new Hono<AppEnv>()
  .post("/introspect", async (c) => {
    await requireIntrospectionCaller(c);
    const { token } = await readParameters(c);
    if (token === undefined) throw new StsError("field_invalid", "token: is required");
    const deps = accessDeps(c);
    const credential = await identifyCredential(deps, token);
    if (typeof credential === "string") {
      c.get("log").detail = credential;
      return c.json({ active: false });
    }
    noteUse(deps, credential);
    c.get("log").org_id = credential.orgId;
    c.get("log").project_id = credential.projectId;
    return c.json(await describeActive(c, credential));
  })
  .post("/revoke", async (c) => {
    // The holder proves possession by presenting the token: as `token` (RFC 7009 §2.1), or,
    // with no parameter, as the bearer credential of the request itself (end of a CI job).
    const { token } = await readParameters(c);
    const target = token ?? bearerToken(c);
    const verified = target === undefined || looksLikeStaticToken(target) ? null : await verifyOurs(c, target);
    // No one authenticates here: a token we signed spends its own budget (the same as at
    // /v1), anything else its client network's, before any refusal or write.
    await limitCaller(c, verified ? ownTokenIdentity(verified.jti) : undefined);
    if (target === undefined) throw new StsError("field_invalid", "token: is required");
    if (looksLikeStaticToken(target)) throw new StsError("revocation_unsupported");
    // RFC 7009 §2.2: invalid, expired or unknown tokens are answered 200 too; only a token
    // with our valid signature writes a row, so junk cannot fill the table.
    if (verified) await revokeToken(c.env.DB, verified.jti, verified.exp);
    else c.get("log").detail = "not a live token of ours";
    return c.body(null, 200);
  });
