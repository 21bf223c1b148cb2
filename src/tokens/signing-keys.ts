/**
 * Our own signing keys, from the `SIGNING_KEYS` secret: a JSON array of private JWKs
 * (ES256 on P-256, or EdDSA on Ed25519), each with a unique `kid`. The first signs; all
 * are published. Parsed and imported once per isolate. A missing or invalid value makes
 * minting fail with `signing_keys_missing`; it never takes the rest of the service down.
 * The public JWKS is built from an allowlist of public members, so no private member can
 * leak through it.
 */
import * as z from "../schema";
import { documentedOnly } from "../documented";
import { StsError } from "../errors";
import { importSigningJwk } from "./jws";

export type SigningAlgorithm = "ES256" | "EdDSA";

/** A published key: public members only (RFC 7517 §4, RFC 7518 §6.2.1, RFC 8037 §2). */
export const PublicJwk = /* @__PURE__ */ documentedOnly(() => z.discriminatedUnion("kty", [
  z.object({ kty: z.literal("EC"), crv: z.literal("P-256"), x: z.string(), y: z.string(), kid: z.string(), alg: z.literal("ES256"), use: z.literal("sig") }),
  z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string(), kid: z.string(), alg: z.literal("EdDSA"), use: z.literal("sig") }),
]));
export type PublicJwk = z.infer<typeof PublicJwk>;

/** `GET /.well-known/jwks.json`: every configured key's public half, the signing key first. */
export const Jwks = /* @__PURE__ */ documentedOnly(() => z.object({ keys: z.array(PublicJwk) }));

export interface SigningKeys {
  /** The key that signs: the first one. */
  active: { kid: string; alg: SigningAlgorithm; key: CryptoKey };
  /** Verification keys by kid, for introspecting our own tokens. */
  verifiers: Map<string, { alg: SigningAlgorithm; key: CryptoKey }>;
  jwks: { keys: PublicJwk[] };
}

const MAX_SIGNING_KEYS = 10;
let cache: { raw: string; keys: Promise<SigningKeys | null> } | undefined;

/** The imported keys, or null when the secret is missing or invalid. */
export function loadSigningKeys(raw: string | undefined): Promise<SigningKeys | null> {
  if (raw === undefined) return Promise.resolve(null);
  if (cache?.raw !== raw) cache = { raw, keys: importSigningKeys(raw).catch(() => null) };
  return cache.keys;
}

export async function requireSigningKeys(raw: string | undefined): Promise<SigningKeys> {
  const keys = await loadSigningKeys(raw);
  if (!keys) throw new StsError("signing_keys_missing");
  return keys;
}

async function importSigningKeys(raw: string): Promise<SigningKeys | null> {
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > MAX_SIGNING_KEYS) return null;
  const publics: PublicJwk[] = [];
  const verifiers = new Map<string, { alg: SigningAlgorithm; key: CryptoKey }>();
  let active: SigningKeys["active"] | undefined;
  for (const jwk of parsed) {
    const pub = publicHalf(jwk);
    if (!pub || verifiers.has(pub.kid) || typeof (jwk as Record<string, unknown>).d !== "string") return null;
    const privateKey = await importSigningJwk(jwk as Record<string, unknown>, pub.alg, "sign");
    const publicKey = await importSigningJwk(pub, pub.alg, "verify");
    active ??= { kid: pub.kid, alg: pub.alg, key: privateKey };
    verifiers.set(pub.kid, { alg: pub.alg, key: publicKey });
    publics.push(pub);
  }
  return active ? { active, verifiers, jwks: { keys: publics } } : null;
}

function publicHalf(jwk: unknown): PublicJwk | null {
  if (typeof jwk !== "object" || jwk === null) return null;
  const k = jwk as Record<string, unknown>;
  if (typeof k.kid !== "string" || k.kid.length === 0 || typeof k.x !== "string") return null;
  if (k.kty === "EC" && k.crv === "P-256" && typeof k.y === "string" && (k.alg ?? "ES256") === "ES256") {
    return { kty: "EC", crv: "P-256", x: k.x, y: k.y, kid: k.kid, alg: "ES256", use: "sig" };
  }
  if (k.kty === "OKP" && k.crv === "Ed25519" && (k.alg ?? "EdDSA") === "EdDSA") {
    return { kty: "OKP", crv: "Ed25519", x: k.x, kid: k.kid, alg: "EdDSA", use: "sig" };
  }
  return null;
}
