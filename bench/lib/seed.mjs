/**
 * The bench's database: the real migrations, then ~1,000 trust relationships created
 * through the real admin API (so lookup keys and validation follow the
 * providers' own rules), two of which the measured tokens match.
 */
import { randomUUID } from "node:crypto";
import { readD1Migrations } from "@cloudflare/vitest-pool-workers";

export async function applyMigrations(db, dir) {
  for (const migration of await readD1Migrations(dir)) {
    await db.batch(migration.queries.map((query) => db.prepare(query)));
  }
}

async function call(url, adminToken, method, path, body) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await response.json().catch(() => null);
  if (response.status !== 201) throw new Error(`seed: ${method} ${path} -> ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function inParallel(items, limit, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/**
 * Seeds `orgs` × `projectsPerOrg` projects and `relationships` trust relationships spread
 * over GitHub, CircleCI and RWX. Organizations, projects and the two relationships the
 * bench's tokens match go through the real admin API, so their lookup keys follow the
 * providers' own rules; the filler rows are inserted with SQL in a few batches (the admin
 * API would spend most of the run's start-up on them), with lookup keys built the way
 * src/providers/*.ts relationshipIdentity builds them.
 * Returns the RWX vault subject (X1, C, D) and the GitHub repository with pinned IDs (X2).
 */
export async function seedRelationships(url, adminToken, db, { orgs = 10, projectsPerOrg = 10, relationships = 1000 } = {}) {
  const projects = [];
  await inParallel(Array.from({ length: orgs }, (_, o) => o), 4, async (o) => {
    const org = await call(url, adminToken, "POST", "/v1/orgs", { name: `bench-org-${o}` });
    for (let p = 0; p < projectsPerOrg; p++) {
      projects.push((await call(url, adminToken, "POST", `/v1/orgs/${org.id}/projects`, { name: `bench-project-${o}-${p}` })).id);
    }
  });
  const rwxSubject = `mint:${randomUUID()}:vault-bench`;
  const githubRepo = { owner: "bench-octo", repository: "bench-repo", ownerId: "4242424", repositoryId: "7777777" };
  await call(url, adminToken, "POST", `/v1/projects/${projects[0]}/trust-relationships`, { provider: "rwx", subject: rwxSubject, description: "bench X1" });
  await call(url, adminToken, "POST", `/v1/projects/${projects[1]}/trust-relationships`, {
    provider: "github",
    owner: githubRepo.owner,
    repository: githubRepo.repository,
    owner_id: githubRepo.ownerId,
    repository_id: githubRepo.repositoryId,
    description: "bench X2",
  });

  const now = Math.floor(Date.now() / 1000);
  const rows = [];
  for (let i = 2; i < relationships; i++) {
    const id = `trl_${randomUUID().replace(/-/g, "").slice(0, 24)}`;
    const project = projects[i % projects.length];
    if (i % 3 === 0) {
      const [owner, repository] = [`octo-${i}`, `repo-${i}`];
      rows.push([id, project, "github", `${owner}/${repository}`, { owner, repository }]);
    } else if (i % 3 === 1) {
      const [org, proj] = [randomUUID(), randomUUID()];
      rows.push([id, project, "circleci", `${org}/${proj}`, { organization_uuid: org, project_uuid: proj }]);
    } else {
      const subject = `mint:${randomUUID()}:vault-${i}`;
      rows.push([id, project, "rwx", subject, { subject }]);
    }
  }
  const insert = db.prepare(
    `INSERT INTO trust_relationships
       (id, project_id, provider, lookup_key, subject, conditions, description, token_ttl_seconds, created_at)
     VALUES (?, ?, ?, ?, ?, '{}', '', 3600, ?)`,
  );
  for (let i = 0; i < rows.length; i += 250) {
    await db.batch(rows.slice(i, i + 250).map(([id, project, provider, key, subject]) => insert.bind(id, project, provider, key, JSON.stringify(subject), now)));
  }
  return { rwxSubject, githubRepo, projects: projects.length, relationships: rows.length + 2 };
}
