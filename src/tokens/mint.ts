/**
 * "What do we hand out?" — the job token minted for an admitted exchange (SPEC §2).
 * Reserved claims always come from the server; nothing from the request sets them.
 */
import type { VerifiedToken } from "../providers/provider";
import { PROVIDERS } from "../providers/registry";
import type { Grant } from "../trust/authorize";
import { signProjectToken, type SigningContext } from "./sign";

export interface Minted {
  accessToken: string;
  expiresIn: number;
  scopes: string[];
  jti: string;
}

export async function mintJobToken(token: VerifiedToken, grant: Grant, ctx: SigningContext): Promise<Minted> {
  const { relationship } = grant;
  const ttl = relationship.tokenTtlSeconds;
  const ci = {
    provider: token.provider,
    issuer: token.issuer,
    subject: token.subject,
    ...PROVIDERS[token.provider].provenance(token.claims),
  };
  const claims = {
    scope: grant.scopes.join(" "),
    org_id: relationship.orgId,
    project_id: relationship.projectId,
    token_use: "oidc",
    trust_relationship_id: relationship.id,
    // RFC 9068 §2.2: the client is the trust relationship that admitted the job (SPEC §2).
    client_id: relationship.id,
    ci,
  };
  const { token: accessToken, jti } = await signProjectToken(relationship.projectId, claims, ctx.now + ttl, ctx);
  return { accessToken, expiresIn: ttl, scopes: grant.scopes, jti };
}
