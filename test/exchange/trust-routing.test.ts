/**
 * Trust routing across tenants (issue 8 §1). Anyone can create a relationship naming any
 * repository; such a relationship must never route another tenant's job, change the outcome
 * of a job that names its project with `audience`, or cost that job rows or round trips.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createOrg, createProject, createRelationship, decodeJwt, exchangeToken } from "../support/api";
import { meteredDb } from "../support/d1-meter";
import { exchangeWithEnv, expectNoEcho, expectRefused, replayRecorded } from "../support/exchange-forge";
import { expectExchanged } from "../support/exchange-seed";
import { githubClaims, ISSUERS, issuerRequests, signToken, uuid } from "../support/issuer";

const hex = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0")).join("");

/** A repository with its owner's relationship (main only) and the owner's jobs on it. */
async function ownersRepository() {
  const push = githubClaims();
  const [owner, repository] = String(push.repository).split("/") as [string, string];
  const { orgId, projectId } = await createProject(await createOrg("owner"));
  await createRelationship(projectId, { provider: "github", owner, repository, conditions: { ref: "refs/heads/main" } });
  const job = (ref: string, event = "push") => signToken(ISSUERS.github, { ...push, jti: uuid(), ref, event_name: event });
  return { owner, repository, orgId, projectId, job, claims: push };
}

/** Another tenant's org and project with a relationship naming the same repository, admitting anything from it. */
async function squatter(owner: string, repository: string, extra: Record<string, unknown> = {}) {
  const { projectId } = await createProject(await createOrg("squatter"));
  await createRelationship(projectId, { provider: "github", owner, repository, ...extra });
  return projectId;
}

/**
 * Stores `projects` foreign projects (in `projects` organizations) with `perProject`
 * relationships each naming `owner/repository`, straight into D1 (the admin API would take
 * minutes for thousands).
 */
async function foreignRelationships(owner: string, repository: string, projects: number, perProject: number, subject: Record<string, unknown> = {}) {
  const t = Math.floor(Date.now() / 1000);
  const statements: D1PreparedStatement[] = [];
  for (let p = 0; p < projects; p++) {
    const org = `org_${hex(12)}`;
    const project = `prj_${hex(12)}`;
    statements.push(env.DB.prepare("INSERT INTO organizations (id, name, created_at) VALUES (?, 'foreign', ?)").bind(org, t));
    statements.push(env.DB.prepare("INSERT INTO projects (id, org_id, name, created_at) VALUES (?, ?, 'foreign', ?)").bind(project, org, t));
    for (let r = 0; r < perProject; r++) {
      statements.push(
        env.DB.prepare(
          `INSERT INTO trust_relationships (id, project_id, provider, lookup_key, issuer_tenant, subject, conditions, description, token_ttl_seconds, created_at)
           VALUES (?, ?, 'github', ?, ?, ?, '{}', '', 3600, ?)`,
        ).bind(`trl_${hex(12)}`, project, `${owner}/${repository}`.toLowerCase(), String(subject.enterprise ?? ""), JSON.stringify({ owner, repository, ...subject }), t - 1000),
      );
    }
  }
  for (let i = 0; i < statements.length; i += 500) await env.DB.batch(statements.slice(i, i + 500));
}

describe("the squatting attack (issue 8 §1)", () => {
  it("never routes the owner's pull-request job to the squatter's project, which admits what the owner's relationship refuses", async () => {
    const { owner, repository, projectId, job } = await ownersRepository();
    // Alone, the owner's relationship refuses a pull request and admits main.
    await expectRefused(await exchangeToken(await job("refs/pull/7/merge", "pull_request")), "no_trust_relationship");
    const squatted = await squatter(owner, repository);

    // Before the fix: 200, a token for the squatter's project. Now: pass audience.
    const pr = await job("refs/pull/7/merge", "pull_request");
    const body = await expectRefused(await exchangeToken(pr), "target_ambiguous");
    expect(body.error_description).toBe("pass audience: the ID of the project to exchange this token for");
    expectNoEcho(body.error_description, projectId, squatted, owner, repository);
    expect(await replayRecorded(ISSUERS.github, String(decodeJwt(pr).jti))).toBe(false);

    // With its own project as audience, the owner's relationship decides, as if alone.
    await expectRefused(await exchangeToken(pr, { audience: projectId }), "target_invalid");
    const main = await expectExchanged(await job("refs/heads/main"), { audience: projectId });
    expect(decodeJwt(main.access_token).project_id).toBe(projectId);
  });

  it("refuses the owner's main-branch job without audience too, once another project names the repository", async () => {
    const { owner, repository, job } = await ownersRepository();
    await squatter(owner, repository);
    await expectRefused(await exchangeToken(await job("refs/heads/main")), "target_ambiguous");
  });

  it("counts a project that names the repository even when none of its relationships would admit the job", async () => {
    const { owner, repository, job } = await ownersRepository();
    await squatter(owner, repository, { conditions: { ref: "refs/tags/never" } });
    await expectRefused(await exchangeToken(await job("refs/heads/main")), "target_ambiguous");
  });

  it("still routes without audience when only the owner's project names the repository", async () => {
    const { projectId, job } = await ownersRepository();
    const body = await expectExchanged(await job("refs/heads/main"));
    expect(decodeJwt(body.access_token).project_id).toBe(projectId);
  });

  it("does not count a relationship of another provider with the same lookup key", async () => {
    const { owner, repository, projectId, job } = await ownersRepository();
    const other = await createProject();
    await createRelationship(other.projectId, { provider: "buildkite", organization_slug: owner.toLowerCase(), pipeline_slug: repository.toLowerCase() });
    const body = await expectExchanged(await job("refs/heads/main"));
    expect(decodeJwt(body.access_token).project_id).toBe(projectId);
  });
});

describe("foreign relationships cost an exchange with audience nothing", () => {
  it("reads the same rows in one round trip with 2,000 foreign relationships on the repository, and gives the same answers", async () => {
    const { owner, repository, projectId, job } = await ownersRepository();
    const meter = meteredDb(env.DB);
    const exchange = async (ref: string) => {
      meter.reset();
      const response = await exchangeWithEnv({ DB: meter.db }, await job(ref, ref.startsWith("refs/pull/") ? "pull_request" : "push"), { audience: projectId });
      return { status: response.status, error: ((await response.json()) as { error?: string }).error, trips: meter.trips.length, rows: meter.rowsRead() };
    };
    await exchange("refs/heads/main"); // warm the key cache: what follows is the steady state
    const alone = { main: await exchange("refs/heads/main"), pr: await exchange("refs/pull/1/merge") };

    await foreignRelationships(owner, repository, 100, 20);
    const crowded = { main: await exchange("refs/heads/main"), pr: await exchange("refs/pull/1/merge") };

    expect(alone.main).toMatchObject({ status: 200, trips: 1 });
    expect(alone.pr).toMatchObject({ status: 400, error: "invalid_target" });
    // Same answers, same single round trip; rows read may differ by the one index entry
    // SQLite steps onto to find the end of the project's range, never by the 2,000.
    for (const case_ of ["main", "pr"] as const) {
      expect({ ...crowded[case_], rows: undefined }).toEqual({ ...alone[case_], rows: undefined });
      expect(crowded[case_].rows).toBeLessThanOrEqual(alone[case_].rows + 1);
    }
    expect(crowded.main.rows).toBeLessThanOrEqual(4);
  }, 60_000);

  it("reads a bounded number of rows without audience too, however many projects name the repository", async () => {
    const { owner, repository, job } = await ownersRepository();
    const meter = meteredDb(env.DB);
    await exchangeWithEnv({ DB: meter.db }, await job("refs/heads/main"));
    meter.reset();
    expect((await exchangeWithEnv({ DB: meter.db }, await job("refs/heads/main"))).status).toBe(200);
    const alone = { trips: meter.trips.length, rows: meter.rowsRead() };

    await foreignRelationships(owner, repository, 100, 20);
    meter.reset();
    await expectRefused(await exchangeWithEnv({ DB: meter.db }, await job("refs/heads/main")), "target_ambiguous");
    const batch = meter.trips[0]!;
    // One batch decides (the release of the replay record after the refusal is the second trip).
    expect(meter.trips.length).toBe(2);
    expect(alone).toMatchObject({ trips: 1 });
    expect(batch.rowsRead).toBeLessThanOrEqual(alone.rows + 2);
    expect(batch.rowsRead).toBeLessThanOrEqual(10);
  }, 60_000);

  it("queries candidates and routing by index only", async () => {
    const plans = await Promise.all(
      [
        "SELECT t.id FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.provider = 'github' AND t.lookup_key = 'a/b' AND t.project_id = 'prj_x'",
        "SELECT project_id FROM trust_relationships WHERE provider = 'github' AND lookup_key = 'a/b' AND mode = 'enforce' ORDER BY project_id DESC LIMIT 1",
        "SELECT 1 FROM trust_relationships WHERE provider = 'github' AND lookup_key = 'a/b' AND issuer_tenant = 'e' LIMIT 1",
        "SELECT 1 FROM trust_relationships WHERE provider = 'github' AND lookup_key = 'a/b' AND issuer_tenant = 'e' AND project_id = 'prj_x' LIMIT 1",
      ].map(async (sql) => (await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).all<{ detail: string }>()).results.map((r) => r.detail).join("; ")),
    );
    expect(plans[0]).toMatch(/SEARCH t USING (COVERING )?INDEX trust_by_lookup_project \(provider=\? AND lookup_key=\? AND project_id=\?\)/);
    // Routing reads only enforce-mode relationships, from the partial index that holds nothing else.
    expect(plans[1]).toMatch(/SEARCH trust_relationships USING (COVERING )?INDEX trust_routing_enforced \(provider=\? AND lookup_key=\?\)/);
    expect(plans[1]).not.toMatch(/TEMP B-TREE/);
    expect(plans[2]).toMatch(/INDEX trust_by_lookup_tenant \(provider=\? AND lookup_key=\? AND issuer_tenant=\?\)/);
    expect(plans[3]).toMatch(/INDEX trust_by_lookup_project \(provider=\? AND lookup_key=\? AND project_id=\? AND issuer_tenant=\?\)/);
  });
});

describe("the pre-fetch gate of a per-tenant issuer", () => {
  const enterprise = () => `ent-${uuid().slice(0, 8)}`;

  it("does not open a fetch from an enterprise's issuer for an audience whose project does not name it, however many others do", async () => {
    const slug = enterprise();
    const issuer = `${ISSUERS.github}/${slug}`;
    const { owner, repository, projectId, claims } = await ownersRepository();
    await foreignRelationships(owner, repository, 50, 20, { enterprise: slug });
    const token = await signToken(issuer, { ...claims, iss: issuer, enterprise: slug, jti: uuid() });
    const meter = meteredDb(env.DB);
    await expectRefused(await exchangeWithEnv({ DB: meter.db }, token, { audience: projectId }), "target_invalid");
    expect(await issuerRequests(issuer)).toBe(0);
    // The persisted-keys lookup and the gate: one row each at most.
    expect(meter.rowsRead()).toBeLessThanOrEqual(4);
  }, 60_000);

  it("opens it for an audience whose project names the enterprise, and for no audience when any project does", async () => {
    const slug = enterprise();
    const issuer = `${ISSUERS.github}/${slug}`;
    const { owner, repository, claims } = await ownersRepository();
    const { projectId } = await createProject();
    await createRelationship(projectId, { provider: "github", owner, repository, enterprise: slug });
    const token = () => signToken(issuer, { ...claims, iss: issuer, enterprise: slug, jti: uuid() });
    // Without audience the gate opens (a project names the enterprise) and routing refuses.
    await expectRefused(await exchangeToken(await token()), "target_ambiguous");
    expect(await issuerRequests(issuer)).toBe(2);
    const body = await expectExchanged(await token(), { audience: projectId });
    expect(decodeJwt(body.access_token).project_id).toBe(projectId);
  });
});

describe("pinning under a race", () => {
  /** A D1 binding (and its sessions) on which another exchange pins `pins` just before this one's compare-and-set. */
  function racingDb(pins: Record<string, string>) {
    const meter = meteredDb(env.DB);
    const racing = <T extends object>(handle: T): T => new Proxy(handle, {
      get(target, name) {
        if (name === "withSession") return (start?: string) => racing((target as unknown as D1Database).withSession(start));
        if (name !== "prepare") return Reflect.get(target, name);
        const prepare = (sql: string) => (target as unknown as D1Database).prepare(sql);
        return (sql: string) => {
          const statement = prepare(sql);
          if (!sql.startsWith("UPDATE trust_relationships SET subject")) return statement;
          return {
            bind: (after: string, id: string, before: string) => ({
              run: async () => {
                const racer = JSON.stringify({ ...JSON.parse(before), ...pins });
                await env.DB.prepare("UPDATE trust_relationships SET subject = ? WHERE id = ?").bind(racer, id).run();
                return statement.bind(after, id, before).run();
              },
            }),
          };
        };
      },
    });
    return { db: racing(meter.db), meter };
  }

  it("re-reads only the raced relationship, by ID, with many foreign relationships on the repository", async () => {
    const { owner, repository, projectId, claims, job } = await ownersRepository();
    await foreignRelationships(owner, repository, 50, 20);
    const agreeing = racingDb({ owner_id: String(claims.repository_owner_id), repository_id: String(claims.repository_id) });
    const response = await exchangeWithEnv({ DB: agreeing.db }, await job("refs/heads/main"), { audience: projectId });
    expect(response.status).toBe(200);
    const reread = agreeing.meter.trips.find((t) => t.sql[0]!.includes("WHERE t.id = ?"));
    expect(reread?.rowsRead).toBeLessThanOrEqual(2);
  }, 60_000);

  it("refuses when the racer pinned other IDs", async () => {
    const { projectId, job } = await ownersRepository();
    const conflicting = racingDb({ owner_id: "1", repository_id: "2" });
    await expectRefused(await exchangeWithEnv({ DB: conflicting.db }, await job("refs/heads/main"), { audience: projectId }), "no_trust_relationship");
  });
});
