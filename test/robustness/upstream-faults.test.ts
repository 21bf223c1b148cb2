/**
 * Faults upstream (issue 4 §1): every fault mode of the fake issuer against every
 * provider's issuer, cold and warm caches, stale keys, recovery, isolation between
 * issuers, refetch storms, rotation, and hostile discovery/JWKS answers that must never
 * become keys. Time is moved with fake `Date` (workerd's own timers stay real, so the
 * 5 s fetch timeout is real).
 */
import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FAILED_FETCH_BACKOFF_SECONDS, JWKS_TIMEOUT_MS, KEYS_STALE_LIMIT_SECONDS, REFETCH_COOLDOWN_SECONDS } from "../../src/providers/key-cache";
import { decodeJwt } from "../support/api";
import { issuerRequests, publicKey, rotateKey, setFault, type Fault } from "../support/issuer";
import { client, expectAccepted, expectError, isolatedIssuers, PROVIDERS, seedJob, type Job } from "./support";

const FAULTS: Fault[] = ["down", "hang", "html", "empty-object", "empty-keys", "huge", "redirect", "wrong-issuer", "foreign-jwks-uri", "throw"];

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** Freezes `Date` at now + `seconds` (cumulative from the first call in a test). */
function clock() {
  const start = Date.now();
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(start);
  return { advance: (seconds: number) => vi.setSystemTime(Date.now() + seconds * 1000) };
}

async function expectUnavailable(response: Response) {
  await expectError(response, 503, "temporarily_unavailable");
  const retryAfter = Number(response.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(10);
  return retryAfter;
}

/** A job of `provider` on issuers no other test uses; the worker client does not wait for background work. */
async function isolatedJob(provider: (typeof PROVIDERS)[number], label: string) {
  const issuers = isolatedIssuers(label);
  const api = client(issuers, { settle: false });
  const job = await seedJob(client(issuers), provider, issuers);
  return { api, job, settled: client(issuers) };
}

describe("cold cache: no keys ever fetched", () => {
  it("answers 503 temporarily_unavailable with Retry-After ≤ 10 for every fault of every provider's issuer", async () => {
    const cases = PROVIDERS.flatMap((provider) => FAULTS.map((fault) => ({ provider, fault })));
    const outcomes = await Promise.all(
      cases.map(async ({ provider, fault }) => {
        const { api, job } = await isolatedJob(provider, `cold-${fault}`);
        await setFault(job.issuer, fault);
        const token = await job.token();
        const started = Date.now();
        const response = await api.exchange(token);
        const tookMs = Date.now() - started;
        const body = (await response.json()) as { error?: string };
        return { provider, fault, status: response.status, error: body.error, retryAfter: Number(response.headers.get("retry-after")), tookMs };
      }),
    );
    for (const o of outcomes) expect(o, `${o.provider}/${o.fault}`).toMatchObject({ status: 503, error: "temporarily_unavailable" });
    for (const o of outcomes) expect(o.retryAfter).toBeGreaterThan(0);
    for (const o of outcomes) expect(o.retryAfter).toBeLessThanOrEqual(10);
    // A hanging issuer costs one fetch timeout (5 s), not the request's whole life.
    for (const o of outcomes) expect(o.tookMs, `${o.provider}/${o.fault}`).toBeLessThan(JWKS_TIMEOUT_MS + 4_000);
  }, 40_000);

  it.each(PROVIDERS)("recovers once the %s issuer is back, within the Retry-After it announced", async (provider) => {
    const { api, job } = await isolatedJob(provider, "recover");
    const time = clock();
    await setFault(job.issuer, "down");
    const retryAfter = await expectUnavailable(await api.exchange(await job.token()));
    const requestsWhileDown = await issuerRequests(job.issuer);
    // Back up, but inside the backoff: still refused, and the issuer is not hammered.
    await setFault(job.issuer, "ok");
    time.advance(1);
    await expectUnavailable(await api.exchange(await job.token()));
    expect(await issuerRequests(job.issuer)).toBe(requestsWhileDown);
    // A client that honours Retry-After gets through.
    expect(FAILED_FETCH_BACKOFF_SECONDS).toBeLessThanOrEqual(retryAfter);
    time.advance(retryAfter - 1);
    await expectAccepted(await api.exchange(await job.token()));
  });
});

describe("warm cache: keys fetched before the fault", () => {
  it("keeps accepting known keys under every fault of every provider's issuer, and never replaces them with what a faulty refetch serves", async () => {
    const time = clock();
    const jobs = await Promise.all(
      PROVIDERS.flatMap((provider) =>
        FAULTS.map(async (fault) => {
          const { api, job } = await isolatedJob(provider, `warm-${fault}`);
          await expectAccepted(await api.exchange(await job.token()));
          await setFault(job.issuer, fault);
          return { api, job, fault };
        }),
      ),
    );
    // Fresh keys: a known kid is served from the cache, the issuer is not contacted.
    const warm = await Promise.all(
      jobs.map(async ({ api, job, fault }) => {
        const before = await issuerRequests(job.issuer);
        const response = await api.exchange(await job.token());
        return { id: `${job.provider}/${fault}`, status: response.status, contacted: (await issuerRequests(job.issuer)) - before };
      }),
    );
    for (const o of warm) expect(o).toEqual({ id: o.id, status: 200, contacted: 0 });
    // After the cooldown an unknown kid makes the cache refetch; the faulty answer must
    // not become the key set, so the known kid keeps working. The unknown kid may be a real
    // rotation that the faulty issuer cannot confirm: retryable (503), never 400.
    time.advance(REFETCH_COOLDOWN_SECONDS + 1);
    const refetched = await Promise.all(
      jobs.map(async ({ api, job, fault }) => {
        const before = await issuerRequests(job.issuer);
        const unknown = await api.exchange(await job.token({}, { kid: `rotated-${crypto.randomUUID()}` }));
        const unknownBody = (await unknown.json()) as { error?: string };
        const retryAfter = Number(unknown.headers.get("retry-after"));
        const contacted = (await issuerRequests(job.issuer)) - before;
        const known = await api.exchange(await job.token());
        return {
          id: `${job.provider}/${fault}`,
          unknown: [unknown.status, unknownBody.error],
          retryAfter: retryAfter > 0 && retryAfter <= FAILED_FETCH_BACKOFF_SECONDS,
          refetched: contacted > 0,
          known: known.status,
        };
      }),
    );
    for (const o of refetched) {
      expect(o).toEqual({ id: o.id, unknown: [503, "temporarily_unavailable"], retryAfter: true, refetched: true, known: 200 });
    }
  }, 40_000);
});

describe("stale keys while the issuer is down", () => {
  it.each(PROVIDERS)("keeps accepting %s tokens with keys fetched 23 h ago, and stops after 24 h", async (provider) => {
    const { api, job } = await isolatedJob(provider, "stale");
    const time = clock();
    await expectAccepted(await api.exchange(await job.token()));
    await setFault(job.issuer, "down");
    time.advance(23 * 3600);
    await expectAccepted(await api.exchange(await job.token()));
    time.advance(KEYS_STALE_LIMIT_SECONDS - 23 * 3600 + 1);
    await expectUnavailable(await api.exchange(await job.token()));
    // And when it is back, a fetch after the backoff restores service.
    await setFault(job.issuer, "ok");
    time.advance(FAILED_FETCH_BACKOFF_SECONDS);
    await expectAccepted(await api.exchange(await job.token()));
  });

  it("serves a fresh isolate from keys persisted in D1 23 h ago while the issuer is down, but not from a 25 h old copy", async () => {
    for (const [age, accepted] of [
      [23 * 3600, true],
      [25 * 3600, false],
    ] as const) {
      const { api, job } = await isolatedJob("buildkite", `persisted-${age}`);
      const { jwk } = await publicKey(job.issuer);
      const jwks = JSON.stringify({ keys: [{ kty: "RSA", kid: jwk.kid, n: jwk.n, e: jwk.e }] });
      await env.DB.prepare("INSERT INTO issuer_keys (issuer, jwks, fetched_at) VALUES (?, ?, ?)")
        .bind(job.issuer, jwks, Math.floor(Date.now() / 1000) - age)
        .run();
      await setFault(job.issuer, "down");
      const response = await api.exchange(await job.token());
      if (accepted) await expectAccepted(response);
      else await expectUnavailable(response);
    }
  });
});

describe("isolation between issuers", () => {
  it("keeps exchanging for the other providers while any one provider's issuer hangs", async () => {
    const outcomes = await Promise.all(
      PROVIDERS.map(async (down) => {
        const issuers = isolatedIssuers("iso");
        const api = client(issuers, { settle: false });
        const seed = client(issuers);
        const jobs = await Promise.all(PROVIDERS.map((p) => seedJob(seed, p, issuers)));
        const others = jobs.filter((j) => j.provider !== down);
        for (const job of others) await expectAccepted(await api.exchange(await job.token()));
        const hanging = jobs.find((j) => j.provider === down)!;
        await setFault(hanging.issuer, "hang");
        const stuck = api.exchange(await hanging.token());
        const othersStarted = Date.now();
        const statuses = [];
        for (const job of others) statuses.push((await api.exchange(await job.token())).status);
        const othersTook = Date.now() - othersStarted;
        const stuckResponse = await stuck;
        return { down, statuses, othersFast: othersTook < JWKS_TIMEOUT_MS, stuck: stuckResponse.status };
      }),
    );
    for (const o of outcomes) expect(o).toEqual({ down: o.down, statuses: [200, 200, 200], othersFast: true, stuck: 503 });
  }, 30_000);

  it("keeps one CircleCI organization's exchanges going while another organization's issuer is down", async () => {
    const issuers = isolatedIssuers("cci-orgs");
    const api = client(issuers);
    const healthy = await seedJob(api, "circleci", issuers);
    const broken = await seedJob(api, "circleci", issuers);
    expect(healthy.issuer).not.toBe(broken.issuer);
    await setFault(broken.issuer, "down");
    await expectUnavailable(await api.exchange(await broken.token()));
    await expectAccepted(await api.exchange(await healthy.token()));
  });
});

describe("refetch on unknown kid", () => {
  /** Twenty tokens with random kids: each is refused, as unknown (400) or still retryable (503), never accepted. */
  async function storm(job: Job, api: ReturnType<typeof client>, concurrent: boolean) {
    const before = await issuerRequests(job.issuer);
    const tokens = await Promise.all(Array.from({ length: 20 }, () => job.token({}, { kid: `random-${crypto.randomUUID()}` })));
    const responses = concurrent
      ? await Promise.all(tokens.map((t) => api.exchange(t)))
      : await tokens.reduce<Promise<Response[]>>(async (acc, t) => [...(await acc), await api.exchange(t)], Promise.resolve([]));
    for (const r of responses) {
      const status = r.status;
      await expectError(r, status, status === 503 ? "temporarily_unavailable" : "invalid_request");
      expect([400, 503]).toContain(status);
    }
    return (await issuerRequests(job.issuer)) - before;
  }

  it.each(PROVIDERS)("fetches %s keys at most once per cooldown for twenty tokens with random kids", async (provider) => {
    const { job, settled: api } = await isolatedJob(provider, "storm");
    const time = clock();
    await expectAccepted(await api.exchange(await job.token()));
    // Inside the cooldown after the first fetch: no request at all.
    expect(await storm(job, api, false)).toBe(0);
    // After it: one discovery + one JWKS request for twenty tokens, sequential or concurrent.
    time.advance(REFETCH_COOLDOWN_SECONDS);
    expect(await storm(job, api, false)).toBe(2);
    time.advance(REFETCH_COOLDOWN_SECONDS);
    expect(await storm(job, api, true)).toBe(2);
  });
});

describe("key rotation", () => {
  it.each(PROVIDERS)("accepts a rotated %s key no later than one cooldown after the last fetch", async (provider) => {
    const { job, settled: api } = await isolatedJob(provider, "rotate");
    const time = clock();
    await expectAccepted(await api.exchange(await job.token()));
    const { kid } = await rotateKey(job.issuer);
    time.advance(1);
    // Inside the cooldown of the last fetch: retryable, with the seconds left of it.
    const early = await api.exchange(await job.token({}, undefined, kid));
    await expectError(early, 503, "temporarily_unavailable");
    expect(Number(early.headers.get("retry-after"))).toBe(REFETCH_COOLDOWN_SECONDS - 1);
    time.advance(REFETCH_COOLDOWN_SECONDS - 1);
    await expectAccepted(await api.exchange(await job.token({}, undefined, kid)));
  });

  it("accepts a rotated key at first sight when the last fetch is older than the cooldown", async () => {
    const { job, settled: api } = await isolatedJob("github", "rotate-late");
    const time = clock();
    await expectAccepted(await api.exchange(await job.token()));
    time.advance(REFETCH_COOLDOWN_SECONDS + 5);
    const { kid } = await rotateKey(job.issuer, true);
    await expectAccepted(await api.exchange(await job.token({}, undefined, kid)));
  });
});

describe("an unknown kid stays retryable until a key set fetched for it lacks it (issue 8 §4)", () => {
  it.each(PROVIDERS)("accepts a real %s rotation inside the cooldown that a forged kid started, after the Retry-After it announced", async (provider) => {
    const { job, settled: api } = await isolatedJob(provider, "forged-then-real");
    const time = clock();
    await expectAccepted(await api.exchange(await job.token()));
    time.advance(REFETCH_COOLDOWN_SECONDS + 1);
    // A forged kid: one fetch, which lacks it (400), and the cooldown starts.
    await expectError(await api.exchange(await job.token({}, { kid: `forged-${crypto.randomUUID()}` })), 400, "invalid_request");
    const fetched = await issuerRequests(job.issuer);
    // The CI rotates; its first job with the new kid arrives 10 s into the cooldown.
    const { kid } = await rotateKey(job.issuer);
    time.advance(10);
    const real = await job.token({}, undefined, kid);
    const early = await api.exchange(real);
    await expectError(early, 503, "temporarily_unavailable");
    const retryAfter = Number(early.headers.get("retry-after"));
    expect(retryAfter).toBe(REFETCH_COOLDOWN_SECONDS - 10);
    expect(await issuerRequests(job.issuer)).toBe(fetched);
    time.advance(retryAfter);
    // The same token: a 503 spends nothing.
    await expectAccepted(await api.exchange(real));
  });

  it.each(["down", "html", "empty-keys", "wrong-issuer", "hang"] as const)(
    "answers 503 with Retry-After, not 400, to a new kid while the issuer is %s, and accepts it once the issuer is back",
    async (fault) => {
      const { job, settled: api } = await isolatedJob("github", `newkid-${fault}`);
      const time = clock();
      await expectAccepted(await api.exchange(await job.token()));
      const { kid } = await rotateKey(job.issuer, true);
      await setFault(job.issuer, fault);
      time.advance(REFETCH_COOLDOWN_SECONDS);
      const response = await api.exchange(await job.token({}, undefined, kid));
      const retryAfter = await expectUnavailable(response);
      expect(retryAfter).toBeLessThanOrEqual(FAILED_FETCH_BACKOFF_SECONDS);
      // Still down at the next attempt: still retryable.
      time.advance(retryAfter);
      await expectUnavailable(await api.exchange(await job.token({}, undefined, kid)));
      await setFault(job.issuer, "ok");
      time.advance(FAILED_FETCH_BACKOFF_SECONDS);
      await expectAccepted(await api.exchange(await job.token({}, undefined, kid)));
    },
    20_000,
  );

  it("answers 503 to a new kid while persisted keys serve a fresh isolate and the issuer is down", async () => {
    const { job, settled: api } = await isolatedJob("buildkite", "persisted-newkid");
    const { jwk } = await publicKey(job.issuer);
    await env.DB.prepare("INSERT INTO issuer_keys (issuer, jwks, fetched_at) VALUES (?, ?, ?)")
      .bind(job.issuer, JSON.stringify({ keys: [{ kty: "RSA", kid: jwk.kid, n: jwk.n, e: jwk.e }] }), Math.floor(Date.now() / 1000) - 60)
      .run();
    const { kid } = await rotateKey(job.issuer, true);
    await setFault(job.issuer, "down");
    await expectUnavailable(await api.exchange(await job.token({}, undefined, kid)));
    await expectAccepted(await api.exchange(await job.token({}, undefined, jwk.kid)));
  });

  it("refuses a forged kid with 400 once a fetch made for it lacks it, and then without fetching again inside the cooldown", async () => {
    const { job, settled: api } = await isolatedJob("rwx", "forged");
    const time = clock();
    await expectAccepted(await api.exchange(await job.token()));
    const forged = await job.token({}, { kid: `forged-${crypto.randomUUID()}` });
    // Inside the cooldown of the last fetch: retryable, no request.
    const before = await issuerRequests(job.issuer);
    const early = await api.exchange(forged);
    await expectError(early, 503, "temporarily_unavailable");
    expect(Number(early.headers.get("retry-after"))).toBe(REFETCH_COOLDOWN_SECONDS);
    expect(await issuerRequests(job.issuer)).toBe(before);
    time.advance(REFETCH_COOLDOWN_SECONDS);
    await expectError(await api.exchange(forged), 400, "invalid_request");
    expect(await issuerRequests(job.issuer)).toBe(before + 2);
    time.advance(5);
    await expectError(await api.exchange(forged), 400, "invalid_request");
    expect(await issuerRequests(job.issuer)).toBe(before + 2);
  });

  it("makes at most one fetch per cooldown for a flood of forged kids, each answered 503 or 400", async () => {
    const { job, settled: api } = await isolatedJob("circleci", "flood");
    const time = clock();
    await expectAccepted(await api.exchange(await job.token()));
    const before = await issuerRequests(job.issuer);
    for (let round = 0; round < 3; round++) {
      const responses = await Promise.all(
        Array.from({ length: 30 }, async () => api.exchange(await job.token({}, { kid: `forged-${crypto.randomUUID()}` }))),
      );
      for (const r of responses) expect([400, 503]).toContain(r.status);
      time.advance(REFETCH_COOLDOWN_SECONDS);
    }
    // Round 1 is inside the first fetch's cooldown; rounds 2 and 3 one fetch each (discovery + JWKS).
    expect(await issuerRequests(job.issuer)).toBeLessThanOrEqual(before + 4);
  });
});

/**
 * Hostile upstream answers that carry *usable* keys, so only the verifier's rules stand
 * between them and acceptance: the fake issuer's own fault modes serve nothing usable,
 * which would let these tests pass even without the rules.
 */
describe("hostile discovery and JWKS answers never become keys", () => {
  const realFetch = globalThis.fetch;

  async function attackerKey() {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { modulusLength: 2048 });
    const kid = `attacker-${crypto.randomUUID()}`;
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
    return { kid, jwk, sign: (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid }).sign(privateKey as JoseKey) };
  }

  /** Serves `routes` (exact URL → response) at the network edge; everything else goes to the fake issuer. */
  function upstream(routes: Record<string, () => Response>) {
    const served: string[] = [];
    vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = input instanceof Request ? input.url : String(input);
      const route = routes[url];
      if (route) {
        served.push(url);
        return route();
      }
      return realFetch(input, init);
    });
    return served;
  }

  /** A job on a fresh issuer whose tokens are signed by the attacker's key instead. */
  async function attackedJob(label: string) {
    const { job, settled: api } = await isolatedJob("buildkite", label);
    const attacker = await attackerKey();
    const claims = decodeJwt(await job.token());
    const forged = await attacker.sign({ ...claims, jti: crypto.randomUUID() });
    return { api, job, attacker, forged };
  }

  const discovery = (issuer: string, jwksUri: string) => () => Response.json({ issuer, jwks_uri: jwksUri });

  it("does not follow a redirect from the JWKS URL to attacker keys", async () => {
    const { api, job, attacker, forged } = await attackedJob("redir");
    const served = upstream({
      [`${job.issuer}/.well-known/openid-configuration`]: discovery(job.issuer, `${job.issuer}/.well-known/jwks`),
      [`${job.issuer}/.well-known/jwks`]: () => new Response(null, { status: 302, headers: { location: `${job.issuer}/keys-elsewhere` } }),
      [`${job.issuer}/keys-elsewhere`]: () => Response.json({ keys: [attacker.jwk] }),
    });
    await expectUnavailable(await api.exchange(forged));
    expect(served).not.toContain(`${job.issuer}/keys-elsewhere`);
  });

  it("does not follow a redirect of the discovery document", async () => {
    const { api, job, attacker, forged } = await attackedJob("redir-disc");
    const served = upstream({
      [`${job.issuer}/.well-known/openid-configuration`]: () => new Response(null, { status: 301, headers: { location: "https://attacker.example/.well-known/openid-configuration" } }),
      ["https://attacker.example/.well-known/openid-configuration"]: discovery(job.issuer, "https://attacker.example/jwks"),
      ["https://attacker.example/jwks"]: () => Response.json({ keys: [attacker.jwk] }),
    });
    await expectUnavailable(await api.exchange(forged));
    expect(served).toEqual([`${job.issuer}/.well-known/openid-configuration`]);
  });

  it("refuses a jwks_uri on another origin even when it serves usable keys", async () => {
    const { api, job, attacker, forged } = await attackedJob("foreign");
    const served = upstream({
      [`${job.issuer}/.well-known/openid-configuration`]: discovery(job.issuer, "https://attacker.example/.well-known/jwks"),
      ["https://attacker.example/.well-known/jwks"]: () => Response.json({ keys: [attacker.jwk] }),
    });
    await expectUnavailable(await api.exchange(forged));
    expect(served).not.toContain("https://attacker.example/.well-known/jwks");
  });

  it("refuses a discovery document that names another issuer even when its JWKS is usable", async () => {
    const { api, job, attacker, forged } = await attackedJob("wrong-iss");
    upstream({
      [`${job.issuer}/.well-known/openid-configuration`]: discovery(`${job.issuer}/other`, `${job.issuer}/.well-known/jwks`),
      [`${job.issuer}/.well-known/jwks`]: () => Response.json({ keys: [attacker.jwk] }),
    });
    await expectUnavailable(await api.exchange(forged));
  });

  it("refuses a JWKS over 64 KiB even when its keys are usable", async () => {
    const { api, job } = await attackedJob("huge");
    const { jwk } = await publicKey(job.issuer);
    const body = JSON.stringify({ keys: [jwk], pad: "x".repeat(70 * 1024) });
    upstream({
      [`${job.issuer}/.well-known/openid-configuration`]: discovery(job.issuer, `${job.issuer}/.well-known/jwks`),
      // Streamed, so no Content-Length announces the size: the cap must hold while reading.
      [`${job.issuer}/.well-known/jwks`]: () => new Response(new Blob([body]).stream(), { headers: { "content-type": "application/json" } }),
    });
    await expectUnavailable(await api.exchange(await job.token()));
  });

  it("ignores keys that are private, symmetric, for another algorithm or too short", async () => {
    const { api, job } = await attackedJob("bad-keys");
    const { jwk } = await publicKey(job.issuer);
    // jose refuses to make a 1024-bit key; WebCrypto will.
    const weak = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const weakJwk = { ...((await crypto.subtle.exportKey("jwk", weak.publicKey)) as JsonWebKey), kid: jwk.kid };
    const variants = [
      { ...jwk, d: "AQAB" },
      { kty: "oct", kid: jwk.kid, k: "c2VjcmV0", alg: "HS256" },
      { ...jwk, alg: "RS512" },
      { ...jwk, use: "enc" },
      weakJwk,
    ];
    upstream({
      [`${job.issuer}/.well-known/openid-configuration`]: discovery(job.issuer, `${job.issuer}/.well-known/jwks`),
      [`${job.issuer}/.well-known/jwks`]: () => Response.json({ keys: variants }),
    });
    await expectUnavailable(await api.exchange(await job.token()));
  });

  it("accepts the same upstream answer when it is well-formed (the stub itself works)", async () => {
    const { api, job } = await attackedJob("control");
    const { jwk } = await publicKey(job.issuer);
    const served = upstream({
      [`${job.issuer}/.well-known/openid-configuration`]: discovery(job.issuer, `${job.issuer}/.well-known/jwks`),
      [`${job.issuer}/.well-known/jwks`]: () => Response.json({ keys: [jwk] }),
    });
    await expectAccepted(await api.exchange(await job.token()));
    expect(served).toEqual([`${job.issuer}/.well-known/openid-configuration`, `${job.issuer}/.well-known/jwks`]);
  });
});
