/**
 * "Is this token really from that CI?" — the shared verifier for every provider.
 *
 * Cheap checks come first (size, shape, header, exact issuer) so junk never causes
 * network or database work. The issuer is always one built from configuration; nothing
 * in an unverified token chooses where keys come from (`jku`, `jwk`, `x5u`, `x5c` are
 * refused outright). Signatures are checked with WebCrypto against keys imported for
 * RS256 only, so neither `none` nor HMAC-with-the-public-key can pass.
 * It does not decide which project the token may reach: that is `trust/`.
 */
import type { Config, ProviderName } from "../config";
import { StsError } from "../errors";
import type { KeyCache, KeyStore } from "./key-cache";
import type { Claims, JobIdentity, Provider, VerifiedToken } from "./provider";
import { providerForIssuer } from "./registry";

export const MAX_SUBJECT_TOKEN_BYTES = 16 * 1024;
export const CLOCK_TOLERANCE_SECONDS = 60;
const MAX_KID_LENGTH = 256;
const MAX_JTI_LENGTH = 256;
const FORBIDDEN_HEADERS = ["jku", "jwk", "x5u", "x5c", "crit"];
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface VerifyDeps {
  config: Config;
  keys: KeyCache;
  store: KeyStore;
  now: number;
  waitUntil(promise: Promise<unknown>): void;
  /**
   * Does a stored relationship name this job identity and its issuer tenant? Asked only
   * before a cold key fetch from an open-ended issuer (`keyFetchNeedsRelationship`); may
   * throw the refusal itself.
   */
  issuerNamed(provider: Provider, identity: JobIdentity): Promise<boolean>;
  /** Told which provider's allowlisted issuer the token names, so even a refusal's log line says. */
  noteProvider(name: ProviderName): void;
}

export async function verifyIdToken(raw: string, deps: VerifyDeps): Promise<VerifiedToken> {
  if (raw.length > MAX_SUBJECT_TOKEN_BYTES) throw new StsError("subject_token_too_large");
  const { header, payload, signingInput, signature } = decodeCompact(raw);

  if (header.alg !== "RS256") throw new StsError("token_algorithm_forbidden");
  if (FORBIDDEN_HEADERS.some((name) => name in header)) throw new StsError("token_header_forbidden");
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID_LENGTH) {
    throw new StsError("token_malformed", undefined, "kid missing or invalid");
  }

  const iss = payload.iss;
  if (typeof iss !== "string") throw new StsError("token_malformed", undefined, "iss missing");
  const found = providerForIssuer(iss, deps.config.issuers);
  if (!found) throw new StsError("issuer_unknown");
  const { provider, tenant } = found;
  deps.noteProvider(provider.name);

  // The claims are typed once; before the signature is checked they are only used to gate
  // a cold key fetch from an open-ended issuer (a GitHub enterprise, a CircleCI
  // organization), never to authorize.
  const claims = provider.claims.safeParse(payload);
  const identity = claims.success ? provider.identify(claims.data, tenant) : null;
  const key = await deps.keys.keyFor({
    issuer: iss,
    kid,
    now: deps.now,
    allowInsecure: deps.config.allowInsecureIssuers,
    store: deps.store,
    waitUntil: deps.waitUntil,
    mayFetch: async () =>
      !provider.keyFetchNeedsRelationship(tenant) ||
      (identity !== null && (await deps.issuerNamed(provider, identity))),
  });

  const valid = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, signingInput);
  if (!valid) throw new StsError("signature_invalid");

  const { issuedAt, expiresAt } = checkTimes(payload, provider, deps.now);
  if (!claims.success) {
    throw new StsError("claims_invalid", undefined, claims.error.issues.map((i) => i.path.join(".")).join(","));
  }
  if (!identity) throw new StsError("claims_invalid", undefined, "inconsistent identity claims");
  const defaultAudience = checkAudience(payload.aud, deps.config.audience, provider.defaultAudience(identity));

  const jti = payload.jti;
  if (jti !== undefined && (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH)) {
    throw new StsError("claims_invalid", undefined, "jti");
  }
  return {
    provider: provider.name,
    issuer: iss,
    issuerTenant: tenant || undefined,
    claims: claims.data,
    identity,
    owner: provider.owner(claims.data, identity),
    defaultAudience,
    subject: String(claims.data.sub),
    jti,
    issuedAt,
    expiresAt,
  };
}

interface Decoded {
  header: Record<string, unknown>;
  payload: Claims;
  signingInput: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

/**
 * Splits and decodes a compact JWS. Every segment must be canonical base64url (no
 * padding, no stray bits), so one token has exactly one spelling and cannot be
 * presented twice in different clothes.
 */
function decodeCompact(raw: string): Decoded {
  const parts = raw.split(".");
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) throw new StsError("token_malformed");
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  const payload = decodeJson(p);
  const signature = decodeBase64Url(s);
  return { header, payload, signingInput: new TextEncoder().encode(`${h}.${p}`) as Uint8Array<ArrayBuffer>, signature };
}

function decodeJson(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(decodeBase64Url(segment)));
  } catch {
    throw new StsError("token_malformed");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new StsError("token_malformed");
  return value as Record<string, unknown>;
}

export function decodeBase64Url(segment: string): Uint8Array<ArrayBuffer> {
  if (segment.length % 4 === 1) throw new StsError("token_malformed");
  let binary: string;
  try {
    binary = atob(segment.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    throw new StsError("token_malformed");
  }
  // Re-encoding what atob decoded must give the segment back: no stray bits, one spelling.
  if (toBase64Url(btoa(binary)) !== segment) throw new StsError("token_malformed", undefined, "non-canonical base64url");
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const toBase64Url = (base64: string): string => base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

const isTime = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** RFC 7519 §4.1.4–4.1.6 with a 60 s tolerance, plus the provider's age and lifetime caps. */
function checkTimes(payload: Claims, provider: Provider, now: number): { issuedAt: number; expiresAt: number } {
  const { exp, iat, nbf } = payload;
  if (!isTime(exp) || !isTime(iat) || (nbf !== undefined && !isTime(nbf))) throw new StsError("claims_invalid", undefined, "exp/iat/nbf");
  if (exp + CLOCK_TOLERANCE_SECONDS <= now) throw new StsError("token_expired");
  if (iat - CLOCK_TOLERANCE_SECONDS > now) throw new StsError("token_issued_in_future");
  if (nbf !== undefined && nbf - CLOCK_TOLERANCE_SECONDS > now) throw new StsError("token_not_yet_valid");
  if (exp <= iat) throw new StsError("claims_invalid", undefined, "exp not after iat");
  if (exp - iat > provider.maxLifetimeSeconds) throw new StsError("token_lifetime_too_long");
  if (now - iat > provider.maxAgeSeconds) throw new StsError("token_too_old");
  return { issuedAt: iat, expiresAt: exp };
}

/**
 * `aud` must be one value (a string or a one-element array): ours, or the provider's default
 * audience, which only relationships that opt in admit. Returns whether it was the default.
 */
function checkAudience(aud: unknown, ours: string, providerDefault: string | null): boolean {
  const single = Array.isArray(aud) && aud.length === 1 ? aud[0] : aud;
  if (single === ours) return false;
  if (typeof single === "string" && single === providerDefault) return true;
  throw new StsError("audience_mismatch");
}
