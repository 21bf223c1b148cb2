/**
 * Trust relationships: stored with an exact `lookup_key` so the exchange finds its
 * candidates with one indexed equality lookup (never LIKE), batched with the replay
 * insert into a single D1 round trip.
 */
import type { JobIdentity } from "../providers/provider";
import type { TrustRelationship } from "../trust/authorize";
import { d1, newId } from "./d1";

interface Row {
  id: string;
  project_id: string;
  org_id: string;
  provider: string;
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
  "t.id, t.project_id, p.org_id, t.provider, t.subject, t.conditions, t.description, t.token_ttl_seconds, t.created_at";

function fromRow(row: Row): StoredTrustRelationship {
  return {
    id: row.id,
    projectId: row.project_id,
    orgId: row.org_id,
    provider: row.provider,
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
  db: D1Database,
  input: NewTrustRelationship,
  max: number,
  now: number,
): Promise<StoredTrustRelationship | null> {
  const id = newId("trl");
  return d1(async () => {
    const result = await db
      .prepare(
        `INSERT INTO trust_relationships
           (id, project_id, provider, lookup_key, subject, conditions, description, token_ttl_seconds, created_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
         WHERE (SELECT COUNT(*) FROM trust_relationships WHERE project_id = ?) < ?`,
      )
      .bind(
        id, input.projectId, input.provider, input.identity.lookupKey,
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
      subject: input.subject,
      conditions: input.conditions,
      description: input.description,
      tokenTtlSeconds: input.tokenTtlSeconds,
      createdAt: now,
    };
  });
}

export function listTrustRelationships(db: D1Database, projectId: string): Promise<StoredTrustRelationship[]> {
  return d1(async () => {
    const { results } = await db
      .prepare(`SELECT ${COLUMNS} FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.project_id = ? ORDER BY t.created_at, t.id`)
      .bind(projectId)
      .all<Row>();
    return results.map(fromRow);
  });
}

export function findTrustRelationship(db: D1Database, projectId: string, id: string): Promise<StoredTrustRelationship | null> {
  return d1(async () => {
    const row = await db
      .prepare(`SELECT ${COLUMNS} FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.id = ? AND t.project_id = ?`)
      .bind(id, projectId)
      .first<Row>();
    return row ? fromRow(row) : null;
  });
}

export function deleteTrustRelationship(db: D1Database, projectId: string, id: string): Promise<boolean> {
  return d1(async () => {
    const result = await db.prepare("DELETE FROM trust_relationships WHERE id = ? AND project_id = ?").bind(id, projectId).run();
    return result.meta.changes > 0;
  });
}

export interface Candidates {
  relationships: TrustRelationship[];
  /** False when the subject token's jti had already been recorded: a replay. */
  firstUse: boolean;
  /** The replay key recorded by this call, if any (to be released if the exchange is refused). */
  claimedKey: string | undefined;
}

/**
 * The exchange's single round trip: the candidate relationships for a job identity and,
 * for tokens with a `jti`, the replay record (a unique insert), in one batch.
 */
export function findCandidatesAndClaim(
  db: D1Database,
  provider: string,
  identity: JobIdentity,
  replay: { key: string; expiresAt: number } | undefined,
): Promise<Candidates> {
  const select = selectByLookupKey(db, provider, identity.lookupKey);
  return d1(async () => {
    if (!replay) {
      const { results } = await select.all<Row>();
      return { relationships: results.map(fromRow), firstUse: true, claimedKey: undefined };
    }
    const insert = db
      .prepare("INSERT INTO used_subject_tokens (token_key, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
      .bind(replay.key, replay.expiresAt);
    const [found, inserted] = await db.batch<Row>([select, insert]);
    const firstUse = (inserted?.meta.changes ?? 0) > 0;
    return { relationships: (found?.results ?? []).map(fromRow), firstUse, claimedKey: firstUse ? replay.key : undefined };
  });
}

/** The relationships stored for one job identity (indexed equality on provider and lookup key). */
export function findTrustRelationshipsFor(db: D1Database, provider: string, lookupKey: string): Promise<TrustRelationship[]> {
  return d1(async () => {
    const { results } = await selectByLookupKey(db, provider, lookupKey).all<Row>();
    return results.map(fromRow);
  });
}

function selectByLookupKey(db: D1Database, provider: string, lookupKey: string): D1PreparedStatement {
  return db
    .prepare(`SELECT ${COLUMNS} FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.provider = ? AND t.lookup_key = ?`)
    .bind(provider, lookupKey);
}

/** Undoes a replay record made by a request that was then refused, so a refusal stores nothing. */
export function releaseSubjectToken(db: D1Database, key: string): Promise<void> {
  return d1(async () => {
    await db.prepare("DELETE FROM used_subject_tokens WHERE token_key = ?").bind(key).run();
  });
}

/**
 * Pins immutable IDs seen on the first verified token. Compare-and-set on the stored
 * subject, so two first exchanges racing cannot pin different IDs: the loser gets false.
 */
export function pinTrustRelationship(
  db: D1Database,
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
