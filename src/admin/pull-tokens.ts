/**
 * Pull tokens (SPEC §4): minted for any credential with registry access to the project,
 * never for a pull token (no re-delegation), never outliving the credential they are made
 * from, and named after it so they die with it. Signed, short-lived, never stored or
 * listed; the claims are `tokens/pull-tokens.ts`, who may ask is `access/reach.ts`.
 */
import * as z from "../schema";
import type { Principal } from "../access/principal";
import { authorizeRegistry } from "../access/reach";
import { documentedOnly } from "../documented";
import { StsError } from "../errors";
import { MAX_PULL_TOKEN_TTL_SECONDS, MIN_PULL_TOKEN_TTL_SECONDS, mintPullToken, type PullTokenParent } from "../tokens/pull-tokens";
import { requireSigningKeys } from "../tokens/signing-keys";
import type { Changed } from "./changes";
import { readInput, type AdminContext, type Input } from "./context";

export const NewPullToken = z.strictObject({
  expires_in: z._default(z.number().check(z.int(), z.gte(MIN_PULL_TOKEN_TTL_SECONDS), z.lte(MAX_PULL_TOKEN_TTL_SECONDS)), MAX_PULL_TOKEN_TTL_SECONDS),
});
export type NewPullToken = z.infer<typeof NewPullToken>;

/** `expires_at` in Unix seconds. */
export const IssuedPullToken = /* @__PURE__ */ documentedOnly(() => z.object({ token: z.string(), expires_at: z.number().check(z.int()) }));
export type IssuedPullToken = z.infer<typeof IssuedPullToken>;

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

/** `POST /v1/projects/{project_id}/pull-tokens`. */
export async function createPullToken(ctx: AdminContext, projectId: string, input: Input<NewPullToken>): Promise<Changed<IssuedPullToken>> {
  const project = await authorizeRegistry(ctx, projectId);
  const { expires_in } = await readInput(input);
  const signingKeys = await requireSigningKeys(ctx.config.signingKeys);
  const principal = ctx.principal;
  // A delegated token never outlives the credential it was made from.
  const ceiling = "token" in principal ? principal.token.exp : Number.POSITIVE_INFINITY;
  const expiresAt = Math.min(ctx.now + expires_in, ceiling);
  const { token, jti } = await mintPullToken(
    { orgId: project.org_id, projectId: project.id, actor: actorOf(principal), parent: parentOf(principal), expiresAt },
    { publicUrl: ctx.config.publicUrl, signingKeys, now: ctx.now },
  );
  return {
    result: { token, expires_at: expiresAt },
    change: { action: "pull_token.create", orgId: project.org_id, projectId: project.id, jti, expiresAt },
  };
}
