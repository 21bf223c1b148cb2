/**
 * STOPGAP until the access module moves out of `routes/` (see README, "Settings page"):
 * which organization or project a signed-in principal may read, answered the way
 * `routes/access.ts` answers it (operator: any; organization token: its own organization;
 * user token: organizations the user is a member of; out of reach is "not found").
 *
 * It exists only because that module's checks take an HTTP request with a bearer token.
 * Once `authorizeOrg`/`authorizeProject` take a principal, the pages call those and this
 * file is deleted. It grants reads only; nothing here authorizes a change.
 */
import { findOrganization, findProject, type Organization, type Project } from "../db/organizations";
import { findRole, type Role } from "../db/users";
import { StsError } from "../errors";
import type { Principal } from "../routes/access";

/** How the principal relates to an organization it may read. */
export type Standing = "operator" | "organization token" | Role;

async function standingIn(db: D1Database, principal: Principal, orgId: string): Promise<Standing | null> {
  switch (principal.kind) {
    case "operator":
      return "operator";
    case "organization":
      return principal.orgId === orgId ? "organization token" : null;
    case "user":
      return findRole(db, orgId, principal.userId);
    default:
      // Project, job and pull tokens cannot sign in to the page.
      return null;
  }
}

export async function readableOrg(db: D1Database, principal: Principal, orgId: string): Promise<{ org: Organization; standing: Standing }> {
  const org = await findOrganization(db, orgId);
  const standing = org ? await standingIn(db, principal, org.id) : null;
  if (!org || !standing) throw new StsError("not_found");
  return { org, standing };
}

export async function readableProject(
  db: D1Database,
  principal: Principal,
  projectId: string,
): Promise<{ project: Project; org: Organization; standing: Standing }> {
  const project = await findProject(db, projectId);
  if (!project) throw new StsError("not_found");
  const { org, standing } = await readableOrg(db, principal, project.org_id);
  return { project, org, standing };
}
