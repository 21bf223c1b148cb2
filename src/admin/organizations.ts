/**
 * Organizations (SPEC §5): the operator creates them; whoever reaches one may read it.
 * Access is decided by `access/reach.ts`; storage is `db/organizations.ts`.
 */
import * as z from "../schema";
import { authorizeOrg, requireOperator } from "../access/reach";
import { ID_PATTERN } from "../db/d1";
import * as stored from "../db/organizations";
import type { Organization } from "../db/organizations";
import { documentedOnly } from "../documented";
import type { Changed } from "./changes";
import { readInput, type AdminContext, type Input } from "./context";

/** A display name: trimmed, 1–200 characters (organizations and projects alike). */
export const DisplayName = z.string().check(z.trim(), z.minLength(1), z.maxLength(200));

export const NewOrganization = z.strictObject({ name: DisplayName });
export type NewOrganization = z.infer<typeof NewOrganization>;

/** An organization as the API shows it (`db/organizations.ts` builds it). */
export const OrganizationView = /* @__PURE__ */ documentedOnly(() => z.object({ id: z.string().check(z.regex(ID_PATTERN.org)), name: z.string(), created_at: z.number().check(z.int()) }));

/** `POST /v1/orgs`: the operator only. */
export async function createOrganization(ctx: AdminContext, input: Input<NewOrganization>): Promise<Changed<Organization>> {
  requireOperator(ctx.principal);
  const { name } = await readInput(input);
  const org = await stored.createOrganization(ctx.db, name, ctx.now);
  return { result: org, change: { action: "organization.create", orgId: org.id, after: org } };
}

/** `GET /v1/orgs/{org_id}`. */
export function getOrganization(ctx: AdminContext, orgId: string): Promise<Organization> {
  return authorizeOrg(ctx, orgId, "read");
}
