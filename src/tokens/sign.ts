/**
 * Signs the tokens we issue for a project (job tokens and pull tokens): one family,
 * `typ: at+jwt` (RFC 9068), `iss` = `aud` = PUBLIC_URL, `sub` = `project:<id>`, a fresh
 * `jti`. Callers add their own claims; the registered ones always come from here, and the
 * type demands `client_id`, the one RFC 9068 §2.2 claim only the caller can know, so no
 * `at+jwt` leaves here without it.
 */
import { signCompact } from "./jws";
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
  const payload = { ...claims, iss: ctx.publicUrl, sub: `project:${projectId}`, aud: ctx.publicUrl, iat: ctx.now, nbf: ctx.now, exp: expiresAt, jti };
  const token = await signCompact({ alg, kid, typ: "at+jwt" }, payload, alg, key);
  return { token, jti };
}
