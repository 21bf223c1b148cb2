/**
 * The admin API (SPEC §5) for people and credentials, over HTTP: users, memberships,
 * static tokens of users, organizations and projects, and pull tokens. Path parameters
 * and JSON bodies in, status and JSON out; who may do what, and what each verb does, is
 * the domain's (`admin/`, deciding access through `access/`).
 */
import * as z from "../schema";
import { IssuedPullToken, NewPullToken, createPullToken } from "../admin/pull-tokens";
import {
  IssuedStaticToken,
  NewStaticToken,
  StaticTokenView,
  createStaticToken,
  deleteStaticToken,
  listStaticTokens,
  type OwnerRef,
} from "../admin/static-tokens";
import { MembershipView, NewMember, NewUser, UserView, addMember, createUser, getUser, listMembers, removeMember } from "../admin/users";
import { documentedOnly } from "../documented";
import { audited } from "./audit";
import { readJsonBody } from "./body";
import { adminContext } from "./caller";
import type { AppContext, AppEnv } from "./context";
import { ADMIN, BODY, type Operation, type Operations } from "./document";
import { Hono } from "./hono";

const orgTokens = (c: AppContext): OwnerRef => ({ kind: "organization", orgId: c.req.param("org_id")! });
const projectTokens = (c: AppContext): OwnerRef => ({ kind: "project", projectId: c.req.param("project_id")! });
const userTokens = (c: AppContext): OwnerRef => ({ kind: "user", userId: c.req.param("user_id")! });

/** The three owners' tokens are one set of verbs. */
const issueToken = (owner: (c: AppContext) => OwnerRef) => async (c: AppContext) => {
  return c.json(await audited(c, (ctx) => createStaticToken(ctx, owner(c), () => readJsonBody(c, NewStaticToken))), 201);
};
const listTokens = (owner: (c: AppContext) => OwnerRef) => async (c: AppContext) =>
  c.json({ tokens: await listStaticTokens(await adminContext(c), owner(c)) });
const revokeToken = (owner: (c: AppContext) => OwnerRef) => async (c: AppContext) => {
  await audited(c, (ctx) => deleteStaticToken(ctx, owner(c), c.req.param("token_id")!));
  return c.body(null, 204);
};

const MemberList = /* @__PURE__ */ documentedOnly(() => z.object({ members: z.array(MembershipView) }));
const StaticTokenList = /* @__PURE__ */ documentedOnly(() => z.object({ tokens: z.array(StaticTokenView) }));

/** The three owners' tokens are one set of verbs, documented once. */
function staticTokenOperations(owner: string, path: string, who: string): Operations {
  const tokens: Omit<Operation, "summary" | "responses" | "errors"> = { tag: "static tokens", security: "credential" };
  return {
    [`POST ${path}`]: {
      ...tokens,
      summary: `Create ${owner} token (${who})`,
      description: "The plaintext `token` is in this response only; it is stored as a keyed hash. At most 100 tokens per owner.",
      body: { media: "json", schema: NewStaticToken, required: false },
      responses: { 201: { description: "The token, with its plaintext", schema: IssuedStaticToken } },
      // 500 also when TOKEN_HASH_SALT is missing: nothing is written then.
      errors: [...BODY, 409, ...ADMIN],
    },
    [`GET ${path}`]: {
      ...tokens,
      summary: `List ${owner} tokens, masked`,
      responses: { 200: { description: "The tokens, with masked previews", schema: StaticTokenList } },
      errors: ADMIN,
    },
    [`DELETE ${path}/{token_id}`]: {
      ...tokens,
      summary: `Revoke ${owner} token (${who})`,
      description: "Rejected everywhere from now on, and so is every pull token made from it.",
      responses: { 204: { description: "Revoked" } },
      errors: ADMIN,
    },
  } as Operations;
}

/** The routes below, documented (a function, so the worker's bundle drops it: only `npm run openapi` calls it). */
export const credentialOperations = (): Operations => ({
  "POST /v1/users": {
    tag: "users",
    summary: "Create a user (the operator only)",
    description: "The email is stored in lower case; a taken email is `409 conflict`.",
    security: "credential",
    body: { media: "json", schema: NewUser, required: true },
    responses: { 201: { description: "The user", schema: UserView } },
    errors: [...BODY, 401, 403, 409, 429, 500, 503],
  },
  "GET /v1/users/{user_id}": {
    tag: "users",
    summary: "Read a user (the user themselves or the operator)",
    security: "credential",
    responses: { 200: { description: "The user", schema: UserView } },
    errors: ADMIN,
  },
  "POST /v1/orgs/{org_id}/members": {
    tag: "organizations",
    summary: "Add a member (an admin of the organization)",
    description: "An unknown user is `400 invalid_request`; an existing member `409 conflict` (to change a role, remove and add again).",
    security: "credential",
    body: { media: "json", schema: NewMember, required: true },
    responses: { 201: { description: "The membership", schema: MembershipView } },
    errors: [...BODY, 409, ...ADMIN],
  },
  "GET /v1/orgs/{org_id}/members": {
    tag: "organizations",
    summary: "List an organization's members",
    security: "credential",
    responses: { 200: { description: "The memberships", schema: MemberList } },
    errors: ADMIN,
  },
  "DELETE /v1/orgs/{org_id}/members/{user_id}": {
    tag: "organizations",
    summary: "Remove a member (an admin of the organization)",
    description: "The user's pull tokens for the organization stop being active.",
    security: "credential",
    responses: { 204: { description: "Removed" } },
    errors: ADMIN,
  },
  ...staticTokenOperations("an organization", "/v1/orgs/{org_id}/tokens", "an admin of the organization"),
  ...staticTokenOperations("a project", "/v1/projects/{project_id}/tokens", "an admin of its organization"),
  ...staticTokenOperations("a user", "/v1/users/{user_id}/tokens", "the user or the operator"),
  "POST /v1/projects/{project_id}/pull-tokens": {
    tag: "pull tokens",
    summary: "Mint a pull token (any credential with registry access to the project, but a pull token)",
    description:
      "Scope `registry:pull`, at most one hour, never outliving the credential it is made from, and inactive once that credential is revoked. Signed, not stored, never listed. No body means the defaults.",
    security: "credential",
    body: { media: "json", schema: NewPullToken, required: false },
    responses: { 201: { description: "The pull token", schema: IssuedPullToken } },
    // 500 also when SIGNING_KEYS is missing.
    errors: [...BODY, ...ADMIN],
  },
});

export const credentialRoutes = new Hono<AppEnv>()
  // Users and memberships
  .post("/v1/users", async (c) => {
    return c.json(await audited(c, (ctx) => createUser(ctx, () => readJsonBody(c, NewUser))), 201);
  })
  .get("/v1/users/:user_id", async (c) => c.json(await getUser(await adminContext(c), c.req.param("user_id"))))
  .post("/v1/orgs/:org_id/members", async (c) => {
    return c.json(await audited(c, (ctx) => addMember(ctx, c.req.param("org_id"), () => readJsonBody(c, NewMember))), 201);
  })
  .get("/v1/orgs/:org_id/members", async (c) => c.json({ members: await listMembers(await adminContext(c), c.req.param("org_id")) }))
  .delete("/v1/orgs/:org_id/members/:user_id", async (c) => {
    await audited(c, (ctx) => removeMember(ctx, c.req.param("org_id"), c.req.param("user_id")));
    return c.body(null, 204);
  })
  // Static tokens: organization, project, user
  .post("/v1/orgs/:org_id/tokens", issueToken(orgTokens))
  .get("/v1/orgs/:org_id/tokens", listTokens(orgTokens))
  .delete("/v1/orgs/:org_id/tokens/:token_id", revokeToken(orgTokens))
  .post("/v1/projects/:project_id/tokens", issueToken(projectTokens))
  .get("/v1/projects/:project_id/tokens", listTokens(projectTokens))
  .delete("/v1/projects/:project_id/tokens/:token_id", revokeToken(projectTokens))
  .post("/v1/users/:user_id/tokens", issueToken(userTokens))
  .get("/v1/users/:user_id/tokens", listTokens(userTokens))
  .delete("/v1/users/:user_id/tokens/:token_id", revokeToken(userTokens))
  // Pull tokens: signed, short-lived, never stored or listed
  .post("/v1/projects/:project_id/pull-tokens", async (c) => {
    return c.json(await audited(c, (ctx) => createPullToken(ctx, c.req.param("project_id"), () => readJsonBody(c, NewPullToken))), 201);
  });
