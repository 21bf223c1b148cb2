/**
 * Trust relationships: stored with an exact `lookup_key` (the job's identity) and
 * `issuer_tenant` (the GitHub enterprise or CircleCI organization they name), so that the
 * exchange reads them with indexed equality lookups only (never LIKE), in the replay
 * insert's own statement when there is one: a single D1 round trip.
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
 * The exchange's single round trip: one project's relationships for the job's identity and,
 * for tokens with a `jti`, the replay record (a unique insert) in the same statement. The
 * insert's RETURNING clause reads the candidates as one JSON value, because two statements
 * in a batch cost D1 about twice what the write alone adds to the read. An insert that finds
 * the key already recorded returns no row: a replay, refused whatever the candidates say;
 * they still attribute the refusal (its audit event, its shadow verdicts), so that refusal
 * alone reads them with a second statement.
 */
export function findCandidatesAndClaim(
  db: D1Handle,
  provider: string,
  identity: JobIdentity,
  audience: string | undefined,
  replay: { key: string; expiresAt: number } | undefined,
): Promise<FoundCandidates> {
  return d1(async () => {
    if (replay) {
      const claimed = await claimStatement(db, provider, identity.lookupKey, audience, replay).first<{ candidates: string }>();
      if (claimed) return { ...fromJson(JSON.parse(claimed.candidates) as CandidatesJson, audience), firstUse: true, claimedKey: replay.key };
    }
    const { results } = await selectCandidates(db, provider, identity.lookupKey, audience).all<CandidateRow>();
    return {
      relationships: results.filter((row): row is Row => row.id !== null && row.org_id !== null).map(fromRow),
      // Without audience every answer has one row at least, naming the lowest and highest project.
      ambiguous: audience === undefined && results.length > 0 && results[0]!.route_first !== results[0]!.route_last,
      firstUse: replay === undefined,
      claimedKey: undefined,
    };
  });
}

/** Without audience, LEFT JOINs: a row of nulls (but the route) when no relationship is read. */
type CandidateRow = { [K in keyof Row]: Row[K] | null } & { route_first?: string | null; route_last?: string | null };

/** The candidates as the claim returns them: each row's COLUMNS in order, and the route without audience. */
type CandidatesJson = { rows: unknown[][]; first?: string | null; last?: string | null };

const COLUMN_NAMES = COLUMNS.split(", ").map((column) => column.slice(2)) as (keyof Row)[];

function fromJson(json: CandidatesJson, audience: string | undefined): Candidates {
  return {
    relationships: json.rows.map((values) => fromRow(Object.fromEntries(COLUMN_NAMES.map((name, i) => [name, values[i]])) as unknown as Row)),
    ambiguous: audience === undefined && json.first !== json.last,
  };
}

/** The enforce relationships naming the identity (?1, ?2): the lowest and highest project ID, two probes of a partial index. */
const ROUTE = `route AS (
  SELECT (SELECT project_id FROM trust_relationships WHERE provider = ?1 AND lookup_key = ?2 AND mode = 'enforce' ORDER BY project_id ASC LIMIT 1) AS first,
         (SELECT project_id FROM trust_relationships WHERE provider = ?1 AND lookup_key = ?2 AND mode = 'enforce' ORDER BY project_id DESC LIMIT 1) AS last
)`;
/** The project the route names when it names one, else NULL (which no relationship has). */
const ROUTED = "CASE WHEN route.first = route.last THEN route.first END";

/** One project's relationships for the identity (?1, ?2), with their organization: an equality probe of `trust_by_lookup_project`. */
const IN_PROJECT = (project: string) =>
  `FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.provider = ?1 AND t.lookup_key = ?2 AND t.project_id = ${project}`;

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
    return db.prepare(`SELECT ${COLUMNS} ${IN_PROJECT("?3")}`).bind(provider, lookupKey, audience);
  }
  return db
    .prepare(
      `WITH ${ROUTE}
       SELECT route.first AS route_first, route.last AS route_last, ${COLUMNS}
       FROM route
       LEFT JOIN trust_relationships t ON t.provider = ?1 AND t.lookup_key = ?2 AND t.project_id = ${ROUTED}
       LEFT JOIN projects p ON p.id = t.project_id`,
    )
    .bind(provider, lookupKey);
}

/**
 * The replay record's insert, returning (when it inserted) the same candidates as
 * `selectCandidates`, as `CandidatesJson` (`json()` keeps a subquery's JSON from being
 * embedded as a string).
 */
function claimStatement(
  db: D1Handle,
  provider: string,
  lookupKey: string,
  audience: string | undefined,
  replay: { key: string; expiresAt: number },
): D1PreparedStatement {
  const rows = (project: string) => `SELECT json_group_array(json_array(${COLUMNS})) ${IN_PROJECT(project)}`;
  const candidates =
    audience !== undefined
      ? `json_object('rows', json((${rows("?3")})))`
      : `(WITH ${ROUTE} SELECT json_object('first', route.first, 'last', route.last, 'rows', json((${rows(ROUTED)}))) FROM route)`;
  const [key, expires] = audience !== undefined ? ["?4", "?5"] : ["?3", "?4"];
  const statement = db.prepare(
    `INSERT INTO used_subject_tokens (token_key, expires_at) VALUES (${key}, ${expires}) ON CONFLICT DO NOTHING
     RETURNING ${candidates} AS candidates`,
  );
  return audience !== undefined
    ? statement.bind(provider, lookupKey, audience, replay.key, replay.expiresAt)
    : statement.bind(provider, lookupKey, replay.key, replay.expiresAt);
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
