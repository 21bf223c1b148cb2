/**
 * The exchange's budget per job owner (issue 8 §2): verified tokens spend their owner's
 * budget (GitHub owner ID, CircleCI organization, Buildkite organization slug, RWX
 * subject), so one tenant exhausting its own budget leaves every other tenant's jobs on the
 * same CI issuer untouched.
 */
import { describe, expect, it } from "vitest";
import { createProject, createRelationship, decodeJwt } from "../support/api";
import { exchangeWithEnv, expectRefused } from "../support/exchange-forge";
import { buildkiteClaims, circleciClaims, githubClaims, ISSUERS, rwxClaims, signToken, uuid } from "../support/issuer";

/** A stand-in for a Workers rate limiting binding: `budget` requests per key, counted. */
function budgetLimiter(budget: number) {
  const spent = new Map<string, number>();
  const limiter = {
    spent,
    async limit({ key }: { key: string }) {
      const used = (spent.get(key) ?? 0) + 1;
      spent.set(key, used);
      return { success: used <= budget };
    },
  };
  return limiter as typeof limiter & RateLimit;
}

const ownerId = () => String(100_000 + Math.floor(Math.random() * 899_999_999));

/** Jobs of two owners on the same provider issuer, each admitted by its own relationship. */
const owners = {
  async github() {
    const job = async (ownerId: string) => {
      const claims = githubClaims({ repository_owner_id: ownerId });
      const [owner, repository] = String(claims.repository).split("/");
      await createRelationship((await createProject()).projectId, { provider: "github", owner, repository });
      return () => signToken(ISSUERS.github, { ...claims, jti: uuid() });
    };
    const heavyOwner = ownerId();
    // Two repositories of the heavy owner share one budget; the other owner has its own.
    return { heavy: [await job(heavyOwner), await job(heavyOwner)], other: await job(ownerId()), heavyKey: `owner:github:${heavyOwner}` };
  },
  async circleci() {
    const job = async (org: string) => {
      const project = uuid();
      const claims = circleciClaims(org, project);
      await createRelationship((await createProject()).projectId, { provider: "circleci", organization_uuid: org, project_uuid: project });
      return () => signToken(String(claims.iss), { ...claims, "oidc.circleci.com/job-id": uuid() });
    };
    const heavyOrg = uuid();
    return { heavy: [await job(heavyOrg), await job(heavyOrg)], other: await job(uuid()), heavyKey: `owner:circleci:${heavyOrg}` };
  },
  async buildkite() {
    const job = async (org: string, withId: boolean) => {
      const claims = buildkiteClaims({ organization_slug: org, pipeline_slug: `pipe-${uuid().slice(0, 8)}`, ...(withId ? { organization_id: uuid() } : {}) });
      await createRelationship((await createProject()).projectId, { provider: "buildkite", organization_slug: org, pipeline_slug: claims.pipeline_slug });
      return () => signToken(ISSUERS.buildkite, { ...claims, jti: uuid() });
    };
    const heavyOrg = `heavy-${uuid().slice(0, 8)}`;
    // With or without organization_id, the heavy organization's jobs share its slug's budget.
    return { heavy: [await job(heavyOrg, true), await job(heavyOrg, false)], other: await job(`other-${uuid().slice(0, 8)}`, false), heavyKey: `owner:buildkite:${heavyOrg}` };
  },
  async rwx() {
    const job = async (subject: string) => {
      const claims = rwxClaims({ sub: subject });
      await createRelationship((await createProject()).projectId, { provider: "rwx", subject });
      return () => signToken(ISSUERS.rwx, { ...claims, run_id: uuid() });
    };
    const subject = `mint:${uuid()}:heavy`;
    const heavy = await job(subject);
    return { heavy: [heavy, heavy], other: await job(`mint:${uuid()}:other`), heavyKey: `owner:rwx:${subject}` };
  },
};

describe("the exchange's budget per job owner", () => {
  it.each(Object.keys(owners) as (keyof typeof owners)[])(
    "lets one %s owner exhaust its own budget without limiting another owner's jobs on the same issuer",
    async (provider) => {
      const { heavy, other, heavyKey } = await owners[provider]();
      const limiter = budgetLimiter(3);
      const env = { EXCHANGE_OWNER_LIMITER: limiter };
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await exchangeWithEnv(env, await heavy[i % 2]!())).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      await expectRefused(await exchangeWithEnv(env, await heavy[1]!()), "rate_limited");
      // The other owner, same issuer, same limiter: untouched.
      for (let i = 0; i < 3; i++) expect((await exchangeWithEnv(env, await other())).status).toBe(200);
      const keys = [...limiter.spent.keys()];
      expect(keys).toHaveLength(2);
      expect(keys).toContain(heavyKey);
      for (const key of keys) expect(key).toMatch(new RegExp(`^owner:${provider}:`));
    },
  );

  it("spends nothing of the owner's budget for a token that fails verification", async () => {
    const { heavy } = await owners.github();
    const limiter = budgetLimiter(1);
    const [header, payload, signature] = (await heavy[0]!()).split(".");
    for (let i = 0; i < 5; i++) {
      await expectRefused(await exchangeWithEnv({ EXCHANGE_OWNER_LIMITER: limiter }, `${header}.${payload}.${signature!.slice(0, -4)}AAAA`), "signature_invalid");
    }
    expect(limiter.spent.size).toBe(0);
    expect((await exchangeWithEnv({ EXCHANGE_OWNER_LIMITER: limiter }, await heavy[0]!())).status).toBe(200);
  });

  it("keys GitHub by the owner's immutable ID: a renamed owner keeps its budget", async () => {
    const id = ownerId();
    const limiter = budgetLimiter(1);
    const tokens = [];
    for (const name of [`octo-${uuid().slice(0, 8)}`, `renamed-${uuid().slice(0, 8)}`]) {
      const claims = githubClaims({ repository: `${name}/app`, repository_owner: name, repository_owner_id: id });
      await createRelationship((await createProject()).projectId, { provider: "github", owner: name, repository: "app" });
      tokens.push(await signToken(ISSUERS.github, claims));
    }
    expect((await exchangeWithEnv({ EXCHANGE_OWNER_LIMITER: limiter }, tokens[0]!)).status).toBe(200);
    await expectRefused(await exchangeWithEnv({ EXCHANGE_OWNER_LIMITER: limiter }, tokens[1]!), "rate_limited");
    expect([...limiter.spent.keys()]).toEqual([`owner:github:${id}`]);
    expect(decodeJwt(tokens[1]!).repository_owner_id).toBe(id);
  });
});
