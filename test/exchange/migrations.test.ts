/**
 * Data migrations keep what was stored working as before: CircleCI relationships created
 * before `accept_default_audience` existed keep admitting the default audience (0002), and
 * relationships created before `issuer_tenant` existed still open their per-tenant issuer's
 * first key fetch (0003), and relationships created before `mode` existed keep admitting
 * tokens as enforce-mode relationships (0004). Rows are written as the older schema's code wrote them, then the
 * migrations' data statements run over them, as `wrangler d1 migrations apply` would.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createProject, exchangeToken } from "../support/api";
import { expectExchanged, listedRelationship } from "../support/exchange-seed";
import { circleciClaims, githubClaims, ISSUERS, signToken, uuid } from "../support/issuer";

/** The UPDATE statements of a migration file (its schema statements have run already). */
function dataStatements(file: string): string[] {
  const migration = env.TEST_MIGRATIONS.find((m) => m.name === file);
  if (!migration) throw new Error(`no migration ${file}`);
  return migration.queries.filter((q) => /^\s*UPDATE\b/i.test(q.replace(/^\s*--.*$/gm, "")));
}

async function migrate(...files: string[]) {
  for (const file of files) for (const sql of dataStatements(file)) await env.DB.prepare(sql).run();
}

/** A relationship row as the code before these migrations stored it. */
async function legacyRow(projectId: string, provider: string, lookupKey: string, subject: Record<string, unknown>) {
  const id = `trl_${uuid().replace(/-/g, "").slice(0, 24)}`;
  await env.DB.prepare(
    `INSERT INTO trust_relationships (id, project_id, provider, lookup_key, subject, conditions, description, token_ttl_seconds, created_at)
     VALUES (?, ?, ?, ?, ?, '{}', '', 3600, ?)`,
  )
    .bind(id, projectId, provider, lookupKey, JSON.stringify(subject), Math.floor(Date.now() / 1000))
    .run();
  return id;
}

describe("migrations keep existing relationships working", () => {
  it("0002: a CircleCI relationship stored before the flag keeps admitting $CIRCLE_OIDC_TOKEN_V2 (the org UUID audience)", async () => {
    const org = uuid();
    const project = uuid();
    const { projectId } = await createProject();
    const id = await legacyRow(projectId, "circleci", `${org}/${project}`, { organization_uuid: org, project_uuid: project });
    await migrate("0002_add_accept_default_audience.sql", "0003_index_trust_relationships_by_project.sql");

    expect(await listedRelationship(projectId, id)).toMatchObject({ accept_default_audience: true });
    const claims = circleciClaims(org, project, { aud: org });
    await expectExchanged(await signToken(String(claims.iss), claims));
    // And the migration is idempotent, leaving relationships that chose false alone.
    await migrate("0002_add_accept_default_audience.sql");
    expect(await listedRelationship(projectId, id)).toMatchObject({ accept_default_audience: true });
  });

  it("0003: a GitHub enterprise relationship stored before issuer_tenant still opens its enterprise issuer's first key fetch", async () => {
    const slug = `legacy-${uuid().slice(0, 8)}`;
    const issuer = `${ISSUERS.github}/${slug}`;
    const claims = githubClaims({ iss: issuer, enterprise: slug });
    const [owner, repository] = String(claims.repository).split("/") as [string, string];
    const { projectId } = await createProject();
    await legacyRow(projectId, "github", `${owner}/${repository}`.toLowerCase(), { owner, repository, enterprise: slug.toUpperCase() });
    // Before the data migration the gate finds no relationship naming the enterprise.
    const early = await exchangeToken(await signToken(issuer, { ...claims, jti: uuid() }));
    expect(early.status).toBe(400);
    await migrate("0003_index_trust_relationships_by_project.sql");
    await expectExchanged(await signToken(issuer, { ...claims, jti: uuid() }), { audience: projectId });
  });

  it("0004: a relationship stored before mode existed is an enforce relationship: listed as such, admitting and routing as before", async () => {
    const claims = githubClaims();
    const [owner, repository] = String(claims.repository).split("/") as [string, string];
    const { projectId } = await createProject();
    const id = await legacyRow(projectId, "github", `${owner}/${repository}`.toLowerCase(), { owner, repository });
    expect(await listedRelationship(projectId, id)).toMatchObject({ mode: "enforce" });
    await expectExchanged(await signToken(ISSUERS.github, { ...claims, jti: uuid() }));
    await expectExchanged(await signToken(ISSUERS.github, { ...claims, jti: uuid() }), { audience: projectId });
  });
});
