/**
 * "What do we hand out?" — the job token minted for an admitted exchange (SPEC §2).
 * Reserved claims always come from the server; nothing from the request sets them.
 */
import { SignJWT } from "jose";
import type { VerifiedToken } from "../providers/provider";
import { PROVIDERS } from "../providers/registry";
import type { Grant } from "../trust/authorize";
import type { SigningKeys } from "./signing-keys";

export interface Minted {
  accessToken: string;
  expiresIn: number;
  scopes: string[];
  jti: string;
}

export interface MintContext {
  publicUrl: string;
  signingKeys: SigningKeys;
  now: number;
}

export async function mintJobToken(token: VerifiedToken, grant: Grant, ctx: MintContext): Promise<Minted> {
  const { relationship } = grant;
  const ttl = relationship.tokenTtlSeconds;
  const jti = crypto.randomUUID();
  const ci = {
    provider: token.provider,
    issuer: token.issuer,
    subject: token.subject,
    ...PROVIDERS[token.provider].provenance(token.claims),
  };
  const accessToken = await new SignJWT({
    scope: grant.scopes.join(" "),
    org_id: relationship.orgId,
    project_id: relationship.projectId,
    token_use: "oidc",
    trust_relationship_id: relationship.id,
    ci,
  })
    .setProtectedHeader({ alg: ctx.signingKeys.active.alg, kid: ctx.signingKeys.active.kid, typ: "at+jwt" })
    .setIssuer(ctx.publicUrl)
    .setSubject(`project:${relationship.projectId}`)
    .setAudience(ctx.publicUrl)
    .setIssuedAt(ctx.now)
    .setNotBefore(ctx.now)
    .setExpirationTime(ctx.now + ttl)
    .setJti(jti)
    .sign(ctx.signingKeys.active.key);
  return { accessToken, expiresIn: ttl, scopes: grant.scopes, jti };
}
