/**
 * Signing-key rotation with zero failures (README "Signing-key rotation"): exchanges, pull
 * tokens, downstream verification and introspection run continuously across the three
 * steps — publish [K0, K1], switch [K1, K0], retire [K1] — with no failure, and the two
 * negative controls show the waits are what prevents failures: switching before the JWKS
 * max-age has passed breaks a caching verifier; retiring before the longest token lifetime
 * breaks introspection of live tokens.
 *
 * How a secret change reaches the fleet: several simulated isolates, each calling the
 * Worker's real fetch handler with its own `env` object. `wrangler secret put` deploys a
 * new version; isolates pick it up one after another, so during a rollout some isolates run
 * with the old value and some with the new. Here isolate i takes the new SIGNING_KEYS
 * `ROLLOUT_STAGGER_S · i` seconds after the step starts, by getting a new env object (as a
 * new isolate would). Module-level caches are shared by the simulated isolates, but each is
 * keyed by its input (the signing-key cache by the raw secret, the parsed config by the env
 * object), so no isolate sees another's secret. Miniflare's `setOptions` was the other way:
 * it swaps every binding at once (no mixed fleet) and runs on workerd's real clock.
 *
 * Time is a fake `Date` (the Worker reads the clock only through `Date`): hours pass
 * instantly and every run is the same sequence of events, ordered by time.
 *
 * Downstream verifiers are resource servers that cache our JWKS for the `max-age` of the
 * response they got (honouring `Cache-Control`), and never refetch early on an unknown
 * `kid`: the strictest realistic behaviour (Envoy's jwt_authn and many gateways do this);
 * a verifier that refetches on an unknown kid would hide a premature switch. Each verifier
 * reaches one isolate (its nearest location) and verifies with 60 s of clock tolerance.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { githubClaims, signToken } from "../support/issuer";
import { isolatedIssuers, type WorkerEnv } from "../robustness/support";

const BASE = "https://sts.test";
const ISS = "https://sts.test";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";

const ISOLATES = 4;
/** Isolate i runs a new secret this many seconds × i after the step starts. */
const ROLLOUT_STAGGER_S = 15;
const ROLLOUT_S = ROLLOUT_STAGGER_S * (ISOLATES - 1);
/** Twelve resource servers, pinned to isolates round-robin, first fetching at 25 s intervals. */
const VERIFIERS = 12;
/** The longest lifetime of a job token (a relationship's token_ttl_seconds maximum); pull tokens live at most 3,600 s. */
const LONGEST_TOKEN_S = 43_200;
/** Clock tolerance of the downstream verifiers (and the step 3 margin). */
const VERIFIER_LEEWAY_S = 60;
/** Exchanges every 10 s near a step, every 5 min otherwise. */
const DENSE_S = 10;
const SPARSE_S = 300;
const DENSE_MARGIN_S = 600;

afterEach(() => vi.useRealTimers());

type Kid = string;
interface Minted {
  token: string;
  kid: Kid;
  kind: "job" | "pull";
  mintedAt: number;
  exp: number;
}
interface Failure {
  at: number;
  check: "exchange" | "pull-token" | "jwks" | "verifier" | "introspection";
  detail: string;
  kid?: Kid;
  exp?: number;
}

async function signingKey(kid: string) {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
}

const kidOf = (jwt: string): Kid => JSON.parse(atob(jwt.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/"))).kid;
const expOf = (jwt: string): number => JSON.parse(atob(jwt.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).exp;

/** The Worker's real fetch handler, as one isolate with its own env, work after the response included. */
async function callIsolate(isolateEnv: WorkerEnv, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${BASE}${path}`, init), isolateEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** A fleet of isolates; a step rolls a new SIGNING_KEYS value out to them one after another. */
class Fleet {
  /** Per isolate: the values it has been given, with the time each took effect, and one env object per value. */
  private readonly history: { from: number; env: WorkerEnv }[][] = [];
  private next = 0;

  constructor(base: Partial<WorkerEnv>, value: string, at: number) {
    for (let i = 0; i < ISOLATES; i++) this.history.push([{ from: at, env: { ...env, ...base, SIGNING_KEYS: value } as WorkerEnv }]);
  }

  /** `wrangler secret put` at `at`: isolate i runs `value` from `at + i · stagger`. Returns when it reached every isolate. */
  rollOut(value: string, at: number): number {
    this.history.forEach((h, i) => h.push({ from: at + i * ROLLOUT_STAGGER_S, env: { ...h[0]!.env, SIGNING_KEYS: value } }));
    return at + ROLLOUT_S;
  }

  envOf(isolate: number, now: number): WorkerEnv {
    const h = this.history[isolate]!;
    return h.filter((v) => v.from <= now).at(-1)!.env;
  }

  /** The next isolate, round-robin: where an anonymous client's request lands. */
  any(now: number): WorkerEnv {
    return this.envOf(this.next++ % ISOLATES, now);
  }
}

/** A resource server validating our tokens against a cached copy of our JWKS. */
class CachingVerifier {
  private cache: { jwks: JSONWebKeySet; keySet: ReturnType<typeof createLocalJWKSet>; staleAt: number } | undefined;
  fetches = 0;

  constructor(
    readonly name: string,
    private readonly isolate: number,
  ) {}

  /**
   * Fetches when the cached copy is stale (RFC 9111 §4.2: fresh while its age is below
   * max-age), never because a kid is unknown, and asks to be woken when the new copy goes
   * stale (a background refresh), so its copy ages on its own schedule like a real one.
   */
  async refreshIfStale(fleet: Fleet, now: number, wakeAt: (at: number) => void): Promise<Failure | null> {
    if (this.cache && now < this.cache.staleAt) return null;
    const response = await callIsolate(fleet.envOf(this.isolate, now), "/.well-known/jwks.json");
    this.fetches++;
    if (response.status !== 200) return { at: now, check: "jwks", detail: `${this.name}: JWKS answered ${response.status}` };
    const cacheControl = response.headers.get("cache-control") ?? "";
    const maxAge = /no-store|no-cache/.test(cacheControl) ? 0 : Number(/max-age=(\d+)/.exec(cacheControl)?.[1] ?? 0);
    const jwks = (await response.json()) as JSONWebKeySet;
    this.cache = { jwks, keySet: createLocalJWKSet(jwks), staleAt: now + maxAge };
    wakeAt(now + Math.max(maxAge, 1));
    return null;
  }

  async verify(fleet: Fleet, minted: Minted, now: number, wakeAt: (at: number) => void): Promise<Failure | null> {
    const failed = await this.refreshIfStale(fleet, now, wakeAt);
    if (failed) return failed;
    try {
      await jwtVerify(minted.token, this.cache!.keySet, {
        issuer: ISS,
        audience: ISS,
        typ: "at+jwt",
        algorithms: ["ES256", "EdDSA"],
        clockTolerance: VERIFIER_LEEWAY_S,
        currentDate: new Date(now * 1000),
      });
      return null;
    } catch (error) {
      const cached = (this.cache!.jwks.keys ?? []).map((k) => k.kid).join(",");
      return { at: now, check: "verifier", detail: `${this.name} (cached kids [${cached}]): ${(error as Error).message}`, kid: minted.kid, exp: minted.exp };
    }
  }
}

interface Plan {
  /** Seconds after publish reached every isolate before the switch starts (the rule: ≥ the JWKS max-age). */
  switchAfterS: number;
  /** Seconds after the switch reached every isolate before the retirement starts (the rule: ≥ longest lifetime + leeway). */
  retireAfterS: number;
  /** Stop this many seconds after the given step reached every isolate. */
  stopAfter: { step: "switch" | "retire"; seconds: number };
}

interface Outcome {
  failures: Failure[];
  maxAgeS: number;
  kids: [Kid, Kid];
  steps: { publish: [number, number]; switch: [number, number]; retire?: [number, number] };
  counts: { exchanges: number; pullTokens: number; verifications: number; introspections: number; jwksFetches: number };
  /** Kids that signed tokens while each rollout was in progress (both, when isolates disagreed). */
  signedDuring: { publish: Set<Kid>; switch: Set<Kid>; retire: Set<Kid> };
}

/** One rotation, event by event on a fake clock, with every check recorded rather than asserted. */
async function runRotation(plan: Plan): Promise<Outcome> {
  const [k0, k1] = [await signingKey(`k0-${crypto.randomUUID().slice(0, 8)}`), await signingKey(`k1-${crypto.randomUUID().slice(0, 8)}`)];
  const values = { current: JSON.stringify([k0]), published: JSON.stringify([k0, k1]), switched: JSON.stringify([k1, k0]), retired: JSON.stringify([k1]) };
  const issuers = isolatedIssuers("rotation");
  // A client network of its own, so this file never shares a rate-limit budget with another.
  const clientIp = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

  // Seed (real time): one project, a 12 h relationship and a 1 h one, for two repositories.
  const t0 = Math.floor(Date.now() / 1000);
  const fleet = new Fleet(issuers, values.current, t0);
  const seedEnv = fleet.envOf(0, t0);
  const adminCall = async (method: string, path: string, body: unknown) => {
    const response = await callIsolate(seedEnv, path, { method, headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(response.status, await response.clone().text()).toBe(201);
    return (await response.json()) as { id: string };
  };
  const org = await adminCall("POST", "/v1/orgs", { name: "rotation" });
  const project = await adminCall("POST", `/v1/orgs/${org.id}/projects`, { name: "rotation" });
  const jobs = [LONGEST_TOKEN_S, 3600].map((ttl) => {
    const claims = githubClaims({ iss: issuers.GITHUB_ISSUER });
    return { ttl, claims };
  });
  for (const job of jobs) {
    const [owner, repository] = String(job.claims.repository).split("/");
    await adminCall("POST", `/v1/projects/${project.id}/trust-relationships`, { provider: "github", owner, repository, token_ttl_seconds: job.ttl });
  }
  const maxAgeResponse = await callIsolate(seedEnv, "/.well-known/jwks.json");
  const maxAgeS = Number(/max-age=(\d+)/.exec(maxAgeResponse.headers.get("cache-control") ?? "")?.[1]);
  expect(maxAgeS).toBeGreaterThan(0);

  vi.useFakeTimers({ toFake: ["Date"] });
  const setNow = (s: number) => vi.setSystemTime(s * 1000);

  // The timetable: each step starts when the rule (or the plan) allows, and takes ROLLOUT_S to reach every isolate.
  const publishAt = t0 + 900;
  const publishDone = fleet.rollOut(values.published, publishAt);
  const switchAt = publishDone + plan.switchAfterS;
  const switchDone = fleet.rollOut(values.switched, switchAt);
  const retireAt = switchDone + plan.retireAfterS;
  const retireDone = fleet.rollOut(values.retired, retireAt);
  const end = plan.stopAfter.step === "switch" ? switchDone + plan.stopAfter.seconds : retireDone + plan.stopAfter.seconds;
  const windows = [[publishAt, publishDone], [switchAt, switchDone], [retireAt, retireDone]] as const;
  const dense = (t: number) => windows.some(([a, b]) => t >= a - DENSE_MARGIN_S && t <= b + DENSE_MARGIN_S);
  const during = (t: number, [a, b]: readonly [number, number]) => t >= a && t <= b;

  const failures: Failure[] = [];
  const counts = { exchanges: 0, pullTokens: 0, verifications: 0, introspections: 0, jwksFetches: 0 };
  const signedDuring = { publish: new Set<Kid>(), switch: new Set<Kid>(), retire: new Set<Kid>() };
  const live: Minted[] = [];
  const verifiers = Array.from({ length: VERIFIERS }, (_, i) => new CachingVerifier(`verifier ${i} (isolate ${i % ISOLATES})`, i % ISOLATES));
  let rotating = 0;
  let exchangesSoFar = 0;

  // Events in time order (ties in the order they were scheduled); handlers may schedule more.
  type Event = { at: number; run: (now: number) => Promise<void> };
  const queue: Event[] = [];
  const schedule = (at: number, run: Event["run"]) => {
    const event = { at, run };
    let i = queue.length;
    while (i > 0 && queue[i - 1]!.at > at) i--;
    queue.splice(i, 0, event);
  };
  // A verifier's background refresh: woken when its copy goes stale, it fetches (if nothing did meanwhile).
  const wakeAt = (v: CachingVerifier) => (at: number) => schedule(at, (now) => refresh(v, now));
  const refresh = async (v: CachingVerifier, now: number) => {
    const failed = await v.refreshIfStale(fleet, now, wakeAt(v));
    if (failed) failures.push(failed);
  };
  // First fetches staggered over one max-age, so at any moment some verifier's copy is fresh from its isolate.
  verifiers.forEach((v, i) => schedule(t0 + Math.floor((i * maxAgeS) / VERIFIERS), (now) => refresh(v, now)));

  const introspect = async (minted: Minted, now: number) => {
    const response = await callIsolate(fleet.any(now), "/introspect", {
      method: "POST",
      headers: { authorization: `Bearer ${env.INTROSPECTION_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: minted.token }),
    });
    counts.introspections++;
    const body = (await response.json()) as { active?: boolean };
    if (response.status !== 200 || body.active !== true) {
      failures.push({ at: now, check: "introspection", detail: `${minted.kind} token signed by ${minted.kid}, ${minted.exp - now} s before exp: ${response.status} ${JSON.stringify(body)}`, kid: minted.kid, exp: minted.exp });
    }
  };

  const tick = async (now: number) => {
    // A CI job exchanges its ID token at whichever isolate its request reaches.
    const job = jobs[exchangesSoFar++ % jobs.length]!;
    const idToken = await signToken(String(issuers.GITHUB_ISSUER), { ...job.claims, jti: crypto.randomUUID(), iat: now, nbf: now - 600, exp: now + 300 });
    const response = await callIsolate(fleet.any(now), "/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": clientIp },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: idToken, subject_token_type: ID_TOKEN, audience: project.id }),
    });
    counts.exchanges++;
    if (response.status !== 200) {
      failures.push({ at: now, check: "exchange", detail: `${response.status} ${await response.text()}` });
      return;
    }
    const jobToken = ((await response.json()) as { access_token: string }).access_token;
    const fresh: Minted[] = [{ token: jobToken, kid: kidOf(jobToken), kind: "job", mintedAt: now, exp: expOf(jobToken) }];
    // Every third job also asks for a pull token, with its job token, at some isolate.
    if (counts.exchanges % 3 === 0) {
      const pull = await callIsolate(fleet.any(now), `/v1/projects/${project.id}/pull-tokens`, { method: "POST", headers: { authorization: `Bearer ${jobToken}` } });
      counts.pullTokens++;
      if (pull.status !== 201) failures.push({ at: now, check: "pull-token", detail: `${pull.status} ${await pull.text()}`, kid: fresh[0]!.kid });
      else {
        const { token } = (await pull.json()) as { token: string };
        fresh.push({ token, kid: kidOf(token), kind: "pull", mintedAt: now, exp: expOf(token) });
      }
    }
    for (const [step, window] of [["publish", windows[0]], ["switch", windows[1]], ["retire", windows[2]]] as const) {
      if (during(now, window)) for (const m of fresh) signedDuring[step].add(m.kid);
    }
    live.push(...fresh);

    // Tokens verifiers still accept (exp + leeway) and tokens introspection must call active (before exp).
    for (let i = live.length - 1; i >= 0; i--) if (now >= live[i]!.exp + VERIFIER_LEEWAY_S) live.splice(i, 1);
    const active = live.filter((m) => now < m.exp);
    const soonest = active.reduce<Minted | undefined>((a, m) => (a === undefined || m.exp < a.exp ? m : a), undefined);
    const older = live.length > 0 ? live[rotating++ % live.length] : undefined;

    // Every resource server sees the new tokens, and one older token each.
    for (const v of verifiers) {
      for (const m of [...fresh, ...(older ? [older] : [])]) {
        counts.verifications++;
        const failed = await v.verify(fleet, m, now, wakeAt(v));
        if (failed) failures.push(failed);
      }
    }
    // Introspection: the new tokens, the live token closest to expiry, and one older token.
    for (const m of new Set([...fresh, ...(soonest ? [soonest] : []), ...(older && now < older.exp ? [older] : [])])) await introspect(m, now);
  };
  // Traffic starts once every verifier has its first copy (else the first request would fetch them all at once).
  for (let t = t0 + maxAgeS; t <= end; t += dense(t) ? DENSE_S : SPARSE_S) schedule(t, tick);
  while (queue.length > 0) {
    const event = queue.shift()!;
    if (event.at > end) break;
    setNow(event.at);
    await event.run(event.at);
  }
  counts.jwksFetches = verifiers.reduce((n, v) => n + v.fetches, 0);
  vi.useRealTimers();
  return {
    failures,
    maxAgeS,
    kids: [k0.kid, k1.kid],
    steps: { publish: [publishAt, publishDone], switch: [switchAt, switchDone], ...(plan.stopAfter.step === "retire" ? { retire: [retireAt, retireDone] as [number, number] } : {}) },
    counts,
    signedDuring,
  };
}

describe("signing-key rotation: publish, switch, retire", () => {
  it("runs exchanges, pull tokens, caching verifiers and introspection across all three steps with zero failures", async () => {
    const outcome = await runRotation({
      switchAfterS: 300, // the JWKS max-age, exactly
      retireAfterS: LONGEST_TOKEN_S + VERIFIER_LEEWAY_S,
      stopAfter: { step: "retire", seconds: 1800 },
    });
    expect(outcome.maxAgeS).toBe(300);
    expect(outcome.failures).toEqual([]);
    const [k0, k1] = outcome.kids;
    // It exercised what matters: mixed fleets, both keys signing mid-switch, tokens of every kind.
    expect(outcome.signedDuring.publish).toEqual(new Set([k0]));
    expect(outcome.signedDuring.switch).toEqual(new Set([k0, k1]));
    expect(outcome.signedDuring.retire).toEqual(new Set([k1]));
    expect(outcome.counts.exchanges).toBeGreaterThan(350);
    expect(outcome.counts.pullTokens).toBeGreaterThan(100);
    expect(outcome.counts.verifications).toBeGreaterThan(10_000);
    expect(outcome.counts.introspections).toBeGreaterThan(1_000);
    expect(outcome.counts.jwksFetches).toBeGreaterThan(VERIFIERS * 100);
  }, 300_000);

  it("negative control: switching the signer before the JWKS max-age has passed fails at a caching verifier", async () => {
    const outcome = await runRotation({ switchAfterS: 150, retireAfterS: LONGEST_TOKEN_S + VERIFIER_LEEWAY_S, stopAfter: { step: "switch", seconds: 600 } });
    const [k0, k1] = outcome.kids;
    expect(outcome.failures.length).toBeGreaterThan(0);
    // Only the verifiers fail, on tokens of the new key, while their cached JWKS is the old one.
    for (const f of outcome.failures) {
      expect(f).toMatchObject({ check: "verifier", kid: k1 });
      expect(f.detail).toContain(`cached kids [${k0}]`);
      expect(f.at).toBeLessThan(outcome.steps.switch[1] + outcome.maxAgeS);
    }
  }, 300_000);

  it("negative control: retiring the old key before the longest token lifetime makes live tokens fail introspection", async () => {
    const outcome = await runRotation({ switchAfterS: 300, retireAfterS: LONGEST_TOKEN_S - 1800, stopAfter: { step: "retire", seconds: 600 } });
    const [k0] = outcome.kids;
    const introspections = outcome.failures.filter((f) => f.check === "introspection");
    expect(introspections.length).toBeGreaterThan(0);
    // Tokens signed by the retired key, refused while still unexpired.
    for (const f of introspections) {
      expect(f.kid).toBe(k0);
      expect(f.exp!).toBeGreaterThan(f.at);
      expect(f.at).toBeGreaterThanOrEqual(outcome.steps.retire![0]);
    }
  }, 300_000);
});
