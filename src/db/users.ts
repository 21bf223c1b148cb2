/** Users and their memberships of organizations (roles `admin` and `member`). */
import { d1, newId } from "./d1";
import type { D1Handle } from "./replicas";

export type Role = "admin" | "member";

export interface User {
  id: string;
  name: string;
  email: string;
  created_at: number;
}

export interface Membership {
  org_id: string;
  user_id: string;
  role: Role;
  created_at: number;
}

export function createUser(db: D1Handle, name: string, email: string, now: number): Promise<User> {
  const user = { id: newId("usr"), name, email, created_at: now };
  return d1(async () => {
    await db
      .prepare("INSERT INTO users (id, name, email, created_at) VALUES (?, ?, ?, ?)")
      .bind(user.id, user.name, user.email, user.created_at)
      .run();
    return user;
  });
}

export function findUser(db: D1Handle, id: string): Promise<User | null> {
  return d1(() => db.prepare("SELECT id, name, email, created_at FROM users WHERE id = ?").bind(id).first<User>());
}

/**
 * Adds a member. Null when the user does not exist: the existence check and the insert
 * are one statement, so no foreign-key failure can surface as a database error.
 * An existing membership is a `conflict`.
 */
export function addMember(db: D1Handle, orgId: string, userId: string, role: Role, now: number): Promise<Membership | null> {
  return d1(async () => {
    const result = await db
      .prepare(
        `INSERT INTO memberships (org_id, user_id, role, created_at)
         SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)`,
      )
      .bind(orgId, userId, role, now, userId)
      .run();
    return result.meta.changes > 0 ? { org_id: orgId, user_id: userId, role, created_at: now } : null;
  });
}

export function findRole(db: D1Handle, orgId: string, userId: string): Promise<Role | null> {
  return d1(async () => {
    const row = await db.prepare("SELECT role FROM memberships WHERE org_id = ? AND user_id = ?").bind(orgId, userId).first<{ role: Role }>();
    return row?.role ?? null;
  });
}

export function listMembers(db: D1Handle, orgId: string): Promise<Membership[]> {
  return d1(async () => {
    const { results } = await db
      .prepare("SELECT org_id, user_id, role, created_at FROM memberships WHERE org_id = ? ORDER BY created_at, user_id")
      .bind(orgId)
      .all<Membership>();
    return results;
  });
}

export function removeMember(db: D1Handle, orgId: string, userId: string): Promise<boolean> {
  return d1(async () => {
    const result = await db.prepare("DELETE FROM memberships WHERE org_id = ? AND user_id = ?").bind(orgId, userId).run();
    return result.meta.changes > 0;
  });
}

/** The organizations a user belongs to: the reach of their user tokens. */
export function listUserOrgIds(db: D1Handle, userId: string): Promise<string[]> {
  return d1(async () => {
    const { results } = await db
      .prepare("SELECT org_id FROM memberships WHERE user_id = ? ORDER BY org_id")
      .bind(userId)
      .all<{ org_id: string }>();
    return results.map((r) => r.org_id);
  });
}
