/**
 * Sessions of the settings page, as stored: the hash of the session ID (never the ID), the
 * kind of credential that signed in and its identity (a static token's ID; nothing for the
 * operator), an HMAC tying the row to the secret that credential depends on, and expiry.
 *
 * Finding a session re-reads the credential in the same statement, so a session whose
 * static token, user or organization is gone comes back without its owner and is refused
 * by the caller. This file stores and reads; it decides nothing about what a session may do.
 */
import { d1 } from "./d1";
import type { D1Handle } from "./replicas";

export type UiSessionKind = "operator" | "user" | "organization";

export interface NewUiSession {
  idHash: string;
  kind: UiSessionKind;
  /** The static token's ID (`tok_…`); null for the operator. */
  credentialId: string | null;
  secretMac: string;
  createdAt: number;
  expiresAt: number;
}

/** A live session row joined with what its credential is now (nulls when it is gone). */
export interface StoredUiSession {
  kind: UiSessionKind;
  credentialId: string | null;
  secretMac: string;
  createdAt: number;
  expiresAt: number;
  /** The token as it is now: its owner, or null when the token was deleted. */
  token: { createdAt: number; userId: string | null; orgId: string | null } | null;
  /** The user a user token belongs to, when that user still exists. */
  user: { id: string; name: string; email: string } | null;
  /** The organization an organization token belongs to, when it still exists. */
  org: { id: string; name: string } | null;
}

interface Row {
  kind: UiSessionKind;
  credential_id: string | null;
  secret_mac: string;
  created_at: number;
  expires_at: number;
  token_id: string | null;
  token_created_at: number | null;
  token_user_id: string | null;
  token_org_id: string | null;
  user_id: string | null;
  user_name: string | null;
  user_email: string | null;
  org_id: string | null;
  org_name: string | null;
}

export function createUiSession(db: D1Handle, session: NewUiSession): Promise<void> {
  return d1(async () => {
    await db
      .prepare("INSERT INTO ui_sessions (id_hash, kind, credential_id, secret_mac, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(session.idHash, session.kind, session.credentialId, session.secretMac, session.createdAt, session.expiresAt)
      .run();
  });
}

/**
 * The unexpired session with this ID hash and its credential as it is now, in one round
 * trip. The join requires the token's kind to equal the session's, so a token ID can
 * never be read as another kind of credential.
 */
export function findUiSession(db: D1Handle, idHash: string, now: number): Promise<StoredUiSession | null> {
  return d1(async () => {
    const row = await db
      .prepare(
        `SELECT s.kind, s.credential_id, s.secret_mac, s.created_at, s.expires_at,
                t.id AS token_id, t.created_at AS token_created_at, t.user_id AS token_user_id, t.org_id AS token_org_id,
                u.id AS user_id, u.name AS user_name, u.email AS user_email,
                o.id AS org_id, o.name AS org_name
         FROM ui_sessions s
         LEFT JOIN static_tokens t ON t.id = s.credential_id AND t.kind = s.kind
         LEFT JOIN users u ON s.kind = 'user' AND u.id = t.user_id
         LEFT JOIN organizations o ON s.kind = 'organization' AND o.id = t.org_id
         WHERE s.id_hash = ? AND s.expires_at > ?`,
      )
      .bind(idHash, now)
      .first<Row>();
    if (!row) return null;
    return {
      kind: row.kind,
      credentialId: row.credential_id,
      secretMac: row.secret_mac,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      token:
        row.token_id === null ? null : { createdAt: row.token_created_at!, userId: row.token_user_id, orgId: row.token_org_id },
      user: row.user_id === null ? null : { id: row.user_id, name: row.user_name!, email: row.user_email! },
      org: row.org_id === null ? null : { id: row.org_id, name: row.org_name! },
    };
  });
}

export function deleteUiSession(db: D1Handle, idHash: string): Promise<void> {
  return d1(async () => {
    await db.prepare("DELETE FROM ui_sessions WHERE id_hash = ?").bind(idHash).run();
  });
}

/** Rows deleted per statement: bounded, so one sweep never holds the database for long. */
export const UI_SESSION_SWEEP_BATCH = 500;
/** Statements per sweep run; what is left waits for the next hourly run. */
export const UI_SESSION_SWEEP_MAX_BATCHES = 20;

/**
 * Deletes expired sessions in bounded batches (indexed on `expires_at`). Returns how many
 * rows went. Expired rows are never honoured anyway (`findUiSession` checks `expires_at`);
 * this only keeps the table small.
 */
export async function sweepExpiredUiSessions(db: D1Handle, now: number, batch = UI_SESSION_SWEEP_BATCH, maxBatches = UI_SESSION_SWEEP_MAX_BATCHES): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const changes = await d1(async () => {
      const result = await db
        .prepare("DELETE FROM ui_sessions WHERE id_hash IN (SELECT id_hash FROM ui_sessions WHERE expires_at <= ? LIMIT ?)")
        .bind(now, batch)
        .run();
      return result.meta.changes;
    });
    deleted += changes;
    if (changes < batch) break;
  }
  return deleted;
}
