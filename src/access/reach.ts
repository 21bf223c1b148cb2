/**
 * May this principal touch this organization, project or user? Tenancy is decided here and
 * only here, for every door (the admin API, the settings page), from the scope table in
 * `tokens/scopes.ts`:
 * - a principal without the needed scope is refused with 403 `insufficient_scope` before
 *   any resource is looked up, so the answer says nothing about other tenants;
 * - a resource outside the principal's reach is 404 `not_found`, exactly like one that
 *   does not exist;
 * - administering needs an admin: the operator, an organization token, or an admin
 *   member's user token; a member is 403.
 *
 * It takes an already identified principal (principal.ts) and the database; it reads no
 * request and writes nothing.
 */
import { ID_PATTERN } from "../db/d1";
import { findOrganization, findProject, type Organization, type Project } from "../db/organizations";
import { findRole, findUser, type User } from "../db/users";
import type { D1Handle } from "../db/replicas";
import { StsError } from "../errors";
import { TOKEN_KINDS, type Scope } from "../tokens/scopes";
import type { Principal } from "./principal";

export type Access = "read" | "admin";

/** An organization, or a project of it, that a principal has been found to reach. */
export interface Target {
  orgId: string;
  projectId?: string;
}

export interface ReachContext {
  db: D1Handle;
  principal: Principal;
  /** Told the target once it is known to be within reach (routes/ put it on the log line). */
  noteTarget?(target: Target): void;
}

/** The scope table decides: the operator holds every scope; a credential only its kind's. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (principal.kind === "operator") return;
  if (!principal.scopes.includes(scope)) throw new StsError("insufficient_scope");
}

/** Operator-only verbs (creating organizations and users). */
export function requireOperator(principal: Principal): void {
  if (principal.kind !== "operator") throw new StsError("insufficient_scope");
}

/** An ID that cannot exist (wrong prefix or shape) is simply not found. */
export function pathId(pattern: RegExp, value: string): string {
  if (!pattern.test(value)) throw new StsError("not_found");
  return value;
}

/** Is the target within the principal's reach (SPEC §4)? Out of reach is `not_found`. */
async function requireReach(ctx: ReachContext, target: Target, access: Access): Promise<void> {
  const principal = ctx.principal;
  if (principal.kind === "operator") return;
  switch (TOKEN_KINDS[principal.kind].reach) {
    case "organization":
      if (principal.orgId !== target.orgId) throw new StsError("not_found");
      return;
    case "memberships": {
      const role = principal.userId === undefined ? null : await findRole(ctx.db, target.orgId, principal.userId);
      if (!role) throw new StsError("not_found");
      if (access === "admin" && role !== "admin") throw new StsError("insufficient_scope");
      return;
    }
    case "project":
      if (target.projectId === undefined || principal.projectId !== target.projectId) throw new StsError("not_found");
      if (access === "admin") throw new StsError("insufficient_scope");
      return;
  }
}

/** The admin API on an organization: `api` scope, the organization exists, and it is within reach. */
export async function authorizeOrg(ctx: ReachContext, id: string, access: Access): Promise<Organization> {
  requireScope(ctx.principal, "api");
  const org = await findOrganization(ctx.db, pathId(ID_PATTERN.org, id));
  if (!org) throw new StsError("not_found");
  await requireReach(ctx, { orgId: org.id }, access);
  ctx.noteTarget?.({ orgId: org.id });
  return org;
}

/** The admin API on a project: `api` scope, the project exists, and it is within reach. */
export async function authorizeProject(ctx: ReachContext, id: string, access: Access): Promise<Project> {
  requireScope(ctx.principal, "api");
  return projectWithinReach(ctx, id, access);
}

/**
 * Minting a pull token: any credential with registry access to the project (SPEC §4), read
 * access being enough. A pull token is the end of the delegation chain: it may not mint
 * more pull tokens, or a leaked one could be renewed forever.
 */
export async function authorizeRegistry(ctx: ReachContext, id: string): Promise<Project> {
  requireScope(ctx.principal, "registry:pull");
  if (ctx.principal.kind === "pull") throw new StsError("insufficient_scope");
  return projectWithinReach(ctx, id, "read");
}

async function projectWithinReach(ctx: ReachContext, id: string, access: Access): Promise<Project> {
  const project = await findProject(ctx.db, pathId(ID_PATTERN.prj, id));
  if (!project) throw new StsError("not_found");
  await requireReach(ctx, { orgId: project.org_id, projectId: project.id }, access);
  ctx.noteTarget?.({ orgId: project.org_id, projectId: project.id });
  return project;
}

/** A user's own resources (their tokens): the user themselves or the operator; anyone else 404. */
export async function authorizeUser(ctx: ReachContext, id: string): Promise<User> {
  requireScope(ctx.principal, "api");
  pathId(ID_PATTERN.usr, id);
  if (ctx.principal.kind !== "operator" && ctx.principal.userId !== id) throw new StsError("not_found");
  const user = await findUser(ctx.db, id);
  if (!user) throw new StsError("not_found");
  return user;
}
