/**
 * Users and their memberships of organizations (SPEC §5): the operator creates users; a
 * user reads themselves; an organization's admins add and remove members, and whoever
 * reaches the organization lists them. To change a role, remove and add again.
 */
import * as z from "../schema";
import { authorizeOrg, authorizeUser, pathId, requireOperator } from "../access/reach";
import { ID_PATTERN } from "../db/d1";
import * as stored from "../db/users";
import type { Membership, User } from "../db/users";
import { documentedOnly } from "../documented";
import { StsError } from "../errors";
import type { Changed } from "./changes";
import { readInput, type AdminContext, type Input } from "./context";
import { DisplayName } from "./organizations";

export const NewUser = z.strictObject({
  name: DisplayName,
  // Emails are compared case-insensitively by every mail system users meet; store one spelling.
  email: z.pipe(z.email().check(z.maxLength(254)), z.transform((e) => e.toLowerCase())),
});
export type NewUser = z.infer<typeof NewUser>;

export const NewMember = z.strictObject({
  user_id: z.string().check(z.regex(ID_PATTERN.usr, "must be a user ID (usr_…)")),
  role: z.enum(["admin", "member"]),
});
export type NewMember = z.infer<typeof NewMember>;

/** A user and a membership as the API shows them (`db/users.ts` builds them). */
export const UserView = /* @__PURE__ */ documentedOnly(() => z.object({ id: z.string().check(z.regex(ID_PATTERN.usr)), name: z.string(), email: z.string(), created_at: z.number().check(z.int()) }));
export const MembershipView = /* @__PURE__ */ documentedOnly(() => z.object({
  org_id: z.string().check(z.regex(ID_PATTERN.org)),
  user_id: z.string().check(z.regex(ID_PATTERN.usr)),
  role: z.enum(["admin", "member"]),
  created_at: z.number().check(z.int()),
}));

/** `POST /v1/users`: the operator only. A taken email is a `conflict`. */
export async function createUser(ctx: AdminContext, input: Input<NewUser>): Promise<Changed<User>> {
  requireOperator(ctx.principal);
  const { name, email } = await readInput(input);
  const user = await stored.createUser(ctx.db, name, email, ctx.now);
  return { result: user, change: { action: "user.create", userId: user.id, after: user } };
}

/** `GET /v1/users/{user_id}`: the user themselves or the operator. */
export function getUser(ctx: AdminContext, userId: string): Promise<User> {
  return authorizeUser(ctx, userId);
}

/** `POST /v1/orgs/{org_id}/members`: an admin. An unknown user is `field_invalid`, an existing member `conflict`. */
export async function addMember(ctx: AdminContext, orgId: string, input: Input<NewMember>): Promise<Changed<Membership>> {
  const org = await authorizeOrg(ctx, orgId, "admin");
  const { user_id, role } = await readInput(input);
  const membership = await stored.addMember(ctx.db, org.id, user_id, role, ctx.now);
  if (!membership) throw new StsError("field_invalid", "user_id: no such user");
  return { result: membership, change: { action: "member.add", orgId: org.id, userId: user_id, after: membership } };
}

/** `GET /v1/orgs/{org_id}/members`. */
export async function listMembers(ctx: AdminContext, orgId: string): Promise<Membership[]> {
  const org = await authorizeOrg(ctx, orgId, "read");
  return stored.listMembers(ctx.db, org.id);
}

/** `DELETE /v1/orgs/{org_id}/members/{user_id}`: an admin. The user's pull tokens for the organization die with it. */
export async function removeMember(ctx: AdminContext, orgId: string, userId: string): Promise<Changed<null>> {
  const org = await authorizeOrg(ctx, orgId, "admin");
  if (!(await stored.removeMember(ctx.db, org.id, pathId(ID_PATTERN.usr, userId)))) throw new StsError("not_found");
  return { result: null, change: { action: "member.remove", orgId: org.id, userId } };
}
