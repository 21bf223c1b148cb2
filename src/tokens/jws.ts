/**
 * Compact JWS (RFC 7515) for our own tokens, on WebCrypto alone: importing our signing keys
 * (ES256 on P-256, EdDSA on Ed25519) and CI providers' RS256 keys from JWKs, signing, and
 * verifying the signature of a token we signed. The worker needs only these few primitives;
 * a general JOSE library cost the bundle ~10 KiB gzip and every mint a `structuredClone`.
 *
 * It does not decide which claims a token must carry or when it is valid: `sign.ts` sets
 * the registered claims, `own-tokens.ts` checks them. Only the algorithms named here exist,
 * each bound to its key type, so `none` or HMAC-with-a-public-key cannot verify.
 */
import { encodeBase64Url } from "../base64url";
import { isObject } from "../schema";
import type { SigningAlgorithm } from "./signing-keys";

const ALGORITHMS: Record<SigningAlgorithm, { import: SubtleCryptoImportKeyAlgorithm; sign: SubtleCryptoSignAlgorithm }> = {
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  EdDSA: { import: { name: "Ed25519" }, sign: { name: "Ed25519" } },
};
const RS256_IMPORT: SubtleCryptoImportKeyAlgorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

const encoder = new TextEncoder();
// One per isolate: a whole (non-streaming) decode keeps no state between calls.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A JWS header or payload from its decoded bytes: strict UTF-8 holding a JSON object, or
 * null. Shared by our own tokens' verifier and the CI-token verifier, which turn null into
 * their own refusals.
 */
export function jsonObjectOf(bytes: Uint8Array): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Imports one of our signing keys: its private half to sign (`d` present) or its public
 * half to verify. Only the members of its key type are passed on (never `alg`, `use`,
 * `key_ops` or `ext`), so a JWK's extra members cannot change what the key may do.
 */
export function importSigningJwk(jwk: Record<string, unknown>, alg: SigningAlgorithm, use: "sign" | "verify"): Promise<CryptoKey> {
  const members = jwk.kty === "EC" ? ["kty", "crv", "x", "y"] : ["kty", "crv", "x"];
  if (use === "sign") members.push("d");
  const keyData = Object.fromEntries(members.map((name) => [name, jwk[name]])) as unknown as JsonWebKey;
  return crypto.subtle.importKey("jwk", keyData, ALGORITHMS[alg].import, false, [use]);
}

/** Imports a CI provider's published RSA key for RS256 verification only. */
export function importRs256Jwk(jwk: { n: string; e: string }): Promise<CryptoKey> {
  return crypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e }, RS256_IMPORT, false, ["verify"]);
}

/** `header.payload.signature`, both JSON values serialized as given. */
export async function signCompact(header: Record<string, unknown>, payload: Record<string, unknown>, alg: SigningAlgorithm, key: CryptoKey): Promise<string> {
  const signingInput = `${encodeBase64Url(JSON.stringify(header))}.${encodeBase64Url(JSON.stringify(payload))}`;
  const signature = await crypto.subtle.sign(ALGORITHMS[alg].sign, key, encoder.encode(signingInput));
  return `${signingInput}.${encodeBase64Url(new Uint8Array(signature))}`;
}

/** Does `signature` sign `signingInput` (`header.payload`, as sent) with `key` under `alg`? A malformed signature does not. */
export async function verifySignature(alg: SigningAlgorithm, key: CryptoKey, signature: Uint8Array<ArrayBuffer>, signingInput: string): Promise<boolean> {
  try {
    return await crypto.subtle.verify(ALGORITHMS[alg].sign, key, signature, encoder.encode(signingInput));
  } catch {
    return false;
  }
}

