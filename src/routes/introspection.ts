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
import * as z from "../schema";
import { identifyCredential, noteUse, ownTokenIdentity, secretsEqual, type Credential } from "../access/principal";
import { revokeToken } from "../db/revoked-tokens";
import { listUserOrgIds } from "../db/users";
import { documentedOnly } from "../documented";
import { StsError } from "../errors";
import { verifyOwnToken } from "../tokens/own-tokens";
import { loadSigningKeys } from "../tokens/signing-keys";
import { looksLikeStaticToken } from "../tokens/static-tokens";
import { readOAuthBody } from "./body";
import { bearerToken } from "./caller";
import { accessDeps, nowSeconds, type AppContext, type AppEnv } from "./context";
import { databaseOf, startSession } from "./database";
import { type Operations } from "./document";
import { Hono } from "./hono";
import { limitCaller, limitIntrospectionCaller } from "./rate-limit";

// RFC 7662 §2.1 and RFC 7009 §2.1: `token`, and an optional hint we may ignore. Unknown
// parameters are ignored, as for any OAuth endpoint (RFC 6749 §3.2).
const TokenParameter = z.looseObject({
  token: z.optional(z.string().check(z.minLength(1))),
  token_type_hint: z.optional(z.string()),
});

/** `/introspect` requires `token` (its handler says so with `field_invalid`); `/revoke` may take it from the bearer instead. */
const IntrospectionRequest = /* @__PURE__ */ documentedOnly(() => z.extend(TokenParameter, { token: z.string().check(z.minLength(1)) }));

const activeMembers = { active: z.literal(true), token_type: z.literal("Bearer"), scope: z.string(), iss: z.string() };

/** What `describeActive` answers, per kind of token (RFC 7662 §2.2 members and ours). */
const ActiveToken = /* @__PURE__ */ documentedOnly(() => z.discriminatedUnion("token_use", [
  z.object({
    ...activeMembers,
    token_use: z.enum(["oidc", "pull"]),
    sub: z.string(),
    aud: z.string(),
    org_id: z.string(),
    project_id: z.string(),
    trust_relationship_id: z.optional(z.string()),
    client_id: z.string(),
    jti: z.string(),
    iat: z.number().check(z.int()),
    nbf: z.optional(z.number().check(z.int())),
    exp: z.number().check(z.int()),
  }),
  z.object({ ...activeMembers, token_use: z.literal("project"), sub: z.string(), org_id: z.string(), project_id: z.string(), iat: z.number().check(z.int()) }),
  z.object({ ...activeMembers, token_use: z.literal("organization"), sub: z.string(), org_id: z.string(), iat: z.number().check(z.int()) }),
  z.object({ ...activeMembers, token_use: z.literal("user"), sub: z.string(), org_ids: z.array(z.string()), iat: z.number().check(z.int()) }),
]));

/** RFC 7662 §2.2: anything not active is `{"active": false}` and nothing else. */
const IntrospectionResponse = /* @__PURE__ */ documentedOnly(() => z.union([z.object({ active: z.literal(false) }), ActiveToken]));

/** The routes below, documented (a function, so the worker's bundle drops it: only `npm run openapi` calls it). */
export const introspectionOperations = (): Operations => ({
  "POST /introspect": {
    tag: "oauth tokens",
    summary: "Is this token active, and what may it do? (RFC 7662)",
    description:
      "Any token this service issues: minted job tokens, pull tokens, static tokens. Revoked, expired, mistyped, unknown and foreign tokens are all `{\"active\": false}`, with no hint of which. Unknown parameters are ignored.",
    security: "introspection",
    body: { media: "oauth", schema: IntrospectionRequest, required: true },
    responses: { 200: { description: "The token's standing", schema: IntrospectionResponse } },
    errors: [400, 401, 413, 415, 429, 500, 503],
  },
  "POST /revoke": {
    tag: "oauth tokens",
    summary: "Revoke a token minted here (RFC 7009)",
    description:
      "The holder presents the token as `token`, or, with no parameter, as the request's bearer credential (the end of a CI job). Invalid, expired and unknown tokens are answered 200 too. Static tokens are revoked by deleting them (`400 unsupported_token_type`).",
    security: "optional_minted_token",
    body: { media: "oauth", schema: TokenParameter, required: false },
    responses: { 200: { description: "Revoked, or nothing to revoke" } },
    errors: [400, 413, 415, 429, 500, 503],
  },
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
async function describeActive(c: AppContext, credential: Credential): Promise<z.infer<typeof ActiveToken>> {
  const common = { active: true, token_type: "Bearer", scope: credential.scopes.join(" "), iss: c.get("config").publicUrl } as const;
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
        org_ids: await listUserOrgIds(databaseOf(c), credential.userId),
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
    // "Active" must be current: a replica cannot prove that a token was not revoked, or its
    // project, relationship or parent deleted, a moment ago. So the standing is read on the
    // primary (later reads of the session, a user's organizations, may go to a replica as
    // new as it).
    startSession(c, "first-primary");
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
