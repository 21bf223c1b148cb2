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
 * Every segment must be canonical base64url (src/base64url.ts): a lenient decoder ignores the
 * unused bits of the last character, so one token would have 16 accepted spellings of its
 * signature, each a different string for anything that compares, hashes or caches tokens.
 */
import * as z from "../schema";
import { ID_PATTERN } from "../db/d1";
import { decodeBase64Url } from "../base64url";
import { jsonObjectOf, verifySignature } from "./jws";
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
  jti: z.string().check(z.minLength(1), z.maxLength(128)),
  sub: z.string(),
  iat: z.number().check(z.int()),
  nbf: z.optional(z.number().check(z.int())),
  exp: z.number().check(z.int()),
  scope: z.string().check(z.maxLength(1024)),
  org_id: z.string().check(z.regex(ID_PATTERN.org)),
  project_id: z.string().check(z.regex(ID_PATTERN.prj)),
  token_use: z.enum(["oidc", "pull"]),
  trust_relationship_id: z.optional(z.string().check(z.regex(ID_PATTERN.trl))),
  client_id: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  parent_jti: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
});

export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_OWN_TOKEN_LENGTH && JWT_SHAPE.test(token);
}

export interface VerifyOwnContext {
  publicUrl: string;
  now: number;
}

export async function verifyOwnToken(token: string, keys: SigningKeys, ctx: VerifyOwnContext): Promise<OwnToken | null> {
  if (!looksLikeJwt(token)) return null;
  const payload = await verifiedPayload(token, keys, ctx);
  if (!payload) return null;
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

/**
 * The payload of a JWT we signed, once its header, signature, type, issuer, audience and
 * times hold (RFC 7515 §5.2, RFC 7519 §7.2, RFC 9068 §4); null otherwise. The key is the one
 * its `kid` names, used only with the alg it was published with (no alg confusion); `crit`
 * is refused, as we define no extension.
 */
async function verifiedPayload(token: string, keys: SigningKeys, ctx: VerifyOwnContext): Promise<Record<string, unknown> | null> {
  const [h, p, s] = token.split(".") as [string, string, string];
  const header = jsonObject(h);
  if (!header || header.crit !== undefined || typeof header.kid !== "string") return null;
  const verifier = keys.verifiers.get(header.kid);
  if (!verifier || verifier.alg !== header.alg) return null;
  const signature = decodeBase64Url(s);
  if (!signature || !(await verifySignature(verifier.alg, verifier.key, signature, `${h}.${p}`))) return null;
  if (typeof header.typ !== "string" || mediaType(header.typ) !== "application/at+jwt") return null;
  const payload = jsonObject(p);
  if (!payload) return null;
  for (const claim of ["jti", "iat", "exp", "sub", "iss", "aud"]) if (!Object.hasOwn(payload, claim)) return null;
  if (payload.iss !== ctx.publicUrl) return null;
  const { aud } = payload;
  if (!(aud === ctx.publicUrl || (Array.isArray(aud) && aud.includes(ctx.publicUrl)))) return null;
  const { iat, nbf, exp } = payload;
  if (typeof iat !== "number" || typeof exp !== "number" || (nbf !== undefined && typeof nbf !== "number")) return null;
  if ((nbf !== undefined && nbf > ctx.now) || exp <= ctx.now) return null;
  return payload;
}

/** RFC 7515 §4.1.9: a `typ` without a slash means `application/` plus it, case-insensitively. */
const mediaType = (typ: string): string => {
  const lower = typ.toLowerCase();
  return lower.includes("/") ? lower : `application/${lower}`;
};

/** A canonical base64url segment holding a JSON object in strict UTF-8, or null. */
function jsonObject(segment: string): Record<string, unknown> | null {
  const bytes = decodeBase64Url(segment);
  return bytes && jsonObjectOf(bytes);
}
