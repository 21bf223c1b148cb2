/**
 * The key cache under junk: unverified tokens can name any number of CircleCI
 * per-organization issuers. None may cause a fetch, and the state the cache keeps for
 * them must stay bounded, or a flood of junk grows the isolate until it is recycled.
 */
import { describe, expect, it } from "vitest";
import { StsError } from "../../src/errors";
import { KeyCache, MAX_REMEMBERED_MISSES, type KeyRequest, type KeyStore } from "../../src/providers/key-cache";

/** A key request for a fresh CircleCI org issuer that no relationship names (the fetch gate says no). */
const ungatedRequest = (store: KeyStore): KeyRequest => ({
  issuer: `https://oidc.circleci.com/org/${crypto.randomUUID()}`,
  kid: "k",
  now: 1_800_000_000,
  allowInsecure: false,
  store,
  waitUntil: () => undefined,
  mayFetch: async () => false,
});

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
      const refused = await cache
        .keyFor(ungatedRequest(store))
        .then(() => null, (error: unknown) => error);
      expect(refused).toBeInstanceOf(StsError);
      expect((refused as StsError).reason).toBe("no_trust_relationship");
    }
    expect(cache.fetches).toBe(0);
    expect(loads).toBe(issuers);
    expect(cache.trackedIssuers).toBeLessThanOrEqual(MAX_REMEMBERED_MISSES);
  });

  it("still remembers a miss for a recently seen issuer (one D1 read, not one per token)", async () => {
    const cache = new KeyCache();
    let loads = 0;
    const store: KeyStore = { load: async () => (loads++, null), save: async () => undefined };
    const request = ungatedRequest(store);
    for (let i = 0; i < 5; i++) await cache.keyFor(request).catch(() => undefined);
    expect(loads).toBe(1);
  });
});
