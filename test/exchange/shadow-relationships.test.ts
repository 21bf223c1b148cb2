/**
 * Shadow relationships (issue 10 §3): `mode: "shadow"` relationships are evaluated on every
 * exchange naming their identity, within the project the exchange is for, and recorded
 * ("would admit" / "would refuse: <check>") on the request's log line, but they never mint,
 * never change the outcome, never pin and never route.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { admin, createOrg, createProject, createRelationship, decodeJwt, exchangeToken, expectError } from "../support/api";
import { meteredDb } from "../support/d1-meter";
import { exchangeWithEnv, expectRefused, replayRecorded } from "../support/exchange-forge";
import { expectExchanged, listedRelationship } from "../support/exchange-seed";
import { githubClaims, ISSUERS, signToken, uuid } from "../support/issuer";

afterEach(() => vi.restoreAllMocks());

/** A GitHub repository's jobs, and a project with relationships on it as given. */
async function repositoryWith(relationships: Record<string, unknown>[]) {
  const claims = githubClaims();
  const [owner, repository] = String(claims.repository).split("/") as [string, string];
  const { orgId, projectId } = await createProject(await createOrg("shadow"));
  const ids: string[] = [];
  for (const r of relationships) ids.push(String((await createRelationship(projectId, { provider: "github", owner, repository, ...r })).id));
  const job = (overrides: Record<string, unknown> = {}) => signToken(ISSUERS.github, { ...claims, jti: uuid(), ...overrides });
  return { claims, owner, repository, orgId, projectId, ids, job };
}

/** The log lines of `POST /token` requests written while `run` ran. */
async function tokenLogLines(run: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.route === "/token");
}

describe("shadow relationships: the mode field", () => {
  it("is enforce by default, shadow when asked, and shown in listings", async () => {
    const { projectId, ids } = await repositoryWith([{}, { mode: "shadow" }, { mode: "enforce" }]);
    expect(await listedRelationship(projectId, ids[0]!)).toMatchObject({ mode: "enforce" });
    expect(await listedRelationship(projectId, ids[1]!)).toMatchObject({ mode: "shadow" });
    expect(await listedRelationship(projectId, ids[2]!)).toMatchObject({ mode: "enforce" });
    const one = (await (await admin("GET", `/v1/projects/${projectId}/trust-relationships/${ids[1]}`)).json()) as Record<string, unknown>;
    expect(one.mode).toBe("shadow");
  });

  it("refuses any other mode with 400 naming the field", async () => {
    const { projectId } = await createProject();
    for (const mode of ["Shadow", "audit", "", 1, null]) {
      const body = await expectError(
        await admin("POST", `/v1/projects/${projectId}/trust-relationships`, { provider: "rwx", subject: "mint:a:b", mode }),
        400,
        "invalid_request",
      );
      expect(body.error_description).toMatch(/^mode: /);
    }
  });
});

describe("shadow relationships never mint", () => {
  it("refuses a token that only a shadow relationship would admit, with audience, spending nothing, and records that it would admit", async () => {
    const { projectId, ids, job, claims } = await repositoryWith([{ mode: "shadow" }]);
    const token = await job();
    const lines = await tokenLogLines(async () => {
      await expectRefused(await exchangeToken(token, { audience: projectId }), "target_invalid");
    });
    expect(await replayRecorded(ISSUERS.github, String(decodeJwt(token).jti))).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 400, reason: "target_invalid", shadow: [{ relationship_id: ids[0], result: "would_admit", reason: null }] });
    // Nor does it pin.
    expect(await listedRelationship(projectId, ids[0]!)).not.toHaveProperty("repository_id");
    expect(claims.repository_id).toBeDefined();
  });

  it("gives, with enforce and shadow relationships, exactly the answer of the enforce one alone, and records the shadow verdict", async () => {
    // The enforce relationship admits main only; the shadow one (older, so it would win a
    // tie if it counted) admits anything and pins nothing.
    const shadowFirst = await repositoryWith([{ mode: "shadow" }, { conditions: { ref: "refs/heads/main" } }]);
    const alone = await repositoryWith([{ conditions: { ref: "refs/heads/main" } }]);
    for (const setup of [shadowFirst, alone]) {
      const main = await expectExchanged(await setup.job(), { audience: setup.projectId });
      expect(decodeJwt(main.access_token).trust_relationship_id).toBe(setup.ids.at(-1));
      await expectRefused(await exchangeToken(await setup.job({ ref: "refs/pull/1/merge", event_name: "pull_request" }), { audience: setup.projectId }), "target_invalid");
      await expectRefused(await exchangeToken(await setup.job({ ref: "refs/pull/1/merge", event_name: "pull_request_target" }), { audience: setup.projectId }), "target_invalid");
    }
    // Only the enforce relationship was pinned.
    expect(await listedRelationship(shadowFirst.projectId, shadowFirst.ids[1]!)).toHaveProperty("repository_id");
    expect(await listedRelationship(shadowFirst.projectId, shadowFirst.ids[0]!)).not.toHaveProperty("repository_id");

    const lines = await tokenLogLines(async () => {
      await expectExchanged(await shadowFirst.job(), { audience: shadowFirst.projectId });
      await exchangeToken(await shadowFirst.job({ event_name: "pull_request_target" }), { audience: shadowFirst.projectId });
    });
    expect(lines.map((l) => [l.status, l.shadow])).toEqual([
      [200, [{ relationship_id: shadowFirst.ids[0], result: "would_admit", reason: null }]],
      [400, [{ relationship_id: shadowFirst.ids[0], result: "would_refuse", reason: "default_denial: event_name" }]],
    ]);
  });

  it("records a tighter shadow relationship's refusal while the looser enforce one mints", async () => {
    const { projectId, ids, job } = await repositoryWith([{}, { mode: "shadow", conditions: { ref: "refs/heads/main", environment: "production" } }]);
    const lines = await tokenLogLines(async () => {
      await expectExchanged(await job({ environment: "staging" }), { audience: projectId });
    });
    expect(lines[0]!.shadow).toEqual([{ relationship_id: ids[1], result: "would_refuse", reason: "conditions: environment" }]);
  });

  it("writes no shadow field when the project has no shadow relationship", async () => {
    const { projectId, job } = await repositoryWith([{}]);
    const lines = await tokenLogLines(async () => {
      await expectExchanged(await job(), { audience: projectId });
    });
    expect(lines[0]).not.toHaveProperty("shadow");
  });

  it("evaluates shadow relationships within the one project read, in the same single round trip", async () => {
    const { projectId, job } = await repositoryWith([{}, { mode: "shadow" }, { mode: "shadow", conditions: { ref: "refs/tags/*" } }]);
    const meter = meteredDb(env.DB);
    await exchangeWithEnv({ DB: meter.db }, await job(), { audience: projectId }); // keys warm, pins stored
    meter.reset();
    expect((await exchangeWithEnv({ DB: meter.db }, await job(), { audience: projectId })).status).toBe(200);
    expect(meter.trips).toHaveLength(1);
  });
});

describe("shadow relationships never route", () => {
  it("does not route a job without audience to a project whose relationships naming it are all shadow", async () => {
    const { job } = await repositoryWith([{ mode: "shadow" }]);
    await expectRefused(await exchangeToken(await job()), "no_trust_relationship");
  });

  it("does not make routing ambiguous: another project's shadow relationship on the repository leaves the job with the enforcing project", async () => {
    const owner = await repositoryWith([{}]);
    const { projectId: watcher } = await createProject(await createOrg("watcher"));
    const shadow = await createRelationship(watcher, { provider: "github", owner: owner.owner, repository: owner.repository, mode: "shadow" });
    const lines = await tokenLogLines(async () => {
      const body = await expectExchanged(await owner.job());
      expect(decodeJwt(body.access_token).project_id).toBe(owner.projectId);
    });
    // The other project's shadow relationship is not even evaluated for this exchange.
    expect(JSON.stringify(lines)).not.toContain(String(shadow.id));
    // An enforce relationship there would have made it ambiguous, as before.
    await createRelationship(watcher, { provider: "github", owner: owner.owner, repository: owner.repository });
    await expectRefused(await exchangeToken(await owner.job()), "target_ambiguous");
  });

  it("keeps routing to two index probes however many shadow relationships other projects hold on the repository", async () => {
    const owner = await repositoryWith([{}]);
    const meter = meteredDb(env.DB);
    await exchangeWithEnv({ DB: meter.db }, await owner.job());
    meter.reset();
    await exchangeWithEnv({ DB: meter.db }, await owner.job());
    const alone = meter.rowsRead();
    const t = Math.floor(Date.now() / 1000);
    const hex = () => uuid().replace(/-/g, "").slice(0, 24);
    const statements: D1PreparedStatement[] = [];
    for (let p = 0; p < 50; p++) {
      const org = `org_${hex()}`;
      const project = `prj_${hex()}`;
      statements.push(env.DB.prepare("INSERT INTO organizations (id, name, created_at) VALUES (?, 'w', ?)").bind(org, t));
      statements.push(env.DB.prepare("INSERT INTO projects (id, org_id, name, created_at) VALUES (?, ?, 'w', ?)").bind(project, org, t));
      for (let r = 0; r < 20; r++) {
        statements.push(
          env.DB.prepare(
            `INSERT INTO trust_relationships (id, project_id, provider, mode, lookup_key, subject, conditions, token_ttl_seconds, created_at)
             VALUES (?, ?, 'github', 'shadow', ?, ?, '{}', 3600, ?)`,
          ).bind(`trl_${hex()}`, project, `${owner.owner}/${owner.repository}`.toLowerCase(), JSON.stringify({ owner: owner.owner, repository: owner.repository }), t),
        );
      }
    }
    for (let i = 0; i < statements.length; i += 500) await env.DB.batch(statements.slice(i, i + 500));
    meter.reset();
    expect((await exchangeWithEnv({ DB: meter.db }, await owner.job())).status).toBe(200);
    expect(meter.trips).toHaveLength(1);
    expect(meter.rowsRead()).toBeLessThanOrEqual(alone + 1);
  }, 60_000);
});
