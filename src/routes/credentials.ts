/**
 * The admin API (SPEC §5) for people and credentials: users, memberships, static tokens
 * of users, organizations and projects, and pull tokens.
 *
 * HTTP only: authorize through `access.ts` (the only place tenancy is decided), validate
 * with zod, call `db/` and `tokens/`, render. A token's plaintext appears in exactly one
 * response, the one that creates it; lists select neither plaintext (never stored) nor hash.
 */
import { Hono } from "hono";
import * as z from "zod";
import { ID_PATTERN } from "../db/d1";
import { createStaticToken, deleteStaticToken, listStaticTokens, type StaticTokenListing, type TokenOwner } from "../db/static-tokens";
import { addMember, createUser, listMembers, removeMember } from "../db/users";
import { StsError } from "../errors";
import { MAX_PULL_TOKEN_TTL_SECONDS, MIN_PULL_TOKEN_TTL_SECONDS, mintPullToken, type PullTokenParent } from "../tokens/pull-tokens";
import { requireSigningKeys } from "../tokens/signing-keys";
import { generateStaticToken, hashStaticToken, previewStaticToken } from "../tokens/static-tokens";
import { authorizeOrg, authorizeProject, authorizeRegistry, authorizeUser, pathId, requireOperator, resolvePrincipal, type Principal } from "./access";
import { readJsonBody, validate } from "./body";
import { nowSeconds, type AppContext, type AppEnv } from "./context";

/** Per owner (user, organization or project); enough for rotation, bounded against abuse. */
const MAX_STATIC_TOKENS_PER_OWNER = 100;

const NewUser = z.strictObject({
  name: z.string().trim().min(1).max(200),
  // Emails are compared case-insensitively by every mail system users meet; store one spelling.
  email: z.email().max(254).transform((e) => e.toLowerCase()),
});

const NewMember = z.strictObject({
  user_id: z.string().regex(ID_PATTERN.usr, "must be a user ID (usr_…)"),
  role: z.enum(["admin", "member"]),
});

const NewStaticToken = z.strictObject({ description: z.string().trim().max(500).default("") });

const NewPullToken = z.strictObject({
  expires_in: z.number().int().min(MIN_PULL_TOKEN_TTL_SECONDS).max(MAX_PULL_TOKEN_TTL_SECONDS).default(MAX_PULL_TOKEN_TTL_SECONDS),
});

/** A JSON body whose fields are all optional: no body at all means the defaults. */
async function readOptionalJsonBody<T>(c: AppContext, schema: z.ZodType<T>): Promise<T> {
  if (c.req.raw.body === null && c.req.header("content-type") === undefined) return validate(schema, {});
  return readJsonBody(c, schema);
}


/**
 * Creates a static token for an already-authorized owner. Nothing is written when
 * TOKEN_HASH_SALT is missing: the check comes before generating or storing anything.
 */
async function issueStaticToken(c: AppContext, owner: TokenOwner) {
  const { description } = await readOptionalJsonBody(c, NewStaticToken);
  const salt = c.get("config").tokenHashSalt;
  if (!salt) throw new StsError("token_hash_salt_missing");
  const token = generateStaticToken(owner.kind);
  const stored = await createStaticToken(
    c.env.DB,
    owner,
    { hash: await hashStaticToken(token, salt), preview: previewStaticToken(token), description },
    MAX_STATIC_TOKENS_PER_OWNER,
    nowSeconds(),
  );
  if (!stored) throw new StsError("limit_exceeded", `at most ${MAX_STATIC_TOKENS_PER_OWNER} tokens per owner; delete unused ones`);
  // The one response that ever carries the plaintext (SPEC §4).
  return c.json({ id: stored.id, token, preview: stored.preview, description: stored.description, created_at: stored.created_at }, 201);
}

function renderTokenList(tokens: StaticTokenListing[]) {
  return {
    tokens: tokens.map((t) => ({ id: t.id, preview: t.preview, description: t.description, created_at: t.created_at, last_used_at: t.last_used_at })),
  };
}

async function revokeStaticToken(c: AppContext, owner: TokenOwner, id: string) {
  if (!(await deleteStaticToken(c.env.DB, owner, pathId(ID_PATTERN.tok, id)))) throw new StsError("not_found");
  return c.body(null, 204);
}

const orgOwner = async (c: AppContext, access: "read" | "admin"): Promise<TokenOwner> => {
  const { org } = await authorizeOrg(c, c.req.param("org_id")!, access);
  return { kind: "organization", orgId: org.id };
};

const projectOwner = async (c: AppContext, access: "read" | "admin"): Promise<TokenOwner> => {
  const { project } = await authorizeProject(c, c.req.param("project_id")!, access);
  return { kind: "project", orgId: project.org_id, projectId: project.id };
};

const userOwner = async (c: AppContext): Promise<TokenOwner> => {
  const { user } = await authorizeUser(c, c.req.param("user_id")!);
  return { kind: "user", userId: user.id };
};

/** Who minted a pull token, for its `act` claim: a public identifier, never a secret. */
function actorOf(principal: Principal): string {
  switch (principal.kind) {
    case "operator":
      return "operator";
    case "user":
      return `user:${principal.userId}`;
    case "organization":
      return `organization:${principal.orgId}`;
    case "project":
    case "oidc":
    case "pull":
      return `project:${principal.projectId}`;
  }
}

/** The credential a pull token is made from, and dies with. */
function parentOf(principal: Principal): PullTokenParent {
  switch (principal.kind) {
    case "operator":
      return { kind: "operator" };
    case "user":
    case "organization":
    case "project":
      return { kind: "static", tokenId: principal.tokenId };
    case "oidc":
      return { kind: "job", trustRelationshipId: principal.token.clientId, jti: principal.token.jti };
    case "pull":
      // authorizeRegistry refuses pull tokens before this point (no re-delegation).
      throw new StsError("insufficient_scope");
  }
}

export const credentialRoutes = new Hono<AppEnv>()
  // Users and memberships
  .post("/v1/users", async (c) => {
    requireOperator(await resolvePrincipal(c));
    const { name, email } = await readJsonBody(c, NewUser);
    return c.json(await createUser(c.env.DB, name, email, nowSeconds()), 201);
  })
  .get("/v1/users/:user_id", async (c) => c.json((await authorizeUser(c, c.req.param("user_id"))).user))
  .post("/v1/orgs/:org_id/members", async (c) => {
    const { org } = await authorizeOrg(c, c.req.param("org_id"), "admin");
    const { user_id, role } = await readJsonBody(c, NewMember);
    const membership = await addMember(c.env.DB, org.id, user_id, role, nowSeconds());
    if (!membership) throw new StsError("field_invalid", "user_id: no such user");
    return c.json(membership, 201);
  })
  .get("/v1/orgs/:org_id/members", async (c) => {
    const { org } = await authorizeOrg(c, c.req.param("org_id"), "read");
    return c.json({ members: await listMembers(c.env.DB, org.id) });
  })
  .delete("/v1/orgs/:org_id/members/:user_id", async (c) => {
    const { org } = await authorizeOrg(c, c.req.param("org_id"), "admin");
    if (!(await removeMember(c.env.DB, org.id, pathId(ID_PATTERN.usr, c.req.param("user_id"))))) throw new StsError("not_found");
    return c.body(null, 204);
  })
  // Static tokens: organization, project, user
  .post("/v1/orgs/:org_id/tokens", async (c) => issueStaticToken(c, await orgOwner(c, "admin")))
  .get("/v1/orgs/:org_id/tokens", async (c) => c.json(renderTokenList(await listStaticTokens(c.env.DB, await orgOwner(c, "read")))))
  .delete("/v1/orgs/:org_id/tokens/:token_id", async (c) => revokeStaticToken(c, await orgOwner(c, "admin"), c.req.param("token_id")))
  .post("/v1/projects/:project_id/tokens", async (c) => issueStaticToken(c, await projectOwner(c, "admin")))
  .get("/v1/projects/:project_id/tokens", async (c) =>
    c.json(renderTokenList(await listStaticTokens(c.env.DB, await projectOwner(c, "read")))),
  )
  .delete("/v1/projects/:project_id/tokens/:token_id", async (c) =>
    revokeStaticToken(c, await projectOwner(c, "admin"), c.req.param("token_id")),
  )
  .post("/v1/users/:user_id/tokens", async (c) => issueStaticToken(c, await userOwner(c)))
  .get("/v1/users/:user_id/tokens", async (c) => c.json(renderTokenList(await listStaticTokens(c.env.DB, await userOwner(c)))))
  .delete("/v1/users/:user_id/tokens/:token_id", async (c) => revokeStaticToken(c, await userOwner(c), c.req.param("token_id")))
  // Pull tokens: signed, short-lived, never stored or listed
  .post("/v1/projects/:project_id/pull-tokens", async (c) => {
    const { principal, project } = await authorizeRegistry(c, c.req.param("project_id"));
    const { expires_in } = await readOptionalJsonBody(c, NewPullToken);
    const signingKeys = await requireSigningKeys(c.get("config").signingKeys);
    const now = nowSeconds();
    // A delegated token never outlives the credential it was made from.
    const ceiling = "token" in principal ? principal.token.exp : Number.POSITIVE_INFINITY;
    const expiresAt = Math.min(now + expires_in, ceiling);
    const { token } = await mintPullToken(
      { orgId: project.org_id, projectId: project.id, actor: actorOf(principal), parent: parentOf(principal), expiresAt },
      { publicUrl: c.get("config").publicUrl, signingKeys, now },
    );
    return c.json({ token, expires_at: expiresAt }, 201);
  });
