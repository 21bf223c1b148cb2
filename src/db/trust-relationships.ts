/**
 * Trust relationships: stored with an exact `lookup_key` (the job's identity) and
 * `issuer_tenant` (the GitHub enterprise or CircleCI organization they name), so that the
 * exchange reads them with indexed equality lookups only (never LIKE), batched with the
 * replay insert into a single D1 round trip.
 *
 * The exchange never reads another tenant's relationships: with an audience it reads that
 * project's; without, it reads the one project naming the job's identity, decided by two
 * index probes (the lowest and highest project ID for the lookup key) in the same statement. Rows read stay
 * bounded by one project's relationships however many projects name the same repository.
 */
import type { JobIdentity } from "../providers/provider";
import type { Candidates, RelationshipMode, TrustRelationship } from "../trust/authorize";
import { d1, newId } from "./d1";
import type { D1Handle } from "./replicas";

interface Row {
  id: string;
  project_id: string;
  org_id: string;
  provider: string;
  mode: string;
  subject: string;
  conditions: string;
  description: string;
  token_ttl_seconds: number;
  created_at: number;
}

export interface StoredTrustRelationship extends TrustRelationship {
  description: string;
}

const COLUMNS =
  "t.id, t.project_id, p.org_id, t.provider, t.mode, t.subject, t.conditions, t.description, t.token_ttl_seconds, t.created_at";

function fromRow(row: Row): StoredTrustRelationship {
  return {
    id: row.id,
    projectId: row.project_id,
    orgId: row.org_id,
    provider: row.provider,
    // The column's CHECK constraint allows only these two.
    mode: row.mode === "shadow" ? "shadow" : "enforce",
    subject: JSON.parse(row.subject),
    conditions: JSON.parse(row.conditions),
    description: row.description,
    tokenTtlSeconds: row.token_ttl_seconds,
    createdAt: row.created_at,
  };
}

export interface NewTrustRelationship {
  projectId: string;
  orgId: string;
  provider: string;
  mode: RelationshipMode;
  identity: JobIdentity;
  subject: Record<string, unknown>;
  conditions: Record<string, string>;
  description: string;
  tokenTtlSeconds: number;
}

/**
 * Inserts unless the project already has `max` relationships, atomically: the count and
 * the insert are one statement, so concurrent creations cannot pass the cap together.
 * Returns what was written (no re-read, so a read fault cannot hide a committed insert),
 * or null at the cap.
 */
export function createTrustRelationship(
  db: D1Handle,
  input: NewTrustRelationship,
  max: number,
  now: number,
): Promise<StoredTrustRelationship | null> {
  const id = newId("trl");
  return d1(async () => {
    const result = await db
      .prepare(
        `INSERT INTO trust_relationships
           (id, project_id, provider, mode, lookup_key, issuer_tenant, subject, conditions, description, token_ttl_seconds, created_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
         WHERE (SELECT COUNT(*) FROM trust_relationships WHERE project_id = ?) < ?`,
      )
      .bind(
        id, input.projectId, input.provider, input.mode, input.identity.lookupKey, input.identity.issuerTenant,
        JSON.stringify(input.subject), JSON.stringify(input.conditions), input.description, input.tokenTtlSeconds, now,
        input.projectId, max,
      )
      .run();
    if (result.meta.changes === 0) return null;
    return {
      id,
      projectId: input.projectId,
      orgId: input.orgId,
      provider: input.provider,
      mode: input.mode,
      subject: input.subject,
      conditions: input.conditions,
      description: input.description,
      tokenTtlSeconds: input.tokenTtlSeconds,
      createdAt: now,
    };
  });
}

export function listTrustRelationships(db: D1Handle, projectId: string): Promise<StoredTrustRelationship[]> {
  return d1(async () => {
    const { results } = await db
      .prepare(`SELECT ${COLUMNS} FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.project_id = ? ORDER BY t.created_at, t.id`)
      .bind(projectId)
      .all<Row>();
    return results.map(fromRow);
  });
}

export function findTrustRelationship(db: D1Handle, projectId: string, id: string): Promise<StoredTrustRelationship | null> {
  return d1(async () => {
    const row = await db
      .prepare(`SELECT ${COLUMNS} FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.id = ? AND t.project_id = ?`)
      .bind(id, projectId)
      .first<Row>();
    return row ? fromRow(row) : null;
  });
}

/**
 * Deletes the project's relationship and returns it as it was when deleted (pinned IDs
 * included), or null when the project has no such relationship. One statement, so what it
 * returns is exactly what was removed, however a concurrent exchange pinned it.
 */
export function deleteTrustRelationship(db: D1Handle, projectId: string, id: string): Promise<StoredTrustRelationship | null> {
  return d1(async () => {
    const row = await db
      .prepare(
        `DELETE FROM trust_relationships WHERE id = ? AND project_id = ?
         RETURNING id, project_id, (SELECT p.org_id FROM projects p WHERE p.id = trust_relationships.project_id) AS org_id,
                   provider, mode, subject, conditions, description, token_ttl_seconds, created_at`,
      )
      .bind(id, projectId)
      .first<Row>();
    return row ? fromRow(row) : null;
  });
}

export interface FoundCandidates extends Candidates {
  /** False when the subject token's jti had already been recorded: a replay. */
  firstUse: boolean;
  /** The replay key recorded by this call, if any (to be released if the exchange is refused). */
  claimedKey: string | undefined;
}

/**
 * The exchange's single round trip: one project's relationships for the job's identity
 * and, for tokens with a `jti`, the replay record (a unique insert), in one batch.
 */
export function findCandidatesAndClaim(
  db: D1Handle,
  provider: string,
  identity: JobIdentity,
  audience: string | undefined,
  replay: { key: string; expiresAt: number } | undefined,
): Promise<FoundCandidates> {
  const select = selectCandidates(db, provider, identity.lookupKey, audience);
  const insert = replay
    ? db.prepare("INSERT INTO used_subject_tokens (token_key, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING").bind(replay.key, replay.expiresAt)
    : undefined;
  return d1(async () => {
    const [found, inserted] = insert ? await db.batch<CandidateRow>([select, insert]) : [await select.all<CandidateRow>()];
    const rows = found?.results ?? [];
    const firstUse = insert ? (inserted?.meta.changes ?? 0) > 0 : true;
    return {
      relationships: rows.filter((row): row is Row => row.id !== null && row.org_id !== null).map(fromRow),
      // Without audience every answer has one row at least, naming the lowest and highest project.
      ambiguous: audience === undefined && rows.length > 0 && rows[0]!.route_first !== rows[0]!.route_last,
      firstUse,
      claimedKey: firstUse && replay ? replay.key : undefined,
    };
  });
}

/** Without audience, LEFT JOINs: a row of nulls (but the route) when no relationship is read. */
type CandidateRow = { [K in keyof Row]: Row[K] | null } & { route_first?: string | null; route_last?: string | null };

/**
 * The relationships of one project for a job identity, enforce and shadow: the audience's
 * or, without one, the project naming the identity if it is the only one. That is decided
 * first, from the lowest and highest project ID whose *enforce* relationships name it (two
 * probes of a partial index, whatever their number; shadow relationships never route),
 * and only then are that project's relationships read; when several projects name it, the
 * index is searched for a NULL project and nothing is read.
 */
function selectCandidates(db: D1Handle, provider: string, lookupKey: string, audience: string | undefined): D1PreparedStatement {
  if (audience !== undefined) {
    return db
      .prepare(
        `SELECT ${COLUMNS} FROM trust_relationships t JOIN projects p ON p.id = t.project_id
         WHERE t.provider = ?1 AND t.lookup_key = ?2 AND t.project_id = ?3`,
      )
      .bind(provider, lookupKey, audience);
  }
  return db
    .prepare(
      `WITH route AS (
         SELECT (SELECT project_id FROM trust_relationships WHERE provider = ?1 AND lookup_key = ?2 AND mode = 'enforce' ORDER BY project_id ASC LIMIT 1) AS first,
                (SELECT project_id FROM trust_relationships WHERE provider = ?1 AND lookup_key = ?2 AND mode = 'enforce' ORDER BY project_id DESC LIMIT 1) AS last
       )
       SELECT route.first AS route_first, route.last AS route_last, ${COLUMNS}
       FROM route
       LEFT JOIN trust_relationships t
         ON t.provider = ?1 AND t.lookup_key = ?2 AND t.project_id = CASE WHEN route.first = route.last THEN route.first END
       LEFT JOIN projects p ON p.id = t.project_id`,
    )
    .bind(provider, lookupKey);
}

/**
 * Does a relationship name this job identity together with its per-tenant issuer (GitHub
 * enterprise, CircleCI organization)? Asked before a cold key fetch from such an issuer.
 * With an audience only that project's relationships count, so another tenant's cannot
 * change the outcome; without, any project's (one index probe either way).
 */
export function relationshipNamesIssuer(
  db: D1Handle,
  provider: string,
  identity: JobIdentity,
  audience: string | undefined,
): Promise<boolean> {
  const inProject = audience === undefined ? "" : " AND project_id = ?4";
  const statement = db.prepare(
    `SELECT 1 AS named FROM trust_relationships WHERE provider = ?1 AND lookup_key = ?2 AND issuer_tenant = ?3${inProject} LIMIT 1`,
  );
  const bound =
    audience === undefined
      ? statement.bind(provider, identity.lookupKey, identity.issuerTenant)
      : statement.bind(provider, identity.lookupKey, identity.issuerTenant, audience);
  return d1(async () => (await bound.first()) !== null);
}

/** One relationship as it is stored now (by primary key), or null once deleted. */
export function findTrustRelationshipById(db: D1Handle, id: string): Promise<TrustRelationship | null> {
  return d1(async () => {
    const row = await db
      .prepare(`SELECT ${COLUMNS} FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.id = ?`)
      .bind(id)
      .first<Row>();
    return row ? fromRow(row) : null;
  });
}

/**
 * What explain reads, in one round trip: every relationship of the project (whatever the
 * job it names, enforce and shadow), and whether the token's replay record exists — read,
 * never written, so explaining a token does not spend it.
 */
export function findProjectRelationshipsAndReplay(
  db: D1Handle,
  projectId: string,
  replayKey: string | undefined,
): Promise<{ relationships: StoredTrustRelationship[]; usedBefore: boolean }> {
  const list = db
    .prepare(`SELECT ${COLUMNS} FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.project_id = ? ORDER BY t.created_at, t.id`)
    .bind(projectId);
  return d1(async () => {
    if (replayKey === undefined) return { relationships: (await list.all<Row>()).results.map(fromRow), usedBefore: false };
    const used = db.prepare("SELECT 1 AS used FROM used_subject_tokens WHERE token_key = ?").bind(replayKey);
    const [rows, found] = await db.batch<Row | { used: number }>([list, used]);
    return { relationships: ((rows?.results ?? []) as Row[]).map(fromRow), usedBefore: (found?.results.length ?? 0) > 0 };
  });
}

/** Undoes a replay record made by a request that was then refused, so a refusal stores nothing. */
export function releaseSubjectToken(db: D1Handle, key: string): Promise<void> {
  return d1(async () => {
    await db.prepare("DELETE FROM used_subject_tokens WHERE token_key = ?").bind(key).run();
  });
}

/**
 * Pins immutable IDs seen on the first verified token. Compare-and-set on the stored
 * subject, so two first exchanges racing cannot pin different IDs: the loser gets false.
 */
export function pinTrustRelationship(
  db: D1Handle,
  relationship: TrustRelationship,
  pins: Record<string, string>,
): Promise<boolean> {
  const before = JSON.stringify(relationship.subject);
  const after = JSON.stringify({ ...relationship.subject, ...pins });
  return d1(async () => {
    const result = await db
      .prepare("UPDATE trust_relationships SET subject = ? WHERE id = ? AND subject = ?")
      .bind(after, relationship.id, before)
      .run();
    return result.meta.changes > 0;
  });
}
