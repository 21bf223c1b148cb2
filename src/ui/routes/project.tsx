/**
 * The project page and its forms: adding a trust relationship (choose the provider, then
 * its form), deleting one, creating and deleting project tokens, deleting the project.
 *
 * A relationship form becomes the JSON body a client would send (`forms.ts`) and goes
 * through the API's own `parseRelationship`, inside `createTrustRelationship`'s reader, so
 * it is read only once the caller may act. A refused field renders the form again with the
 * API's words beside it.
 */
import * as z from "../../schema";
import { authorizeProject } from "../../access/reach";
import { getOrganization } from "../../admin/organizations";
import { deleteProject, getProject } from "../../admin/projects";
import { listStaticTokens } from "../../admin/static-tokens";
import {
  createTrustRelationship,
  deleteTrustRelationship,
  getTrustRelationship,
  listTrustRelationships,
  parseRelationship,
} from "../../admin/trust-relationships";
import { listMembers } from "../../admin/users";
import type { ProviderName } from "../../config";
import { StsError } from "../../errors";
import { PROVIDER_NAMES } from "../../providers/registry";
import { adminContextFor, type AppContext, type AppEnv } from "../../routes/context";
import type { Operations } from "../../routes/document";
import { Hono } from "../../routes/hono";
import { change, noticeOf, page, perform, refusedForm, render, seeOther, type PageStatus } from "../context";
import { COMMON_RELATIONSHIP_FIELDS, isConfirmed, isFormRefusal, RELATIONSHIP_FIELDS, relationshipBodyOf, withPastingHint, type FormState } from "../forms";
import { CONFIRM, deleteForm, DELETING, html, noticeQuery, POSTING, READING, relationshipForm, relationshipFormDescription, SIGNED_IN, to, tokenFormOperations } from "../operations";
import type { UiSession } from "../session";
import { ConfirmPage, CONSEQUENCES } from "../views/confirm";
import { ProjectPage, type ProjectPageState } from "../views/project";
import { PROVIDER_LABEL, ProviderPickerPage, RelationshipFormPage } from "../views/relationships";
import { standingOf } from "./org";
import { deleteTokenFromForm, issueToken } from "./tokens";

const isProvider = (name: string | undefined): name is ProviderName => (PROVIDER_NAMES as readonly (string | undefined)[]).includes(name);

async function renderProjectPage(c: AppContext, session: UiSession, projectId: string, state: ProjectPageState = {}, status: PageStatus = 200) {
  const ctx = adminContextFor(c, session.principal);
  const project = await getProject(ctx, projectId);
  const [org, members, relationships, tokens] = await Promise.all([
    getOrganization(ctx, project.org_id),
    listMembers(ctx, project.org_id),
    listTrustRelationships(ctx, project.id),
    listStaticTokens(ctx, { kind: "project", projectId: project.id }),
  ]);
  const data = { org, project, standing: standingOf(session, members), relationships, tokens };
  return render(c, <ProjectPage session={session} data={data} state={state} />, status);
}

/** The add-relationship pages are for those who may add one: anyone else is refused before seeing them. */
async function relationshipFormPage(c: AppContext, session: UiSession, projectId: string, provider: string | undefined, state?: FormState, status: PageStatus = 200) {
  const ctx = adminContextFor(c, session.principal);
  const project = await authorizeProject(ctx, projectId, "admin");
  const org = await getOrganization(ctx, project.org_id);
  if (!isProvider(provider)) return render(c, <ProviderPickerPage session={session} org={org} project={project} />, status);
  return render(c, <RelationshipFormPage session={session} org={org} project={project} provider={provider} state={state} />, status);
}

export const projectRoutes = new Hono<AppEnv>();

projectRoutes.get("/projects/:project_id", page(async (c, session) => {
  return renderProjectPage(c, session, c.req.param("project_id")!, { notice: noticeOf(c) });
}));

projectRoutes.post("/projects/:project_id/delete", change(async (c, session, form) => {
  const projectId = c.req.param("project_id")!;
  if (!isConfirmed(form)) {
    const project = await authorizeProject(adminContextFor(c, session.principal), projectId, "admin");
    const confirm = { what: `project ${project.name}`, consequence: CONSEQUENCES.project, action: c.req.path, back: `/settings/projects/${project.id}` };
    return render(c, <ConfirmPage session={session} confirm={confirm} />);
  }
  const project = await getProject(adminContextFor(c, session.principal), projectId);
  await perform(c, session, (ctx) => deleteProject(ctx, project.id));
  return seeOther(c, `/settings/orgs/${project.org_id}`, "project-deleted");
}));

projectRoutes.get("/projects/:project_id/trust-relationships/new", page(async (c, session) => {
  return relationshipFormPage(c, session, c.req.param("project_id")!, c.req.query("provider"));
}));

projectRoutes.post("/projects/:project_id/trust-relationships", change(async (c, session, form) => {
  const projectId = c.req.param("project_id")!;
  const provider = form.get("provider");
  try {
    const read = async () => {
      if (!isProvider(provider)) throw new StsError("field_invalid", `provider: must be one of ${PROVIDER_NAMES.join(", ")}`);
      return parseRelationship(relationshipBodyOf(provider, form));
    };
    const created = await perform(c, session, (ctx) => createTrustRelationship(ctx, projectId, read));
    return seeOther(c, `/settings/projects/${created.project_id}`, "relationship-added", created.id);
  } catch (error) {
    if (!isFormRefusal(error) || !isProvider(provider)) throw error;
    const { state, status } = refusedForm(c, error, form, [...RELATIONSHIP_FIELDS[provider].map((f) => f.name), ...COMMON_RELATIONSHIP_FIELDS]);
    return relationshipFormPage(c, session, projectId, provider, { values: state.values, error: withPastingHint(provider, state.error!, state.values) }, status);
  }
}));

projectRoutes.post("/projects/:project_id/trust-relationships/:id/delete", change(async (c, session, form) => {
  const projectId = c.req.param("project_id")!;
  const id = c.req.param("id")!;
  if (!isConfirmed(form)) {
    const ctx = adminContextFor(c, session.principal);
    const project = await authorizeProject(ctx, projectId, "admin");
    const r = await getTrustRelationship(ctx, project.id, id);
    const what = `trust relationship ${PROVIDER_LABEL[r.provider as ProviderName]} ${r.id}`;
    return render(c, <ConfirmPage session={session} confirm={{ what, consequence: CONSEQUENCES.relationship, action: c.req.path, back: `/settings/projects/${project.id}` }} />);
  }
  await perform(c, session, (ctx) => deleteTrustRelationship(ctx, projectId, id));
  return seeOther(c, `/settings/projects/${projectId}`, "relationship-deleted");
}));

projectRoutes.post("/projects/:project_id/tokens", change(async (c, session, form) => {
  const projectId = c.req.param("project_id")!;
  const { status, ...state } = await issueToken(c, session, { kind: "project", projectId }, form);
  return renderProjectPage(c, session, projectId, state, status);
}));

projectRoutes.post("/projects/:project_id/tokens/:token_id/delete", change(async (c, session, form) => {
  const projectId = c.req.param("project_id")!;
  return deleteTokenFromForm(c, session, { kind: "project", projectId }, c.req.param("token_id")!, form, `/settings/projects/${projectId}`);
}));

/** These routes, documented (only `npm run openapi` calls this). */
export const projectOperations = (): Operations => {
  const relationship = { id: "A trust relationship ID (`trl_…`)" };
  return {
    "GET /settings/projects/{project_id}": {
      ...SIGNED_IN,
      summary: "A project's details and settings: its ID, trust relationships and project tokens, with their forms for its admins",
      query: noticeQuery(),
      responses: { 200: html("The project's page"), 303: to("/settings/sign-in") },
      errors: READING,
    },
    "POST /settings/projects/{project_id}/delete": {
      ...SIGNED_IN,
      summary: "Delete a project: its relationships go, its tokens stop working",
      description: DELETING,
      body: { media: "form", schema: deleteForm(), required: true },
      responses: { 200: CONFIRM, 303: to("/settings/orgs/{org_id}?done=project-deleted or /settings/sign-in") },
      errors: POSTING,
    },
    "GET /settings/projects/{project_id}/trust-relationships/new": {
      ...SIGNED_IN,
      summary: "Add a trust relationship: choose the provider, then its form (admins)",
      query: z.object({ provider: z.optional(z.string()).check(z.describe("github, circleci, buildkite or rwx: that provider's form; otherwise the choice")) }),
      responses: { 200: html("The provider choice, or the provider's form"), 303: to("/settings/sign-in") },
      errors: [403, ...READING],
    },
    "POST /settings/projects/{project_id}/trust-relationships": {
      ...SIGNED_IN,
      summary: "Add a trust relationship, checked by the admin API's own validation",
      description: relationshipFormDescription(),
      body: { media: "form", schema: relationshipForm(), required: true },
      responses: { 303: to("/settings/projects/{project_id}?done=relationship-added#{id} or /settings/sign-in") },
      errors: POSTING,
    },
    "POST /settings/projects/{project_id}/trust-relationships/{id}/delete": {
      ...SIGNED_IN,
      summary: "Delete a trust relationship",
      description: DELETING,
      params: relationship,
      body: { media: "form", schema: deleteForm(), required: true },
      responses: { 200: CONFIRM, 303: to("/settings/projects/{project_id}?done=relationship-deleted or /settings/sign-in") },
      errors: POSTING,
    },
    ...tokenFormOperations("/settings/projects/{project_id}/tokens", "a project token", "/settings/projects/{project_id}"),
  };
};
