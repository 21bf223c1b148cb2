/** Organizations and their projects. */
import { d1, newId } from "./d1";
import type { D1Handle } from "./replicas";

export interface Organization {
  id: string;
  name: string;
  created_at: number;
}

export interface Project {
  id: string;
  org_id: string;
  name: string;
  created_at: number;
}

export function createOrganization(db: D1Handle, name: string, now: number): Promise<Organization> {
  const org = { id: newId("org"), name, created_at: now };
  return d1(async () => {
    await db.prepare("INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)").bind(org.id, org.name, org.created_at).run();
    return org;
  });
}

export function findOrganization(db: D1Handle, id: string): Promise<Organization | null> {
  return d1(() => db.prepare("SELECT id, name, created_at FROM organizations WHERE id = ?").bind(id).first<Organization>());
}

export function createProject(db: D1Handle, orgId: string, name: string, now: number): Promise<Project> {
  const project = { id: newId("prj"), org_id: orgId, name, created_at: now };
  return d1(async () => {
    await db
      .prepare("INSERT INTO projects (id, org_id, name, created_at) VALUES (?, ?, ?, ?)")
      .bind(project.id, project.org_id, project.name, project.created_at)
      .run();
    return project;
  });
}

export function findProject(db: D1Handle, id: string): Promise<Project | null> {
  return d1(() => db.prepare("SELECT id, org_id, name, created_at FROM projects WHERE id = ?").bind(id).first<Project>());
}

export function listProjects(db: D1Handle, orgId: string): Promise<Project[]> {
  return d1(async () => {
    const { results } = await db
      .prepare("SELECT id, org_id, name, created_at FROM projects WHERE org_id = ? ORDER BY created_at, id")
      .bind(orgId)
      .all<Project>();
    return results;
  });
}

/**
 * Deletes a project with its trust relationships and static tokens, in one transaction.
 * Minted and pull tokens of the project become inactive because introspection requires
 * the project to exist.
 */
export function deleteProject(db: D1Handle, id: string): Promise<boolean> {
  return d1(async () => {
    const [, , deleted] = await db.batch([
      db.prepare("DELETE FROM trust_relationships WHERE project_id = ?").bind(id),
      db.prepare("DELETE FROM static_tokens WHERE project_id = ?").bind(id),
      db.prepare("DELETE FROM projects WHERE id = ?").bind(id),
    ]);
    return (deleted?.meta.changes ?? 0) > 0;
  });
}
