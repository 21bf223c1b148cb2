/**
 * Projects of an organization (SPEC §5): created, listed, read and deleted by whoever
 * reaches the organization (deleting and creating need an admin). Deleting a project
 * removes its relationships and static tokens and so ends every token made for it.
 */
import * as z from "../schema";
import { authorizeOrg, authorizeProject } from "../access/reach";
import { ID_PATTERN } from "../db/d1";
import * as stored from "../db/organizations";
import type { Project } from "../db/organizations";
import { documentedOnly } from "../documented";
import type { Changed } from "./changes";
import { readInput, type AdminContext, type Input } from "./context";
import { DisplayName } from "./organizations";

export const NewProject = z.strictObject({ name: DisplayName });
export type NewProject = z.infer<typeof NewProject>;

/** A project as the API shows it (`db/organizations.ts` builds it). */
export const ProjectView = /* @__PURE__ */ documentedOnly(() => z.object({
  id: z.string().check(z.regex(ID_PATTERN.prj)),
  org_id: z.string().check(z.regex(ID_PATTERN.org)),
  name: z.string(),
  created_at: z.number().check(z.int()),
}));

/** `POST /v1/orgs/{org_id}/projects`: an admin of the organization. */
export async function createProject(ctx: AdminContext, orgId: string, input: Input<NewProject>): Promise<Changed<Project>> {
  const org = await authorizeOrg(ctx, orgId, "admin");
  const { name } = await readInput(input);
  const project = await stored.createProject(ctx.db, org.id, name, ctx.now);
  return { result: project, change: { action: "project.create", orgId: org.id, projectId: project.id, after: project } };
}

/** `GET /v1/orgs/{org_id}/projects`. */
export async function listProjects(ctx: AdminContext, orgId: string): Promise<Project[]> {
  const org = await authorizeOrg(ctx, orgId, "read");
  return stored.listProjects(ctx.db, org.id);
}

/** `GET /v1/projects/{project_id}`. */
export function getProject(ctx: AdminContext, projectId: string): Promise<Project> {
  return authorizeProject(ctx, projectId, "read");
}

/**
 * `DELETE /v1/projects/{project_id}`: an admin of its organization. A project deleted
 * concurrently is still answered as deleted: the outcome the caller asked for holds.
 */
export async function deleteProject(ctx: AdminContext, projectId: string): Promise<Changed<null>> {
  const project = await authorizeProject(ctx, projectId, "admin");
  await stored.deleteProject(ctx.db, project.id);
  return { result: null, change: { action: "project.delete", orgId: project.org_id, projectId: project.id, before: project } };
}
