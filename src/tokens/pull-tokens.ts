/**
 * Pull tokens (SPEC §4): short-lived, `registry:pull` on one project, signed by us.
 *
 * A pull token is a JWT of the same family as the minted job token (`typ: at+jwt`,
 * RFC 9068), with `token_use: "pull"`. Why signed rather than opaque is in the README
 * ("Pull tokens"): in short, a registry can check it offline against our JWKS, and minting
 * one writes nothing to D1.
 *
 * It names the credential it was made from (its parent) in `client_id`, and a job token
 * parent also by `parent_jti`, so that whoever checks its standing can require the parent
 * to be alive too: a pull token dies with its parent. This file signs and reads those
 * claims; who may ask for one is decided in `access/reach.ts`, the lifetime is capped by
 * `admin/pull-tokens.ts`, and the standing query lives in `db/revoked-tokens.ts`.
 */
import { ID_PATTERN } from "../db/d1";
import { scopesOf } from "./scopes";
import { signProjectToken, type SigningContext } from "./sign";

/** SPEC §4: pull tokens live at most one hour. */
export const MAX_PULL_TOKEN_TTL_SECONDS = 3600;
export const MIN_PULL_TOKEN_TTL_SECONDS = 60;

/** `client_id` of a pull token made with ADMIN_TOKEN, which has no ID of its own. */
export const OPERATOR_CLIENT_ID = "operator";

/**
 * The credential a pull token was made from:
 * - a job token: its relationship (the job token's own `client_id`) and its `jti`;
 * - a static token (user, organization or project): its ID, `tok_…`;
 * - the operator's ADMIN_TOKEN.
 */
export type PullTokenParent =
  | { kind: "job"; trustRelationshipId: string; jti: string }
  | { kind: "static"; tokenId: string }
  | { kind: "operator" };

export interface PullTokenGrant {
  orgId: string;
  projectId: string;
  /** Who asked for it (RFC 8693 §4.1 `act`), e.g. `user:usr_…`; for audit, not for authorization. */
  actor: string;
  parent: PullTokenParent;
  expiresAt: number;
}

/** RFC 9068 §2.2 `client_id`: the client that asked, named by the credential it used. */
function parentClaims(parent: PullTokenParent): { client_id: string; parent_jti?: string } {
  switch (parent.kind) {
    case "job":
      return { client_id: parent.trustRelationshipId, parent_jti: parent.jti };
    case "static":
      return { client_id: parent.tokenId };
    case "operator":
      return { client_id: OPERATOR_CLIENT_ID };
  }
}

/** The parent a verified pull token's claims name, or null when they name none coherently. */
export function parentFromClaims(clientId: string | undefined, parentJti: string | undefined): PullTokenParent | null {
  if (clientId === undefined) return null;
  if (ID_PATTERN.trl.test(clientId)) return parentJti === undefined ? null : { kind: "job", trustRelationshipId: clientId, jti: parentJti };
  if (parentJti !== undefined) return null;
  if (ID_PATTERN.tok.test(clientId)) return { kind: "static", tokenId: clientId };
  if (clientId === OPERATOR_CLIENT_ID) return { kind: "operator" };
  return null;
}

export async function mintPullToken(grant: PullTokenGrant, ctx: SigningContext): Promise<{ token: string; jti: string }> {
  const claims = {
    scope: scopesOf("pull").join(" "),
    org_id: grant.orgId,
    project_id: grant.projectId,
    token_use: "pull",
    act: { sub: grant.actor },
    ...parentClaims(grant.parent),
  };
  return signProjectToken(grant.projectId, claims, Math.min(grant.expiresAt, ctx.now + MAX_PULL_TOKEN_TTL_SECONDS), ctx);
}
