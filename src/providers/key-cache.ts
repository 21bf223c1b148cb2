/**
 * Provider signing keys: fetched by OIDC discovery, cached per issuer in the isolate and
 * persisted in D1 so a fresh isolate does not refetch while the copy is fresh.
 *
 * Rules (issue 2 §6, issue 8 §4): refetch on an unknown `kid`, single-flight, at most once
 * per cooldown; when the issuer is down keep the last good keys for up to 24 h; never
 * replace good keys with an empty or invalid set; 5 s timeout, 64 KiB cap, no redirects;
 * https only unless insecure issuers are allowed.
 *
 * An unknown `kid` is refused as unknown (400) only once a key set fetched *for it* — one
 * whose fetch began after the kid was first asked for — lacks it. Until then (the issuer
 * is down or answers garbage, the cooldown holds, or the last fetch began before the kid
 * appeared) it is `keys_unavailable` (503) with the seconds until a fetch may succeed, so a
 * real rotation looks retryable even when forged kids started the cooldown.
 *
 * Every map here is bounded: issuer state (LRU), kids per issuer (oldest first), issuers
 * known to have nothing persisted; in-flight fetches end within the fetch timeout.
 * It does not decide which issuers are trusted: callers only ever pass an issuer built
 * from configuration, and gate the first fetch from a per-tenant issuer (`mayFetch`).
 */
import { StsError } from "../errors";
import { readCappedText } from "../read-capped";
import { isObject } from "../schema";
import { importRs256Jwk } from "../tokens/jws";

export const KEYS_FRESH_SECONDS = 600;
export const KEYS_STALE_LIMIT_SECONDS = 24 * 3600;
export const REFETCH_COOLDOWN_SECONDS = 30;
/** After a failed fetch, how long before trying again (≤ Retry-After). */
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
/**
 * Issuers whose state (keys, last fetch, kids seen) the isolate holds, least recently used
 * forgotten first. Only issuers that passed the fetch gate get state, so this is the number
 * of CircleCI organizations and GitHub enterprises one isolate serves at once; forgetting
 * one costs a D1 read (its persisted keys) on its next exchange.
 */
export const MAX_TRACKED_ISSUERS = 1024;
/**
 * Unknown kids remembered per issuer with the moment they were first asked for (oldest
 * forgotten first). Forgetting one only makes it wait for the next fetch (503, retryable).
 */
export const MAX_KIDS_SEEN_PER_ISSUER = 64;

interface IssuerKeys {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
  /** Order (see `KeyCache.tick`) at which the fetch that produced these keys began. */
  fetchOrder: number;
}

interface IssuerState {
  keys: IssuerKeys | undefined;
  lastAttempt: { at: number; failed: boolean } | undefined;
  /** Unknown kids, with the order at which each was first asked for. */
  kidsSeen: Map<string, number>;
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
  private readonly issuers = new Map<string, IssuerState>();
  private readonly persistedChecked = new Set<string>();
  private readonly inflight = new Map<string, { order: number; outcome: Promise<FetchOutcome> }>();
  /** A counter ordering "kid first asked for" and "fetch began" exactly, whatever the clock says. */
  private tick = 0;
  /** Counts outbound requests made, for tests and the benchmark. */
  fetches = 0;

  /** How many issuers this cache holds any state for (tests: memory stays bounded under junk). */
  get trackedIssuers(): number {
    return new Set([...this.issuers.keys(), ...this.persistedChecked]).size;
  }

  /** How many issuers this cache holds keys or fetch state for (tests: bounded). */
  get issuerStates(): number {
    return this.issuers.size;
  }

  /** How many unknown kids this cache remembers for an issuer (tests: the memo stays bounded). */
  kidsSeen(issuer: string): number {
    return this.issuers.get(issuer)?.kidsSeen.size ?? 0;
  }

  async keyFor(req: KeyRequest): Promise<CryptoKey> {
    const entry = await this.cached(req);
    if (entry && req.now - entry.fetchedAt <= KEYS_STALE_LIMIT_SECONDS) {
      const key = entry.keys.get(req.kid);
      if (key) {
        if (req.now - entry.fetchedAt > KEYS_FRESH_SECONDS && this.mayRefreshInBackground(req)) req.waitUntil(this.refresh(req).outcome);
        return key;
      }
      // An unknown kid may be a rotation: refetch, unless a set fetched for it lacks it.
      const seen = this.noteKid(req);
      if (entry.fetchOrder > seen) throw new StsError("key_unknown");
      return this.fetchFor(req, seen);
    }
    // Nothing usable cached. An issuer gets state only once a fetch from it may start, so
    // junk naming unknown tenants can neither grow the cache nor evict a real issuer.
    if (!this.inflight.has(req.issuer)) {
      const wait = this.retryAfter(req);
      if (wait > 0) throw unavailable(wait, "in backoff");
      if (!(await req.mayFetch())) throw new StsError("no_trust_relationship", undefined, "no relationship names this issuer");
    }
    return this.fetchFor(req, this.noteKid(req));
  }

  /**
   * Fetches (or joins the fetch) for an unknown kid first asked for at `seen`. The kid is
   * unknown (400) only if the set fetched lacks it and that fetch began after `seen`.
   */
  private async fetchFor(req: KeyRequest, seen: number): Promise<CryptoKey> {
    const wait = this.inflight.has(req.issuer) ? 0 : this.retryAfter(req);
    if (wait > 0) throw unavailable(wait, "refetch cooldown");
    const { order, outcome } = this.refresh(req);
    const fetched = await outcome;
    if (fetched === "failed") throw unavailable(this.retryAfter(req), "fetch failed");
    const key = fetched.keys.get(req.kid);
    if (key) return key;
    if (order > seen) throw new StsError("key_unknown");
    throw unavailable(this.retryAfter(req), "joined a fetch begun before this kid was seen");
  }

  /** The order at which this issuer's kid was first asked for (remembered, bounded). */
  private noteKid(req: KeyRequest): number {
    const state = this.state(req.issuer);
    const seen = state.kidsSeen.get(req.kid);
    if (seen !== undefined) return seen;
    const order = ++this.tick;
    state.kidsSeen.set(req.kid, order);
    if (state.kidsSeen.size > MAX_KIDS_SEEN_PER_ISSUER) state.kidsSeen.delete(state.kidsSeen.keys().next().value!);
    return order;
  }

  /** This issuer's state, marked most recently used; the least recently used is forgotten past the bound. */
  private state(issuer: string): IssuerState {
    let state = this.issuers.get(issuer);
    if (state) {
      this.issuers.delete(issuer);
    } else {
      state = { keys: undefined, lastAttempt: undefined, kidsSeen: new Map() };
    }
    this.issuers.set(issuer, state);
    if (this.issuers.size > MAX_TRACKED_ISSUERS) {
      const forgotten = this.issuers.keys().next().value!;
      this.issuers.delete(forgotten);
      this.persistedChecked.delete(forgotten); // so its persisted keys are read again on next sight
    }
    return state;
  }

  /** The in-isolate keys, or the persisted copy on first sight of an issuer. */
  private async cached(req: KeyRequest): Promise<IssuerKeys | undefined> {
    const current = this.issuers.get(req.issuer)?.keys;
    if (current || this.persistedChecked.has(req.issuer)) return current;
    const stored = await req.store.load(req.issuer);
    this.persistedChecked.add(req.issuer);
    if (this.persistedChecked.size > MAX_REMEMBERED_MISSES) {
      this.persistedChecked.delete(this.persistedChecked.values().next().value!);
    }
    if (!stored) return undefined;
    const keys = await importKeys(usableKeys(parseJson(stored.jwks)));
    if (!keys) return undefined;
    // Fetched by another isolate at an unknown moment: for the kids this isolate sees from
    // now on, it is not a set fetched for them.
    const loaded = { keys, fetchedAt: stored.fetchedAt, fetchOrder: ++this.tick };
    const state = this.state(req.issuer);
    // A concurrent fetch may have stored something newer meanwhile.
    if (state.keys && state.keys.fetchedAt >= loaded.fetchedAt) return state.keys;
    state.keys = loaded;
    return loaded;
  }

  /** Seconds until a fetch may start (0: now). After a failure, a short backoff; else the cooldown. */
  private retryAfter(req: KeyRequest): number {
    const last = this.issuers.get(req.issuer)?.lastAttempt;
    if (!last) return 0;
    const wait = last.failed ? FAILED_FETCH_BACKOFF_SECONDS : REFETCH_COOLDOWN_SECONDS;
    return Math.max(0, last.at + wait - req.now);
  }

  /** Known keys past their freshness are refreshed at most once per cooldown. */
  private mayRefreshInBackground(req: KeyRequest): boolean {
    if (this.inflight.has(req.issuer)) return false;
    const last = this.issuers.get(req.issuer)?.lastAttempt;
    return !last || req.now - last.at >= REFETCH_COOLDOWN_SECONDS;
  }

  /** Single-flight fetch; on success replaces the keys and persists them. */
  private refresh(req: KeyRequest): { order: number; outcome: Promise<FetchOutcome> } {
    const running = this.inflight.get(req.issuer);
    if (running) return running;
    const order = ++this.tick;
    const outcome = (async (): Promise<FetchOutcome> => {
      const published = await this.fetchJwks(req.issuer, req.allowInsecure).catch(() => []);
      const keys = await importKeys(published);
      const state = this.state(req.issuer);
      state.lastAttempt = { at: req.now, failed: !keys };
      if (!keys) return "failed";
      const entry = { keys, fetchedAt: req.now, fetchOrder: order };
      state.keys = entry;
      const jwks = JSON.stringify({ keys: published });
      req.waitUntil(req.store.save(req.issuer, jwks, req.now).catch(() => undefined));
      return entry;
    })().finally(() => this.inflight.delete(req.issuer));
    const run = { order, outcome };
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

/** 503 with the seconds after which a retry can succeed (at least 1). */
function unavailable(seconds: number, why: string): StsError {
  return new StsError("keys_unavailable", undefined, why, Math.max(1, Math.ceil(seconds)));
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
      const key = await importRs256Jwk(jwk);
      // RS256 with a key under 2048 bits is not acceptable.
      const { modulusLength } = key.algorithm as { modulusLength?: number };
      if ((modulusLength ?? 0) >= 2048) keys.set(jwk.kid, key);
    } catch {
      // A key that does not import is skipped; the rest of the set still counts.
    }
  }
  return keys.size > 0 ? keys : null;
}

/**
 * The isolate's provider keys, shared by every door that verifies a CI token (the
 * exchange, explain, suggest), so they answer from the same keys and fetch no more often.
 */
export const isolateKeyCache = new KeyCache();
