/**
 * The organization page and its forms: creating an organization (the operator), a project,
 * an organization token; adding and removing members; deleting organization tokens.
 *
 * HTTP only: each handler checks the session and its CSRF field, builds the verb's input
 * from the form and calls the admin verb with the session's principal. A refused field
 * renders the page again with the API's message beside that field; any other refusal is a
 * refusal page (`settings.tsx`'s onError).
 */
import * as z from "../../schema";
import { authorizeOrg } from "../../access/reach";
import { createOrganization, getOrganization, NewOrganization } from "../../admin/organizations";
import { createProject, listProjects, NewProject } from "../../admin/projects";
import { listStaticTokens } from "../../admin/static-tokens";
import { addMember, listMembers, NewMember, removeMember } from "../../admin/users";
import { ID_PATTERN } from "../../db/d1";
import type { Membership } from "../../db/users";
import { StsError } from "../../errors";
import { adminContextFor, type AppContext, type AppEnv } from "../../routes/context";
import type { Operations } from "../../routes/document";
import { Hono } from "../../routes/hono";
import { validate } from "../../validate";
import { change, noticeOf, page, perform, refusedForm, render, seeOther, type PageStatus } from "../context";
import { isConfirmed, isFormRefusal } from "../forms";
import { CONFIRM, deleteForm, DELETING, form, html, noticeQuery, POSTING, READING, SIGNED_IN, to, tokenFormOperations } from "../operations";
import type { UiSession } from "../session";
import { ConfirmPage, CONSEQUENCES } from "../views/confirm";
import { OperatorHome } from "../views/home";
import { OrgPage, type OrgPageState, type Standing } from "../views/org";
import { deleteTokenFromForm, issueToken } from "./tokens";

/** How the session's principal stands in an organization whose members are these. */
export function standingOf(session: UiSession, members: Membership[]): Standing {
  const principal = session.principal;
  if (principal.kind === "operator") return "operator";
  if (principal.kind === "organization") return "organization token";
  const role = principal.kind === "user" ? members.find((m) => m.user_id === principal.userId)?.role : undefined;
  return role ?? "member";
}

async function renderOrgPage(c: AppContext, session: UiSession, orgId: string, state: OrgPageState = {}, status: PageStatus = 200) {
  const ctx = adminContextFor(c, session.principal);
  const org = await getOrganization(ctx, orgId);
  const [projects, members, tokens] = await Promise.all([
    listProjects(ctx, org.id),
    listMembers(ctx, org.id),
    listStaticTokens(ctx, { kind: "organization", orgId: org.id }),
  ]);
  const data = { org, standing: standingOf(session, members), projects, members, tokens };
  return render(c, <OrgPage session={session} data={data} state={state} />, status);
}

export const orgRoutes = new Hono<AppEnv>();

// The operator's "open an organization by ID" form (GET: an ID is not a secret).
orgRoutes.get("/orgs", page((c, session) => {
  const id = (c.req.query("org_id") ?? "").trim();
  if (!ID_PATTERN.org.test(id)) {
    c.get("log").reason = "not_found";
    return render(c, <OperatorHome session={session} notFound />, 404);
  }
  return c.redirect(`/settings/orgs/${id}`, 303);
}));

orgRoutes.get("/orgs/:org_id", page(async (c, session) => {
  return renderOrgPage(c, session, c.req.param("org_id")!, { notice: noticeOf(c) });
}));

// The operator creates organizations (anyone else is refused by the verb, before the form is read).
orgRoutes.post("/orgs", change(async (c, session, form) => {
  try {
    const org = await perform(c, session, (ctx) => createOrganization(ctx, async () => validate(NewOrganization, { name: form.get("name") ?? "" })));
    return seeOther(c, `/settings/orgs/${org.id}`, "org-created");
  } catch (error) {
    if (!isFormRefusal(error)) throw error;
    const { state, status } = refusedForm(c, error, form, ["name"]);
    return render(c, <OperatorHome session={session} state={state} />, status);
  }
}));

orgRoutes.post("/orgs/:org_id/projects", change(async (c, session, form) => {
  const orgId = c.req.param("org_id")!;
  try {
    const read = async () => validate(NewProject, { name: form.get("name") ?? "" });
    const project = await perform(c, session, (ctx) => createProject(ctx, orgId, read));
    return seeOther(c, `/settings/projects/${project.id}`, "project-created");
  } catch (error) {
    if (!isFormRefusal(error)) throw error;
    const { state, status } = refusedForm(c, error, form, ["name"]);
    return renderOrgPage(c, session, orgId, { project: state }, status);
  }
}));

orgRoutes.post("/orgs/:org_id/members", change(async (c, session, form) => {
  const orgId = c.req.param("org_id")!;
  try {
    const read = async () => validate(NewMember, { user_id: (form.get("user_id") ?? "").trim(), role: form.get("role") ?? "" });
    const member = await perform(c, session, (ctx) => addMember(ctx, orgId, read));
    return seeOther(c, `/settings/orgs/${orgId}`, "member-added", member.user_id);
  } catch (error) {
    if (!isFormRefusal(error)) throw error;
    const { state, status } = refusedForm(c, error, form, ["user_id", "role"]);
    return renderOrgPage(c, session, orgId, { member: state }, status);
  }
}));

orgRoutes.post("/orgs/:org_id/members/:user_id/delete", change(async (c, session, form) => {
  const orgId = c.req.param("org_id")!;
  const userId = c.req.param("user_id")!;
  if (!isConfirmed(form)) {
    const ctx = adminContextFor(c, session.principal);
    const org = await authorizeOrg(ctx, orgId, "admin");
    if (!(await listMembers(ctx, org.id)).some((m) => m.user_id === userId)) throw new StsError("not_found");
    const confirm = { what: `member ${userId}`, consequence: CONSEQUENCES.member, action: c.req.path, back: `/settings/orgs/${org.id}`, confirmLabel: "Remove" };
    return render(c, <ConfirmPage session={session} confirm={confirm} />);
  }
  await perform(c, session, (ctx) => removeMember(ctx, orgId, userId));
  // Removing oneself ends one's reach into the organization: its page would be "not found".
  const self = session.principal.kind === "user" && session.principal.userId === userId;
  return self ? c.redirect("/settings", 303) : seeOther(c, `/settings/orgs/${orgId}`, "member-removed");
}));

orgRoutes.post("/orgs/:org_id/tokens", change(async (c, session, form) => {
  const orgId = c.req.param("org_id")!;
  const { status, ...state } = await issueToken(c, session, { kind: "organization", orgId }, form);
  return renderOrgPage(c, session, orgId, state, status);
}));

orgRoutes.post("/orgs/:org_id/tokens/:token_id/delete", change(async (c, session, form) => {
  const orgId = c.req.param("org_id")!;
  return deleteTokenFromForm(c, session, { kind: "organization", orgId }, c.req.param("token_id")!, form, `/settings/orgs/${orgId}`);
}));

/** These routes, documented (only `npm run openapi` calls this). */
export const orgOperations = (): Operations => ({
  "GET /settings/orgs": {
    ...SIGNED_IN,
    summary: "The operator's \"open an organization by ID\" form",
    query: z.object({ org_id: z.string() }),
    responses: { 303: to("/settings/orgs/{org_id} or /settings/sign-in", "Redirect to the organization's page (or to the sign-in page)") },
    errors: READING,
  },
  "GET /settings/orgs/{org_id}": {
    ...SIGNED_IN,
    summary: "An organization: its projects, members and organization tokens, with their forms for its admins",
    query: noticeQuery(),
    responses: { 200: html("The organization's page"), 303: to("/settings/sign-in") },
    errors: READING,
  },
  "POST /settings/orgs": {
    ...SIGNED_IN,
    summary: "Create an organization (the operator)",
    body: { media: "form", schema: form(NewOrganization.shape), required: true },
    responses: { 303: to("/settings/orgs/{org_id}?done=org-created or /settings/sign-in") },
    errors: POSTING,
  },
  "POST /settings/orgs/{org_id}/projects": {
    ...SIGNED_IN,
    summary: "Create a project",
    body: { media: "form", schema: form(NewProject.shape), required: true },
    responses: { 303: to("/settings/projects/{project_id}?done=project-created or /settings/sign-in") },
    errors: POSTING,
  },
  "POST /settings/orgs/{org_id}/members": {
    ...SIGNED_IN,
    summary: "Add a member by user ID, with a role",
    body: { media: "form", schema: form(NewMember.shape), required: true },
    responses: { 303: to("/settings/orgs/{org_id}?done=member-added or /settings/sign-in") },
    errors: POSTING,
  },
  "POST /settings/orgs/{org_id}/members/{user_id}/delete": {
    ...SIGNED_IN,
    summary: "Remove a member",
    description: DELETING,
    body: { media: "form", schema: deleteForm(), required: true },
    responses: { 200: CONFIRM, 303: to("/settings/orgs/{org_id}?done=member-removed, /settings (oneself) or /settings/sign-in") },
    errors: POSTING,
  },
  ...tokenFormOperations("/settings/orgs/{org_id}/tokens", "an organization token", "/settings/orgs/{org_id}"),
});
