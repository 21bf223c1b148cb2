/**
 * The key cache under junk and at scale: unverified tokens can name any number of CircleCI
 * per-organization issuers and any number of kids. None may cause a fetch storm, and every
 * piece of state the cache keeps (issuers, persisted-copy misses, kids) must stay bounded,
 * or a flood grows the isolate until it is recycled.
 */
import { exportJWK, generateKeyPair } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { StsError } from "../../src/errors";
import {
  KeyCache,
  MAX_KIDS_SEEN_PER_ISSUER,
  MAX_REMEMBERED_MISSES,
  MAX_TRACKED_ISSUERS,
  REFETCH_COOLDOWN_SECONDS,
  type KeyRequest,
  type KeyStore,
} from "../../src/providers/key-cache";

const NOW = 1_800_000_000;
const noStore: KeyStore = { load: async () => null, save: async () => undefined };

/** A key request for a fresh CircleCI org issuer that no relationship names (the fetch gate says no). */
const ungatedRequest = (store: KeyStore): KeyRequest => ({
  issuer: `https://oidc.circleci.com/org/${crypto.randomUUID()}`,
  kid: "k",
  now: NOW,
  allowInsecure: false,
  store,
  waitUntil: () => undefined,
  mayFetch: async () => false,
});

const reasonOf = (promise: Promise<unknown>) =>
  promise.then(
    () => "accepted",
    (error: unknown) => (error instanceof StsError ? error.reason : String(error)),
  );

/** Every issuer URL serves discovery and one JWKS with `kid` (fetch stubbed at the edge); `gate` holds JWKS answers back. */
async function anyIssuerServes(kid: string) {
  const { publicKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  let release: () => void = () => undefined;
  let held: Promise<void> | undefined;
  const requests: string[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
    const url = String(input instanceof Request ? input.url : input);
    requests.push(url);
    const issuer = url.slice(0, url.indexOf("/.well-known/"));
    if (url.endsWith("/openid-configuration")) return Response.json({ issuer, jwks_uri: `${issuer}/.well-known/jwks` });
    if (held) await held;
    return Response.json({ keys: [jwk] });
  });
  return {
    requests,
    /** Holds JWKS answers until `release()`. */
    hold() {
      held = new Promise((resolve) => (release = resolve));
      return () => {
        held = undefined;
        release();
      };
    },
  };
}

const request = (issuer: string, kid: string, now = NOW, mayFetch = true): KeyRequest => ({
  issuer,
  kid,
  now,
  allowInsecure: false,
  store: noStore,
  waitUntil: () => undefined,
  mayFetch: async () => mayFetch,
});

afterEach(() => vi.unstubAllGlobals());

describe("key cache bounds", () => {
  it("keeps bounded state and fetches nothing for thousands of issuers no relationship names", async () => {
    const cache = new KeyCache();
    let loads = 0;
    const store: KeyStore = {
      load: async () => (loads++, null),
      save: async () => undefined,
    };
    const issuers = MAX_REMEMBERED_MISSES * 2 + 100;
    for (let i = 0; i < issuers; i++) {
      expect(await reasonOf(cache.keyFor(ungatedRequest(store)))).toBe("no_trust_relationship");
    }
    expect(cache.fetches).toBe(0);
    expect(loads).toBe(issuers);
    expect(cache.trackedIssuers).toBeLessThanOrEqual(MAX_REMEMBERED_MISSES);
    // Junk gets no per-issuer state at all, so it cannot evict a real issuer's keys.
    expect(cache.issuerStates).toBe(0);
  });

  it("still remembers a miss for a recently seen issuer (one D1 read, not one per token)", async () => {
    const cache = new KeyCache();
    let loads = 0;
    const store: KeyStore = { load: async () => (loads++, null), save: async () => undefined };
    const request = ungatedRequest(store);
    for (let i = 0; i < 5; i++) await cache.keyFor(request).catch(() => undefined);
    expect(loads).toBe(1);
  });

  it("holds state for at most MAX_TRACKED_ISSUERS issuers, forgetting the least recently used", async () => {
    await anyIssuerServes("k1");
    const cache = new KeyCache();
    const issuers = Array.from({ length: MAX_TRACKED_ISSUERS + 50 }, () => `https://oidc.circleci.com/org/${crypto.randomUUID()}`);
    for (const issuer of issuers) expect(await reasonOf(cache.keyFor(request(issuer, "k1")))).toBe("accepted");
    expect(cache.issuerStates).toBe(MAX_TRACKED_ISSUERS);
    // The most recent are still served from memory; the oldest would be read again.
    const fetches = cache.fetches;
    expect(await reasonOf(cache.keyFor(request(issuers.at(-1)!, "k1")))).toBe("accepted");
    expect(cache.fetches).toBe(fetches);
  }, 60_000);

  it("remembers at most MAX_KIDS_SEEN_PER_ISSUER unknown kids per issuer, whatever the flood", async () => {
    await anyIssuerServes("k1");
    const cache = new KeyCache();
    const issuer = "https://agent.buildkite.com";
    await cache.keyFor(request(issuer, "k1"));
    for (let i = 0; i < 1000; i++) await cache.keyFor(request(issuer, `forged-${i}`)).catch(() => undefined);
    expect(cache.kidsSeen(issuer)).toBeLessThanOrEqual(MAX_KIDS_SEEN_PER_ISSUER);
    // One fetch (the first) inside the cooldown, for a thousand kids.
    expect(cache.fetches).toBe(2);
  });
});

describe("key cache: a key set fetched for a kid", () => {
  it("answers keys_unavailable, not key_unknown, to a kid that joined a fetch begun before it was first seen", async () => {
    const upstream = await anyIssuerServes("k1");
    const cache = new KeyCache();
    const issuer = "https://token.actions.githubusercontent.com";
    const release = upstream.hold();
    const first = reasonOf(cache.keyFor(request(issuer, "forged-a"))); // starts the fetch
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(2)); // the JWKS request is out
    const joined = reasonOf(cache.keyFor(request(issuer, "rotated-b"))); // first seen after the fetch began
    release();
    expect(await first).toBe("key_unknown");
    expect(await joined).toBe("keys_unavailable");
    // Inside the cooldown, the kid the fetch was for stays unknown; the other waits for its own fetch.
    expect(await reasonOf(cache.keyFor(request(issuer, "forged-a", NOW + 1)))).toBe("key_unknown");
    const waiting = await cache.keyFor(request(issuer, "rotated-b", NOW + 1)).catch((e: StsError) => e);
    expect(waiting).toMatchObject({ reason: "keys_unavailable", retryAfter: REFETCH_COOLDOWN_SECONDS - 1 });
    expect(cache.fetches).toBe(2);
    // After the cooldown its own fetch decides.
    expect(await reasonOf(cache.keyFor(request(issuer, "rotated-b", NOW + REFETCH_COOLDOWN_SECONDS)))).toBe("key_unknown");
    expect(cache.fetches).toBe(4);
  });

  it("answers key_unknown to a kid asked for while its own fetch was on the way", async () => {
    const upstream = await anyIssuerServes("k1");
    const cache = new KeyCache();
    const issuer = "https://cloud.rwx.com/mint";
    const release = upstream.hold();
    const both = [reasonOf(cache.keyFor(request(issuer, "x"))), reasonOf(cache.keyFor(request(issuer, "x")))];
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(2));
    release();
    expect(await Promise.all(both)).toEqual(["key_unknown", "key_unknown"]);
  });
});
