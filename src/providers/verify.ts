/**
 * "Is this token really from that CI?" — the shared verifier for every provider, as a
 * sequence of stages: format, header, issuer, key, signature, times, claims, audience,
 * replay (the `jti`'s form; whether it was used before is asked of D1 by the caller).
 *
 * One run of the stages serves two readers. The exchange (`verifyIdToken`) stops at the
 * first failing stage and throws its refusal. Explain and suggest (`inspectIdToken`)
 * record every stage with its checks (expected vs actual) and go on where that still
 * means something: after a failed time, claim or audience check the signature has still
 * proven who issued the token, but a token whose issuer, key or signature fails proves
 * nothing, so the run stops there.
 *
 * Cheap checks come first (size, shape, header, exact issuer) so junk never causes
 * network or database work. The issuer is always one built from configuration; nothing
 * in an unverified token chooses where keys come from (`jku`, `jwk`, `x5u`, `x5c` are
 * refused outright). Signatures are checked with WebCrypto against keys imported for
 * RS256 only, so neither `none` nor HMAC-with-the-public-key can pass.
 * It does not decide which project the token may reach: that is `trust/`.
 */
import type { Config, ProviderName } from "../config";
import { decodeBase64Url } from "../base64url";
import { StsError, type Reason } from "../errors";
import { jsonObjectOf } from "../tokens/jws";
import type { KeyCache, KeyStore } from "./key-cache";
import type { Claims, JobIdentity, Provider, VerifiedToken } from "./provider";
import { providerForIssuer } from "./registry";

export const MAX_SUBJECT_TOKEN_BYTES = 16 * 1024;
export const CLOCK_TOLERANCE_SECONDS = 60;
const MAX_KID_LENGTH = 256;
const MAX_JTI_LENGTH = 256;
const FORBIDDEN_HEADERS = ["jku", "jwk", "x5u", "x5c", "crit"];
const encoder = new TextEncoder();

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

export type Stage = "format" | "header" | "issuer" | "key" | "signature" | "times" | "claims" | "audience" | "replay";

/** One check of a stage: what it requires (`expected`, words or a value) and what the token has. */
export interface StageCheck {
  check: string;
  expected: unknown;
  actual: unknown;
  pass: boolean;
}

export interface StageResult {
  stage: Stage;
  checks: StageCheck[];
  /** The exchange's refusal at this stage (its first failing check's); absent when every check passed. */
  error?: StsError;
}

/** What a recording run established: every stage it ran, and as much of the token as could be. */
export interface Inspection {
  stages: StageResult[];
  /** The decoded header and payload, once the token is a well-formed JWS (not yet verified). */
  header?: Record<string, unknown>;
  payload?: Claims;
  provider?: ProviderName;
  /**
   * The token, once its signature verified and its claims name a consistent identity — even
   * when its times, audience or `jti` failed (`stages` says), so it may be explained, never
   * exchanged.
   */
  token?: VerifiedToken;
}

/** The exchange's verifier: every stage in order, the first failure thrown as the refusal. */
export async function verifyIdToken(raw: string, deps: VerifyDeps): Promise<VerifiedToken> {
  const { token } = await runStages(raw, deps, undefined);
  // Every stage passed (each failure threw), so the claims named an identity.
  return token!;
}

/** Explain's and suggest's verifier: the same stages, each recorded, stopping only where nothing more can be proven. */
export function inspectIdToken(raw: string, deps: VerifyDeps): Promise<Inspection> {
  return runStages(raw, deps, []);
}

/**
 * Runs the stages. Without `recorded`, a failing stage throws its error; with it, each stage
 * is pushed and the run stops only after a failing stage marked `stops`.
 */
async function runStages(raw: string, deps: VerifyDeps, recorded: StageResult[] | undefined): Promise<Inspection> {
  const inspection: Inspection = { stages: recorded ?? [] };
  const record = (result: StageResult, stops: boolean): boolean => {
    if (!recorded) {
      if (result.error) throw result.error;
      return true;
    }
    recorded.push(result);
    return !(stops && result.error);
  };

  const format = formatStage(raw);
  if (!record(format.result, true) || !format.decoded) return inspection;
  const { header, payload, signingInput, signature } = format.decoded;
  inspection.header = header;
  inspection.payload = payload;

  if (!record(headerStage(header), true)) return inspection;
  const kid = header.kid as string;

  const issuer = issuerStage(payload.iss, deps.config.issuers);
  if (!record(issuer.result, true) || !issuer.found) return inspection;
  const iss = payload.iss as string;
  const { provider, tenant } = issuer.found;
  inspection.provider = provider.name;
  deps.noteProvider(provider.name);

  // The claims are typed once; before the signature is checked they are only used to gate
  // a cold key fetch from an open-ended issuer (a GitHub enterprise, a CircleCI
  // organization), never to authorize.
  const claims = provider.claims.safeParse(payload);
  const identity = claims.success ? provider.identify(claims.data, tenant) : null;
  const key = await keyStage(iss, kid, deps, async () =>
    !provider.keyFetchNeedsRelationship(tenant) || (identity !== null && (await deps.issuerNamed(provider, identity))),
  );
  if (!record(key.result, true) || !key.key) return inspection;

  if (!record(await signatureStage(key.key, signature, signingInput), true)) return inspection;

  // Signed by the issuer: from here on a failure is reported and the rest still evaluated.
  const times = timesStage(payload, provider, deps.now);
  record(times.result, false);
  record(claimsStage(claims, identity), false);
  const audience = audienceStage(payload.aud, deps.config.audience, identity ? provider.defaultAudience(identity) : null);
  record(audience.result, false);
  record(jtiStage(payload.jti), false);

  if (claims.success && identity) {
    inspection.token = {
      provider: provider.name,
      issuer: iss,
      issuerTenant: tenant || undefined,
      claims: claims.data,
      identity,
      owner: provider.owner(claims.data, identity),
      defaultAudience: audience.defaultAudience,
      subject: String(claims.data.sub),
      jti: typeof payload.jti === "string" ? payload.jti : undefined,
      issuedAt: times.issuedAt,
      expiresAt: times.expiresAt,
    };
  }
  return inspection;
}

/** A check with the refusal it gives when it fails (made only then: an Error captures a stack). */
type Refusable = [StageCheck, () => StsError];

/** A stage's result from its checks; the first failing check's refusal is the stage's. */
function stage(name: Stage, checks: Refusable[]): StageResult {
  const failed = checks.find(([check]) => !check.pass);
  return { stage: name, checks: checks.map(([check]) => check), ...(failed ? { error: failed[1]() } : {}) };
}

const refuse = (reason: Reason, logDetail?: string) => (): StsError => new StsError(reason, undefined, logDetail);
const rethrow = (error: StsError) => (): StsError => error;

const check = (name: string, expected: unknown, actual: unknown, pass: boolean): StageCheck => ({ check: name, expected, actual, pass });

function formatStage(raw: string): { result: StageResult; decoded?: Decoded } {
  const size = check("size", `at most ${MAX_SUBJECT_TOKEN_BYTES} characters`, raw.length, raw.length <= MAX_SUBJECT_TOKEN_BYTES);
  if (!size.pass) return { result: stage("format", [[size, refuse("subject_token_too_large")]]) };
  const expected = "three canonical base64url segments; header and payload JSON objects";
  try {
    const decoded = decodeCompact(raw);
    return { result: stage("format", [[size, refuse("token_malformed")], [check("jws", expected, "well-formed", true), refuse("token_malformed")]]), decoded };
  } catch (error) {
    if (!(error instanceof StsError)) throw error;
    return { result: stage("format", [[size, rethrow(error)], [check("jws", expected, error.logDetail ?? "malformed", false), rethrow(error)]]) };
  }
}

function headerStage(header: Record<string, unknown>): StageResult {
  const kid = header.kid;
  const forbidden = FORBIDDEN_HEADERS.filter((name) => name in header);
  return stage("header", [
    [check("alg", "RS256", header.alg ?? null, header.alg === "RS256"), refuse("token_algorithm_forbidden")],
    [check("forbidden_headers", `none of ${FORBIDDEN_HEADERS.join(", ")}`, forbidden, forbidden.length === 0), refuse("token_header_forbidden")],
    [
      check("kid", `a string of 1–${MAX_KID_LENGTH} characters`, kid ?? null, typeof kid === "string" && kid.length > 0 && kid.length <= MAX_KID_LENGTH),
      refuse("token_malformed", "kid missing or invalid"),
    ],
  ]);
}

function issuerStage(iss: unknown, issuers: Config["issuers"]): { result: StageResult; found?: { provider: Provider; tenant: string } } {
  const expected = "a supported CI provider's issuer, exactly (per-tenant issuers in lower case)";
  if (typeof iss !== "string") {
    return { result: stage("issuer", [[check("iss", expected, iss ?? null, false), refuse("token_malformed", "iss missing")]]) };
  }
  const found = providerForIssuer(iss, issuers) ?? undefined;
  return { result: stage("issuer", [[check("iss", expected, iss, found !== undefined), refuse("issuer_unknown")]]), found };
}

async function keyStage(issuer: string, kid: string, deps: VerifyDeps, mayFetch: () => Promise<boolean>): Promise<{ result: StageResult; key?: CryptoKey }> {
  const expected = "a key the issuer publishes";
  try {
    const key = await deps.keys.keyFor({
      issuer,
      kid,
      now: deps.now,
      allowInsecure: deps.config.allowInsecureIssuers,
      store: deps.store,
      waitUntil: deps.waitUntil,
      mayFetch,
    });
    return { result: stage("key", [[check("kid", expected, kid, true), refuse("key_unknown")]]), key };
  } catch (error) {
    if (!(error instanceof StsError)) throw error;
    return { result: stage("key", [[check("kid", expected, kid, false), rethrow(error)]]) };
  }
}

async function signatureStage(key: CryptoKey, signature: Uint8Array<ArrayBuffer>, signingInput: Uint8Array<ArrayBuffer>): Promise<StageResult> {
  const valid = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, signingInput);
  return stage("signature", [[check("rs256", "valid", valid ? "valid" : "invalid", valid), refuse("signature_invalid")]]);
}

const isTime = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** RFC 7519 §4.1.4–4.1.6 with a 60 s tolerance, plus the provider's age and lifetime caps. */
function timesStage(payload: Claims, provider: Provider, now: number): { result: StageResult; issuedAt: number; expiresAt: number } {
  const { exp, iat, nbf } = payload;
  if (!isTime(exp) || !isTime(iat) || (nbf !== undefined && !isTime(nbf))) {
    const types = check("types", "exp and iat (and nbf when present) are whole non-negative seconds", { exp: exp ?? null, iat: iat ?? null, nbf: nbf ?? null }, false);
    return { result: stage("times", [[types, refuse("claims_invalid", "exp/iat/nbf")]]), issuedAt: 0, expiresAt: 0 };
  }
  const t = CLOCK_TOLERANCE_SECONDS;
  const checks: Refusable[] = [
    [check("exp", `after ${now - t} (now, less ${t} s of clock tolerance)`, exp, exp + t > now), refuse("token_expired")],
    [check("iat", `at or before ${now + t} (now, plus ${t} s of clock tolerance)`, iat, iat - t <= now), refuse("token_issued_in_future")],
  ];
  if (nbf !== undefined) {
    checks.push([check("nbf", `at or before ${now + t} (now, plus ${t} s of clock tolerance)`, nbf, nbf - t <= now), refuse("token_not_yet_valid")]);
  }
  const lifetime = exp - iat;
  checks.push(
    [check("exp_after_iat", "exp later than iat", lifetime, lifetime > 0), refuse("claims_invalid", "exp not after iat")],
    [check("lifetime", `at most ${provider.maxLifetimeSeconds} s (exp − iat)`, lifetime, lifetime <= provider.maxLifetimeSeconds), refuse("token_lifetime_too_long")],
    [check("age", `at most ${provider.maxAgeSeconds} s (now − iat)`, now - iat, now - iat <= provider.maxAgeSeconds), refuse("token_too_old")],
  );
  return { result: stage("times", checks), issuedAt: iat, expiresAt: exp };
}

function claimsStage(claims: ReturnType<Provider["claims"]["safeParse"]>, identity: JobIdentity | null): StageResult {
  const expected = "every claim this provider always issues, with its type";
  if (!claims.success) {
    const paths = claims.error.issues.map((i) => i.path.join("."));
    return stage("claims", [[check("required_claims", expected, { invalid: paths }, false), refuse("claims_invalid", paths.join(","))]]);
  }
  return stage("claims", [
    [check("required_claims", expected, "present", true), refuse("claims_invalid")],
    [
      check("identity", "claims naming one job identity (e.g. CircleCI's org-id agreeing with iss)", identity?.lookupKey ?? "inconsistent", identity !== null),
      refuse("claims_invalid", "inconsistent identity claims"),
    ],
  ]);
}

/**
 * `aud` must be one value (a string or a one-element array): ours, or the provider's default
 * audience, which only relationships that opt in admit (`defaultAudience` says it was that).
 */
function audienceStage(aud: unknown, ours: string, providerDefault: string | null): { result: StageResult; defaultAudience: boolean } {
  const single = Array.isArray(aud) && aud.length === 1 ? aud[0] : aud;
  const defaultAudience = single !== ours && typeof single === "string" && single === providerDefault;
  const expected = providerDefault === null ? ours : [ours, providerDefault];
  const pass = single === ours || defaultAudience;
  return { result: stage("audience", [[check("aud", expected, aud ?? null, pass), refuse("audience_mismatch")]]), defaultAudience };
}

function jtiStage(jti: unknown): StageResult {
  const valid = jti === undefined || (typeof jti === "string" && jti.length > 0 && jti.length <= MAX_JTI_LENGTH);
  return stage("replay", [[check("jti", `absent, or a string of 1–${MAX_JTI_LENGTH} characters`, jti ?? null, valid), refuse("claims_invalid", "jti")]]);
}

/** The replay record of a token with a `jti`: kept until it expires, plus the clock tolerance. */
export function replayRecord(token: VerifiedToken): { key: string; expiresAt: number } | undefined {
  return token.jti ? { key: `${token.issuer}#${token.jti}`, expiresAt: token.expiresAt + CLOCK_TOLERANCE_SECONDS } : undefined;
}

/** The replay stage's last check: was this `jti` exchanged before? (The exchange learns it from its insert, explain from a read.) */
export function unusedCheck(token: VerifiedToken, usedBefore: boolean): StageCheck {
  const actual = token.jti === undefined ? "no jti: reusable until exp" : usedBefore ? "exchanged before" : "not exchanged before";
  return check("unused", "not exchanged before", actual, !usedBefore);
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
  if (parts.length !== 3 || parts.some((p) => p === "")) throw new StsError("token_malformed");
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  const payload = decodeJson(p);
  const signature = segmentBytes(s);
  return { header, payload, signingInput: encoder.encode(`${h}.${p}`) as Uint8Array<ArrayBuffer>, signature };
}

function decodeJson(segment: string): Record<string, unknown> {
  const value = jsonObjectOf(segmentBytes(segment));
  if (!value) throw new StsError("token_malformed");
  return value;
}

function segmentBytes(segment: string): Uint8Array<ArrayBuffer> {
  const bytes = decodeBase64Url(segment);
  if (!bytes) throw new StsError("token_malformed", undefined, "non-canonical base64url");
  return bytes;
}
