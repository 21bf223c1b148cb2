/**
 * The admin API (SPEC §5) for people and credentials, over HTTP: users, memberships,
 * static tokens of users, organizations and projects, and pull tokens. Path parameters
 * and JSON bodies in, status and JSON out; who may do what, and what each verb does, is
 * the domain's (`admin/`, deciding access through `access/`).
 */
import { Hono } from "hono";
import { NewPullToken, createPullToken } from "../admin/pull-tokens";
import { NewStaticToken, createStaticToken, deleteStaticToken, listStaticTokens, type OwnerRef } from "../admin/static-tokens";
import { NewMember, NewUser, addMember, createUser, getUser, listMembers, removeMember } from "../admin/users";
import { audited } from "./audit";
import { readJsonBody } from "./body";
import { adminContext } from "./caller";
import type { AppContext, AppEnv } from "./context";

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
