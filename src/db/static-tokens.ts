/**
 * Static tokens as stored: the HMAC of the token (never the token), a masked preview,
 * and who owns it. Listing never selects `token_hash`, so no hash can reach a response.
 */
import type { StaticTokenKind } from "../tokens/static-tokens";
import { d1, newId } from "./d1";
import type { D1Handle } from "./replicas";

export type TokenOwner =
  | { kind: "user"; userId: string }
  | { kind: "organization"; orgId: string }
  | { kind: "project"; orgId: string; projectId: string };

/** What lists show (SPEC §5). */
export interface StaticTokenListing {
  id: string;
  preview: string;
  description: string;
  created_at: number;
  last_used_at: number | null;
}

/** What a presented token resolves to. */
export interface StaticTokenIdentity {
  id: string;
  kind: StaticTokenKind;
  user_id: string | null;
  org_id: string | null;
  project_id: string | null;
  created_at: number;
}

/** The owner column a kind of token is filed under, and its value. */
function ownerColumn(owner: TokenOwner): [column: "user_id" | "org_id" | "project_id", value: string] {
  switch (owner.kind) {
    case "user":
      return ["user_id", owner.userId];
    case "organization":
      return ["org_id", owner.orgId];
    case "project":
      return ["project_id", owner.projectId];
  }
}

/**
 * Stores a new token unless its owner already has `max` tokens; the count and the insert
 * are one statement, so concurrent creations cannot pass the cap together.
 */
export function createStaticToken(
  db: D1Handle,
  owner: TokenOwner,
  token: { hash: string; preview: string; description: string },
  max: number,
  now: number,
): Promise<StaticTokenListing | null> {
  const id = newId("tok");
  const [column, value] = ownerColumn(owner);
  const userId = owner.kind === "user" ? owner.userId : null;
  const orgId = owner.kind === "user" ? null : owner.orgId;
  const projectId = owner.kind === "project" ? owner.projectId : null;
  return d1(async () => {
    const result = await db
      .prepare(
        `INSERT INTO static_tokens (id, kind, token_hash, preview, description, user_id, org_id, project_id, created_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
         WHERE (SELECT COUNT(*) FROM static_tokens WHERE kind = ? AND ${column} = ?) < ?`,
      )
      .bind(id, owner.kind, token.hash, token.preview, token.description, userId, orgId, projectId, now, owner.kind, value, max)
      .run();
    if (result.meta.changes === 0) return null;
    return { id, preview: token.preview, description: token.description, created_at: now, last_used_at: null };
  });
}

export function listStaticTokens(db: D1Handle, owner: TokenOwner): Promise<StaticTokenListing[]> {
  const [column, value] = ownerColumn(owner);
  return d1(async () => {
    const { results } = await db
      .prepare(
        `SELECT id, preview, description, created_at, last_used_at FROM static_tokens
         WHERE kind = ? AND ${column} = ? ORDER BY created_at, rowid`,
      )
      .bind(owner.kind, value)
      .all<StaticTokenListing>();
    return results;
  });
}

/** Deletes the owner's token; another owner's token ID is simply not found. */
export function deleteStaticToken(db: D1Handle, owner: TokenOwner, id: string): Promise<boolean> {
  const [column, value] = ownerColumn(owner);
  return d1(async () => {
    const result = await db.prepare(`DELETE FROM static_tokens WHERE id = ? AND kind = ? AND ${column} = ?`).bind(id, owner.kind, value).run();
    return result.meta.changes > 0;
  });
}

/**
 * The token with this hash, if it is still valid: a project token only while its project
 * exists (deleting a project deletes its tokens; this also covers a create racing a delete).
 */
export function findStaticTokenByHash(db: D1Handle, hash: string): Promise<StaticTokenIdentity | null> {
  return d1(() =>
    db
      .prepare(
        `SELECT id, kind, user_id, org_id, project_id, created_at FROM static_tokens t
         WHERE token_hash = ?
           AND (kind != 'project' OR EXISTS (SELECT 1 FROM projects p WHERE p.id = t.project_id AND p.org_id = t.org_id))`,
      )
      .bind(hash)
      .first<StaticTokenIdentity>(),
  );
}

/** Seconds between last-use writes for one token: a busy token costs one write a minute, not one per request. */
const LAST_USED_RESOLUTION_SECONDS = 60;

export function touchStaticToken(db: D1Handle, id: string, now: number): Promise<void> {
  return d1(async () => {
    await db
      .prepare("UPDATE static_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)")
      .bind(now, id, now - LAST_USED_RESOLUTION_SECONDS)
      .run();
  });
}
