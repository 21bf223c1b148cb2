/**
 * Pull tokens (SPEC §4): short-lived, `registry:pull` on one project, signed by us.
 *
 * A pull token is a JWT of the same family as the minted job token (`typ: at+jwt`,
 * RFC 9068), with `token_use: "pull"`. Why signed rather than opaque is in the README
 * ("Pull tokens"): in short, a registry can check it offline against our JWKS, and minting
 * one writes nothing to D1. This file only signs; who may ask for one is decided in
 * `routes/access.ts`, and the lifetime is capped by the route.
 */
import { scopesOf } from "./scopes";
import { signProjectToken, type SigningContext } from "./sign";

/** SPEC §4: pull tokens live at most one hour. */
export const MAX_PULL_TOKEN_TTL_SECONDS = 3600;
export const MIN_PULL_TOKEN_TTL_SECONDS = 60;

export interface PullTokenGrant {
  orgId: string;
  projectId: string;
  /** Who asked for it (RFC 8693 §4.1 `act`), e.g. `user:usr_…`; for audit, not for authorization. */
  actor: string;
  expiresAt: number;
}

export async function mintPullToken(grant: PullTokenGrant, ctx: SigningContext): Promise<{ token: string; jti: string }> {
  const claims = { scope: scopesOf("pull").join(" "), org_id: grant.orgId, project_id: grant.projectId, token_use: "pull", act: { sub: grant.actor } };
  return signProjectToken(grant.projectId, claims, Math.min(grant.expiresAt, ctx.now + MAX_PULL_TOKEN_TTL_SECONDS), ctx);
}
