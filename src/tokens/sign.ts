/**
 * Signs the tokens we issue for a project (job tokens and pull tokens): one family,
 * `typ: at+jwt` (RFC 9068), `iss` = `aud` = PUBLIC_URL, `sub` = `project:<id>`, a fresh
 * `jti`. Callers add their own claims; the registered ones always come from here, and the
 * type demands `client_id`, the one RFC 9068 §2.2 claim only the caller can know, so no
 * `at+jwt` leaves here without it.
 */
import { SignJWT } from "jose";
import type { SigningKeys } from "./signing-keys";

export interface SigningContext {
  publicUrl: string;
  signingKeys: SigningKeys;
  now: number;
}

export async function signProjectToken(
  projectId: string,
  claims: Record<string, unknown> & { client_id: string },
  expiresAt: number,
  ctx: SigningContext,
): Promise<{ token: string; jti: string }> {
  const jti = crypto.randomUUID();
  const { alg, kid, key } = ctx.signingKeys.active;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: "at+jwt" })
    .setIssuer(ctx.publicUrl)
    .setSubject(`project:${projectId}`)
    .setAudience(ctx.publicUrl)
    .setIssuedAt(ctx.now)
    .setNotBefore(ctx.now)
    .setExpirationTime(expiresAt)
    .setJti(jti)
    .sign(key);
  return { token, jti };
}
