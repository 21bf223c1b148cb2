/**
 * Reading an organization's audit log: the query's schema and the verb every door calls
 * (the admin API now, the settings page's "recent exchanges" later), so both accept the
 * same filters and refuse the same values with the same words.
 *
 * Access is `authorizeOrg(…, "admin")` (access/reach.ts): the operator, the organization's
 * token, an admin member's user token; a member is 403, a project, job or pull token 403
 * (no `api` scope), another organization's credential 404. It reads no request: a door
 * passes its parameters validated with `AuditQuery`, or a reader that does so, called only
 * once the caller may read (so a refused caller learns nothing from its parameters' errors).
 */
import * as z from "../schema";
import { authorizeOrg, type ReachContext } from "../access/reach";
import { readInput, type Input } from "../admin/context";
import { ID_PATTERN } from "../db/d1";
import { StsError } from "../errors";
import { decodeCursor, encodeCursor } from "./cursor";
import { EVENT_KINDS, EXCHANGE_OUTCOMES, eventIdFloor } from "./events";
import { listAuditEvents, type AuditFilters, type RenderedEvent } from "./store";

export const DEFAULT_AUDIT_PAGE = 50;
export const MAX_AUDIT_PAGE = 200;

/** Unix seconds, or an RFC 3339 date-time with its offset (`Z` or ±hh:mm). */
const TIME = /^(?:[0-9]{1,12}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2}))$/;
const toMs = (s: string): number => (/^[0-9]+$/.test(s) ? Number(s) * 1000 : Date.parse(s));
const TIME_ERROR = "must be Unix seconds or an RFC 3339 date-time";
const Time = z.pipe(z.string().check(z.regex(TIME, TIME_ERROR)), z.transform(toMs)).check(z.refine(Number.isFinite, TIME_ERROR));

/** The listing's parameters, as strings (a query string or a form); anything else is refused by name. */
export const AuditQuery = z.strictObject({
  project_id: z.optional(z.string().check(z.regex(ID_PATTERN.prj, "must be a project ID (prj_…)"))),
  kind: z.optional(z.enum(EVENT_KINDS)),
  outcome: z.optional(z.enum(EXCHANGE_OUTCOMES)),
  since: z.optional(Time),
  until: z.optional(Time),
  cursor: z.optional(z.string().check(z.maxLength(512))),
  limit: z.optional(
    z
      .pipe(z.string().check(z.regex(/^[0-9]{1,4}$/, "must be a whole number")), z.transform(Number))
      .check(z.refine((n) => n >= 1 && n <= MAX_AUDIT_PAGE, `must be 1 to ${MAX_AUDIT_PAGE}`)),
  ),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

export interface AuditPage {
  events: RenderedEvent[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

/** `GET /v1/orgs/{org_id}/audit`: one page of the organization's events, newest first. */
export async function listOrgAudit(ctx: ReachContext, orgId: string, input: Input<AuditQuery>): Promise<AuditPage> {
  const org = await authorizeOrg(ctx, orgId, "admin");
  const query = await readInput(input);
  if (query.outcome !== undefined && query.kind === "admin") throw new StsError("field_invalid", "outcome: applies to exchange events only");
  if (query.since !== undefined && query.until !== undefined && query.until <= query.since) {
    throw new StsError("field_invalid", "until: must be later than since");
  }
  const filters: AuditFilters = {
    projectId: query.project_id,
    kind: query.kind,
    outcome: query.outcome,
    fromId: query.since === undefined ? undefined : eventIdFloor(query.since),
    toId: query.until === undefined ? undefined : eventIdFloor(query.until),
  };
  const beforeId = query.cursor === undefined ? undefined : await decodeCursor(query.cursor, org.id, filters);
  const { events, more } = await listAuditEvents(ctx.db, org.id, filters, { beforeId, limit: query.limit ?? DEFAULT_AUDIT_PAGE });
  const next = more ? await encodeCursor(org.id, filters, events[events.length - 1]!.id) : null;
  return { events, next_cursor: next };
}
