/**
 * Verifying the JWTs we signed ourselves: minted job tokens (`token_use: "oidc"`) and
 * pull tokens (`token_use: "pull"`), as presented to the admin API, `/introspect` and
 * `/revoke`.
 *
 * Signature (a key in our JWKS, its pinned alg), `typ: at+jwt` (RFC 9068 §4), `iss` and
 * `aud` = PUBLIC_URL, time, and the shape of our own claims, including who the token's
 * client is (`client_id`) and, for a pull token, the parent it was made from. Whether the
 * token or its parent has been revoked, or its project deleted, is stored state, checked
 * by the caller through `db/`. Any failure is `null`: callers must not tell the reasons
 * apart (RFC 7662 §2.2).
 *
 * Every segment must be canonical base64url: jose decodes leniently (unused bits of the last
 * character ignored), so without this one token would have 16 accepted spellings of its
 * signature, each a different string for anything that compares, hashes or caches tokens.
 */
import { jwtVerify, type JWTHeaderParameters } from "jose";
import { isCanonicalBase64Url } from "../base64url";
import * as z from "zod";
import { ID_PATTERN } from "../db/d1";
import { parentFromClaims, type PullTokenParent } from "./pull-tokens";
import { TOKEN_KINDS, isScope, type Scope } from "./scopes";
import type { SigningKeys } from "./signing-keys";

export type OwnTokenUse = "oidc" | "pull";

export interface OwnToken {
  use: OwnTokenUse;
  jti: string;
  sub: string;
  iss: string;
  orgId: string;
  projectId: string;
  /** The token's scope claim, kept only as far as the scope table allows its kind. */
  scopes: Scope[];
  iat: number;
  nbf: number | undefined;
  exp: number;
  trustRelationshipId: string | undefined;
  /** RFC 9068 §2.2: a job token's relationship; for a pull token, the credential it was made from. */
  clientId: string;
  /** What a pull token was made from; it stands only while that does. Undefined for job tokens. */
  parent: PullTokenParent | undefined;
}

/** Our JWTs are around 1 KiB; anything far larger is not one of ours. */
export const MAX_OWN_TOKEN_LENGTH = 8192;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Longest lifetimes we ever sign: a relationship's maximum TTL, and the pull-token cap. */
const MAX_LIFETIME_SECONDS: Record<OwnTokenUse, number> = { oidc: 43_200, pull: 3600 };

const OwnClaims = z.object({
  jti: z.string().min(1).max(128),
  sub: z.string(),
  iat: z.number().int(),
  nbf: z.number().int().optional(),
  exp: z.number().int(),
  scope: z.string().max(1024),
  org_id: z.string().regex(ID_PATTERN.org),
  project_id: z.string().regex(ID_PATTERN.prj),
  token_use: z.enum(["oidc", "pull"]),
  trust_relationship_id: z.string().regex(ID_PATTERN.trl).optional(),
  client_id: z.string().min(1).max(128).optional(),
  parent_jti: z.string().min(1).max(128).optional(),
});

export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_OWN_TOKEN_LENGTH && JWT_SHAPE.test(token);
}

export interface VerifyOwnContext {
  publicUrl: string;
  now: number;
}

export async function verifyOwnToken(token: string, keys: SigningKeys, ctx: VerifyOwnContext): Promise<OwnToken | null> {
  if (!looksLikeJwt(token) || !token.split(".").every(isCanonicalBase64Url)) return null;
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, (header: JWTHeaderParameters) => keyFor(keys, header), {
      issuer: ctx.publicUrl,
      audience: ctx.publicUrl,
      typ: "at+jwt",
      algorithms: ["ES256", "EdDSA"],
      requiredClaims: ["jti", "iat", "exp", "sub"],
      currentDate: new Date(ctx.now * 1000),
    }));
  } catch {
    return null;
  }
  const parsed = OwnClaims.safeParse(payload);
  if (!parsed.success) return null;
  const claims = parsed.data;
  if (claims.sub !== `project:${claims.project_id}`) return null;
  if (claims.exp - claims.iat > MAX_LIFETIME_SECONDS[claims.token_use]) return null;
  let clientId: string;
  let parent: PullTokenParent | undefined;
  if (claims.token_use === "oidc") {
    if (claims.trust_relationship_id === undefined || claims.parent_jti !== undefined) return null;
    // Job tokens minted before `client_id` existed lack it (they live up to 12 h); the
    // relationship is their client either way.
    if (claims.client_id !== undefined && claims.client_id !== claims.trust_relationship_id) return null;
    clientId = claims.trust_relationship_id;
  } else {
    // A pull token without a parent cannot be held to its parent's standing: not ours to honour.
    if (claims.trust_relationship_id !== undefined) return null;
    const named = parentFromClaims(claims.client_id, claims.parent_jti);
    if (!named) return null;
    parent = named;
    clientId = claims.client_id!;
  }
  const allowed = TOKEN_KINDS[claims.token_use].scopes;
  return {
    use: claims.token_use,
    jti: claims.jti,
    sub: claims.sub,
    iss: ctx.publicUrl,
    orgId: claims.org_id,
    projectId: claims.project_id,
    scopes: claims.scope.split(" ").filter((s): s is Scope => isScope(s) && allowed.includes(s)),
    iat: claims.iat,
    nbf: claims.nbf,
    exp: claims.exp,
    trustRelationshipId: claims.trust_relationship_id,
    clientId,
    parent,
  };
}

/** The verifier named by `kid`, only with the alg it was published with (no alg confusion). */
function keyFor(keys: SigningKeys, header: JWTHeaderParameters): CryptoKey {
  const verifier = header.kid === undefined ? undefined : keys.verifiers.get(header.kid);
  if (!verifier || verifier.alg !== header.alg) throw new Error("unknown key");
  return verifier.key;
}
