/**
 * Static tokens of users, organizations and projects (SPEC §4, §5): issued, listed and
 * revoked by whoever administers their owner (a user's own tokens: the user or the operator).
 *
 * A token's plaintext appears in exactly one result, the one that creates it, and never in
 * its change record; lists carry the masked preview, never the plaintext (not stored) or
 * its hash (never selected). Generating and hashing are `tokens/static-tokens.ts`.
 */
import * as z from "../schema";
import { authorizeOrg, authorizeProject, authorizeUser, pathId, type Access } from "../access/reach";
import { ID_PATTERN } from "../db/d1";
import * as stored from "../db/static-tokens";
import type { TokenOwner } from "../db/static-tokens";
import { documentedOnly } from "../documented";
import { StsError } from "../errors";
import { generateStaticToken, hashStaticToken, previewStaticToken } from "../tokens/static-tokens";
import type { Changed, TokenOwnerIds } from "./changes";
import { readInput, type AdminContext, type Input } from "./context";

/** Per owner (user, organization or project); enough for rotation, bounded against abuse. */
export const MAX_STATIC_TOKENS_PER_OWNER = 100;

export const NewStaticToken = z.strictObject({ description: z._default(z.string().check(z.trim(), z.maxLength(500)), "") });
export type NewStaticToken = z.infer<typeof NewStaticToken>;

/** Whose tokens, as a door names them (path or form IDs, not yet checked): the verb authorizes it. */
export type OwnerRef = { kind: "user"; userId: string } | { kind: "organization"; orgId: string } | { kind: "project"; projectId: string };

/** What a list shows of a token (SPEC §5). */
export const StaticTokenView = /* @__PURE__ */ documentedOnly(() => z.object({
  id: z.string().check(z.regex(ID_PATTERN.tok)),
  preview: z.string(),
  description: z.string(),
  created_at: z.number().check(z.int()),
  last_used_at: z.nullable(z.number().check(z.int())),
}));
export type StaticTokenView = z.infer<typeof StaticTokenView>;

/** The one result that ever carries the plaintext (SPEC §4). */
export const IssuedStaticToken = /* @__PURE__ */ documentedOnly(() => z.object({
  id: z.string().check(z.regex(ID_PATTERN.tok)),
  token: z.string(),
  preview: z.string(),
  description: z.string(),
  created_at: z.number().check(z.int()),
}));
export type IssuedStaticToken = z.infer<typeof IssuedStaticToken>;

/** The owner, once the principal may read or administer it; a user's tokens are the user's or the operator's alone. */
async function authorizeOwner(ctx: AdminContext, ref: OwnerRef, access: Access): Promise<TokenOwner> {
  switch (ref.kind) {
    case "organization": {
      const org = await authorizeOrg(ctx, ref.orgId, access);
      return { kind: "organization", orgId: org.id };
    }
    case "project": {
      const project = await authorizeProject(ctx, ref.projectId, access);
      return { kind: "project", orgId: project.org_id, projectId: project.id };
    }
    case "user": {
      const user = await authorizeUser(ctx, ref.userId);
      return { kind: "user", userId: user.id };
    }
  }
}

function idsOf(owner: TokenOwner): TokenOwnerIds {
  switch (owner.kind) {
    case "organization":
      return { owner: "organization", orgId: owner.orgId };
    case "project":
      return { owner: "project", orgId: owner.orgId, projectId: owner.projectId };
    case "user":
      return { owner: "user", userId: owner.userId };
  }
}

/**
 * `POST …/tokens`. Nothing is written when TOKEN_HASH_SALT is missing: the check comes
 * before generating or storing anything.
 */
export async function createStaticToken(ctx: AdminContext, ref: OwnerRef, input: Input<NewStaticToken>): Promise<Changed<IssuedStaticToken>> {
  const owner = await authorizeOwner(ctx, ref, "admin");
  const { description } = await readInput(input);
  const salt = ctx.config.tokenHashSalt;
  if (!salt) throw new StsError("token_hash_salt_missing");
  const token = generateStaticToken(owner.kind);
  const created = await stored.createStaticToken(
    ctx.db,
    owner,
    { hash: await hashStaticToken(token, salt), preview: previewStaticToken(token), description },
    MAX_STATIC_TOKENS_PER_OWNER,
    ctx.now,
  );
  if (!created) throw new StsError("limit_exceeded", `at most ${MAX_STATIC_TOKENS_PER_OWNER} tokens per owner; delete unused ones`);
  return {
    result: { id: created.id, token, preview: created.preview, description: created.description, created_at: created.created_at },
    change: { action: "static_token.create", tokenId: created.id, description: created.description, ...idsOf(owner) },
  };
}

/** `GET …/tokens`. */
export async function listStaticTokens(ctx: AdminContext, ref: OwnerRef): Promise<StaticTokenView[]> {
  const owner = await authorizeOwner(ctx, ref, "read");
  return (await stored.listStaticTokens(ctx.db, owner)).map((t) => ({
    id: t.id,
    preview: t.preview,
    description: t.description,
    created_at: t.created_at,
    last_used_at: t.last_used_at,
  }));
}

/** `DELETE …/tokens/{id}`: revoked at once. Another owner's token ID is simply not found. */
export async function deleteStaticToken(ctx: AdminContext, ref: OwnerRef, tokenId: string): Promise<Changed<null>> {
  const owner = await authorizeOwner(ctx, ref, "admin");
  if (!(await stored.deleteStaticToken(ctx.db, owner, pathId(ID_PATTERN.tok, tokenId)))) throw new StsError("not_found");
  return { result: null, change: { action: "static_token.delete", tokenId, ...idsOf(owner) } };
}
