/**
 * A project's recent exchanges and explaining a refused one, for the organization's admins.
 *
 * HTTP only: the listing is `listOrgAudit` (the verb behind `GET /v1/orgs/{id}/audit`,
 * filtered to this project's exchanges, with its cursor), and explaining is
 * `explainSubjectToken` (the verb behind `POST /v1/projects/{id}/explain`) with the same
 * EXPLAIN_LIMITER budget per credential; who may read or explain is theirs to decide. The
 * pasted ID token goes from the form to the verb and nowhere else: never into a page, a
 * log line or storage.
 */
import * as z from "../../schema";
import { authorizeProject } from "../../access/reach";
import type { AdminContext } from "../../admin/context";
import { explainSubjectToken } from "../../admin/explain";
import { getOrganization } from "../../admin/organizations";
import { getProject } from "../../admin/projects";
import { EVENT_ID_PATTERN, eventIdMs } from "../../audit/events";
import { AuditQuery, listOrgAudit, MAX_AUDIT_PAGE } from "../../audit/queries";
import { StsError } from "../../errors";
import { performAudited } from "../../routes/audit";
import { adminContextFor, type AppContext, type AppEnv } from "../../routes/context";
import type { Operations } from "../../routes/document";
import { inspectContextOf } from "../../routes/explain";
import { Hono } from "../../routes/hono";
import { validate } from "../../validate";
import { change, page, refusedForm, render, type PageStatus } from "../context";
import { isFormRefusal } from "../forms";
import { form, html, POSTING, READING, SIGNED_IN, to } from "../operations";
import type { UiSession } from "../session";
import { ExchangesPage, ExplainPage, type ExchangeEvent, type ExplainPageData } from "../views/exchanges";

/** Exchanges per page: a screenful of cards. */
const EXCHANGES_PAGE = 20;

/**
 * The refused exchange `id` names, read through the listing: the ID carries its
 * millisecond, so the listing of that millisecond holds it. Anything else is no event.
 */
async function refusedExchange(ctx: AdminContext, orgId: string, projectId: string, id: string | undefined): Promise<ExchangeEvent | undefined> {
  if (id === undefined || !EVENT_ID_PATTERN.test(id)) return undefined;
  const ms = eventIdMs(id);
  const query: AuditQuery = { project_id: projectId, kind: "exchange", outcome: "refused", since: ms, until: ms + 1, limit: MAX_AUDIT_PAGE };
  const { events } = await listOrgAudit(ctx, orgId, query);
  return events.filter(isExchange).find((e) => e.id === id);
}

const isExchange = (e: { kind: string }): e is ExchangeEvent => e.kind === "exchange";

/** The explain page, for the project's admins only, with the exchange it was opened from. */
async function explainPage(c: AppContext, session: UiSession, projectId: string, eventId: string | undefined, extra: Partial<ExplainPageData> = {}, status: PageStatus = 200) {
  const ctx = adminContextFor(c, session.principal);
  const project = await authorizeProject(ctx, projectId, "admin");
  const [org, event] = await Promise.all([getOrganization(ctx, project.org_id), refusedExchange(ctx, project.org_id, project.id, eventId)]);
  return render(c, <ExplainPage session={session} data={{ org, project, event, ...extra }} />, status);
}

export const exchangeRoutes = new Hono<AppEnv>();

exchangeRoutes.get("/projects/:project_id/exchanges", page(async (c, session) => {
  const ctx = adminContextFor(c, session.principal);
  const project = await getProject(ctx, c.req.param("project_id")!);
  const { cursor, outcome } = c.req.query();
  // The filter's "all" is an empty outcome; anything else is the listing's to accept or refuse.
  const filters = { project_id: project.id, kind: "exchange", limit: String(EXCHANGES_PAGE), cursor, outcome: outcome || undefined };
  const query = async () => validate(AuditQuery, filters);
  const [{ events, next_cursor }, org] = await Promise.all([listOrgAudit(ctx, project.org_id, query), getOrganization(ctx, project.org_id)]);
  const data = { org, project, events: events.filter(isExchange), next: next_cursor, paged: cursor !== undefined, outcome: filters.outcome as "minted" | "refused" | undefined };
  return render(c, <ExchangesPage session={session} data={data} />);
}));

exchangeRoutes.get("/projects/:project_id/explain", page(async (c, session) => {
  return explainPage(c, session, c.req.param("project_id")!, c.req.query("event"));
}));

exchangeRoutes.post("/projects/:project_id/explain", change(async (c, session, fields) => {
  const projectId = c.req.param("project_id")!;
  const eventId = fields.get("event");
  // Read only once the caller may explain and has budget left (the verb calls it then).
  const read = async () => {
    const token = fields.get("subject_token")?.trim();
    if (!token) throw new StsError("field_invalid", "subject_token: paste the job's ID token");
    return { subject_token: token };
  };
  try {
    const ctx = inspectContextOf(c, adminContextFor(c, session.principal));
    const explanation = await performAudited(c, ctx, (ctx) => explainSubjectToken(ctx, projectId, read));
    return explainPage(c, session, projectId, eventId, { explanation });
  } catch (error) {
    if (!isFormRefusal(error)) throw error;
    // The form comes back empty: the token is never echoed.
    const { state, status } = refusedForm(c, error, new Map(), ["subject_token"]);
    return explainPage(c, session, projectId, eventId, { state }, status);
  }
}));

/** These routes, documented (only `npm run openapi` calls this). */
export const exchangeOperations = (): Operations => ({
  "GET /settings/projects/{project_id}/exchanges": {
    ...SIGNED_IN,
    summary: "A project's recent exchanges from the audit log, newest first (admins of its organization)",
    description: `Reads \`GET /v1/orgs/{org_id}/audit\`'s listing for this project's exchanges, ${EXCHANGES_PAGE} a page; a member is refused (403).`,
    query: z.object({
      outcome: z.optional(z.string()).check(z.describe("`refused` or `minted` for those only; empty or absent for all")),
      cursor: z.optional(z.string()).check(z.describe("The listing's cursor, from the page's *Older exchanges* link")),
    }),
    responses: { 200: html("The exchanges"), 303: to("/settings/sign-in") },
    errors: [400, 403, ...READING],
  },
  "GET /settings/projects/{project_id}/explain": {
    ...SIGNED_IN,
    summary: "The explain form, with the refused exchange it was opened from (admins of the project)",
    query: z.object({ event: z.optional(z.string()).check(z.describe("A refused exchange's event ID (`evt_…`), shown beside the form; anything else is ignored")) }),
    responses: { 200: html("The explain form"), 303: to("/settings/sign-in") },
    errors: [403, ...READING],
  },
  "POST /settings/projects/{project_id}/explain": {
    ...SIGNED_IN,
    summary: "Explain a subject token against this project, as POST /v1/projects/{project_id}/explain does",
    description:
      "`subject_token` is the job's ID token; `event`, optionally, the exchange it is about. Answers with explain's whole trace on the page (the token itself is never shown, stored or logged); the same EXPLAIN_LIMITER budget as the API. An empty token is 400 beside the field.",
    body: { media: "form", schema: form({ subject_token: z.string(), event: z.optional(z.string()) }), required: true },
    responses: { 200: html("The explanation and the form again, empty"), 303: to("/settings/sign-in") },
    errors: POSTING,
  },
});
