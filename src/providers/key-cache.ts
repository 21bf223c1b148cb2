/**
 * Provider signing keys: fetched by OIDC discovery, cached per issuer in the isolate and
 * persisted in D1 so a fresh isolate does not refetch while the copy is fresh.
 *
 * Rules (issue 2 §6): refetch on an unknown `kid`, single-flight, at most once per
 * cooldown; when the issuer is down keep the last good keys for up to 24 h; never replace
 * good keys with an empty or invalid set; 5 s timeout, 64 KiB cap, no redirects; https
 * only unless insecure issuers are allowed. It does not decide which issuers are
 * trusted: callers only ever pass an issuer built from configuration.
 */
import { importJWK, type JWK } from "jose";
import { StsError } from "../errors";
import { readCappedText } from "../read-capped";

export const KEYS_FRESH_SECONDS = 600;
export const KEYS_STALE_LIMIT_SECONDS = 24 * 3600;
export const REFETCH_COOLDOWN_SECONDS = 30;
/** After a failed fetch with no usable keys, how long before trying again (≤ Retry-After). */
export const FAILED_FETCH_BACKOFF_SECONDS = 5;
export const JWKS_TIMEOUT_MS = 5000;
export const JWKS_MAX_BYTES = 64 * 1024;
const MAX_KEYS_PER_ISSUER = 32;
/**
 * Issuers remembered as "nothing persisted in D1". Unverified tokens can name any number
 * of CircleCI per-organization issuers, so this memo is bounded (oldest forgotten first;
 * forgetting only costs one D1 read on the next sight).
 */
export const MAX_REMEMBERED_MISSES = 4096;

interface IssuerKeys {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
}

export interface KeyStore {
  load(issuer: string): Promise<{ jwks: string; fetchedAt: number } | null>;
  save(issuer: string, jwks: string, fetchedAt: number): Promise<void>;
}

export interface KeyRequest {
  issuer: string;
  kid: string;
  now: number;
  allowInsecure: boolean;
  store: KeyStore;
  /** Runs work after the response (background refresh, persistence). */
  waitUntil(promise: Promise<unknown>): void;
  /** Asked before contacting an issuer with no cached keys; false means "don't". */
  mayFetch(): Promise<boolean>;
}

type FetchOutcome = IssuerKeys | "failed";

/** Per-isolate cache. One instance lives for the isolate's lifetime. */
export class KeyCache {
  private readonly entries = new Map<string, IssuerKeys>();
  private readonly persistedChecked = new Set<string>();
  private readonly inflight = new Map<string, Promise<FetchOutcome>>();
  private readonly lastAttempt = new Map<string, { at: number; failed: boolean }>();
  /** Counts outbound requests made, for tests and the benchmark. */
  fetches = 0;

  /** How many issuers this cache holds any state for (tests: memory stays bounded under junk). */
  get trackedIssuers(): number {
    return new Set([...this.entries.keys(), ...this.persistedChecked, ...this.lastAttempt.keys()]).size;
  }

  async keyFor(req: KeyRequest): Promise<CryptoKey> {
    const entry = await this.cached(req);
    if (entry && req.now - entry.fetchedAt <= KEYS_STALE_LIMIT_SECONDS) {
      const key = entry.keys.get(req.kid);
      if (key) {
        if (req.now - entry.fetchedAt > KEYS_FRESH_SECONDS && this.mayAttempt(req.issuer, req.now, false)) {
          req.waitUntil(this.refresh(req));
        }
        return key;
      }
      // An unknown kid may be a rotation: refetch, unless one was tried within the cooldown.
      if (!this.mayAttempt(req.issuer, req.now, false)) throw new StsError("key_unknown");
      const outcome = await this.refresh(req);
      if (outcome === "failed") throw new StsError("key_unknown", undefined, "refetch for unknown kid failed");
      return keyOrThrow(outcome, req.kid);
    }
    // Nothing usable cached.
    if (!this.mayAttempt(req.issuer, req.now, true)) throw new StsError("keys_unavailable", undefined, "in backoff");
    if (!(await req.mayFetch())) throw new StsError("no_trust_relationship", undefined, "no relationship names this issuer");
    const outcome = await this.refresh(req);
    if (outcome === "failed") throw new StsError("keys_unavailable");
    return keyOrThrow(outcome, req.kid);
  }

  /** The in-isolate entry, or the persisted copy on first sight of an issuer. */
  private async cached(req: KeyRequest): Promise<IssuerKeys | undefined> {
    const entry = this.entries.get(req.issuer);
    if (entry || this.persistedChecked.has(req.issuer)) return entry;
    const stored = await req.store.load(req.issuer);
    this.persistedChecked.add(req.issuer);
    if (this.persistedChecked.size > MAX_REMEMBERED_MISSES) {
      this.persistedChecked.delete(this.persistedChecked.values().next().value!);
    }
    if (!stored) return undefined;
    const keys = await importKeys(usableKeys(parseJson(stored.jwks)));
    if (!keys) return undefined;
    const loaded = { keys, fetchedAt: stored.fetchedAt };
    // A concurrent fetch may have stored something newer meanwhile.
    const current = this.entries.get(req.issuer);
    if (current && current.fetchedAt >= loaded.fetchedAt) return current;
    this.entries.set(req.issuer, loaded);
    return loaded;
  }

  /**
   * Whether a fetch may start now. With usable keys, one refetch per cooldown; without,
   * retry after a short backoff so recovery follows the issuer's return quickly.
   */
  private mayAttempt(issuer: string, now: number, cold: boolean): boolean {
    if (this.inflight.has(issuer)) return true; // joining a fetch costs nothing
    const last = this.lastAttempt.get(issuer);
    if (!last) return true;
    const wait = cold && last.failed ? FAILED_FETCH_BACKOFF_SECONDS : REFETCH_COOLDOWN_SECONDS;
    return now - last.at >= wait;
  }

  /** Single-flight fetch; on success replaces the entry and persists it. */
  private refresh(req: KeyRequest): Promise<FetchOutcome> {
    const running = this.inflight.get(req.issuer);
    if (running) return running;
    const run = (async (): Promise<FetchOutcome> => {
      const published = await this.fetchJwks(req.issuer, req.allowInsecure).catch(() => []);
      const keys = await importKeys(published);
      this.lastAttempt.set(req.issuer, { at: req.now, failed: !keys });
      if (!keys) return "failed";
      const entry = { keys, fetchedAt: req.now };
      this.entries.set(req.issuer, entry);
      const jwks = JSON.stringify({ keys: published });
      req.waitUntil(req.store.save(req.issuer, jwks, req.now).catch(() => undefined));
      return entry;
    })().finally(() => this.inflight.delete(req.issuer));
    this.inflight.set(req.issuer, run);
    return run;
  }

  /** Discovery, then the JWKS; returns its usable RSA keys (none when anything is off). */
  private async fetchJwks(issuer: string, allowInsecure: boolean): Promise<RsaJwk[]> {
    const signal = AbortSignal.timeout(JWKS_TIMEOUT_MS);
    const origin = new URL(issuer).origin;
    const discovery = await this.getJson(`${issuer}/.well-known/openid-configuration`, allowInsecure, signal);
    if (!isObject(discovery) || discovery.issuer !== issuer || typeof discovery.jwks_uri !== "string") return [];
    let jwksUri: URL;
    try {
      jwksUri = new URL(discovery.jwks_uri);
    } catch {
      return [];
    }
    if (jwksUri.origin !== origin) return [];
    return usableKeys(await this.getJson(jwksUri.href, allowInsecure, signal));
  }

  private async getJson(url: string, allowInsecure: boolean, signal: AbortSignal): Promise<unknown> {
    const protocol = new URL(url).protocol;
    if (protocol !== "https:" && !(allowInsecure && protocol === "http:")) return null;
    this.fetches++;
    const response = await fetch(url, { redirect: "manual", signal, headers: { accept: "application/json" } });
    if (response.status !== 200) {
      await response.body?.cancel();
      return null;
    }
    const read = await readCappedText(response.body, response.headers.get("content-length"), JWKS_MAX_BYTES);
    return read.ok ? parseJson(read.text) : null;
  }
}

function keyOrThrow(entry: IssuerKeys, kid: string): CryptoKey {
  const key = entry.keys.get(kid);
  if (!key) throw new StsError("key_unknown");
  return key;
}

interface RsaJwk {
  kty: "RSA";
  kid: string;
  n: string;
  e: string;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The usable RSA keys of a JWKS document (fetched or persisted), public members only. */
function usableKeys(jwks: unknown): RsaJwk[] {
  if (!isObject(jwks) || !Array.isArray(jwks.keys)) return [];
  return jwks.keys.filter(isUsableRsaKey).slice(0, MAX_KEYS_PER_ISSUER).map(publicRsaMembers);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isUsableRsaKey(key: unknown): key is RsaJwk {
  if (!isObject(key)) return false;
  if (key.kty !== "RSA" || typeof key.kid !== "string" || key.kid.length === 0 || key.kid.length > 256) return false;
  if (typeof key.n !== "string" || typeof key.e !== "string") return false;
  if (key.alg !== undefined && key.alg !== "RS256") return false;
  if (key.use !== undefined && key.use !== "sig") return false;
  // A private member in a published set means a broken issuer; don't use that key.
  return !("d" in key);
}

/** Keeps only the public members we use, so nothing else is stored or imported. */
function publicRsaMembers(key: RsaJwk): RsaJwk {
  return { kty: "RSA", kid: key.kid, n: key.n, e: key.e };
}

/** Imports keys for RS256 only; null if none imports, so an unusable set never replaces a good one. */
async function importKeys(jwks: RsaJwk[]): Promise<Map<string, CryptoKey> | null> {
  const keys = new Map<string, CryptoKey>();
  for (const jwk of jwks) {
    try {
      const key = await importJWK(jwk as JWK, "RS256");
      // RS256 with a key under 2048 bits is not acceptable.
      const { modulusLength } = (key as CryptoKey).algorithm as { modulusLength?: number };
      if ((modulusLength ?? 0) >= 2048) keys.set(jwk.kid, key as CryptoKey);
    } catch {
      // A key that does not import is skipped; the rest of the set still counts.
    }
  }
  return keys.size > 0 ? keys : null;
}
