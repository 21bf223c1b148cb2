/**
 * The audit event of one admin change, from what the verb reported (admin/changes.ts) and
 * who acted: who (the operator, or a credential by its public ID), what (the action, the
 * resource's ID, and its state before and after as the admin API renders it), when, and
 * which organization it belongs to: the changed resource's. Changes to a user's own
 * resources (a new user, a user's tokens) belong to no organization.
 *
 * Nothing secret is ever in an event: a static token is named by its ID, kind and
 * description, a pull token by its `jti`, never by plaintext or hash.
 * Pure: no I/O; the producer sends what this returns.
 */
import type { Principal } from "../access/principal";
import type { AdminChange } from "../admin/changes";
import { AUDIT_EVENT_VERSION, newEventId, type Actor, type AdminEvent } from "./events";

export function actorOf(principal: Principal): Actor {
  switch (principal.kind) {
    case "operator":
      return { type: "operator" };
    case "user":
      return { type: "user", user_id: principal.userId, token_id: principal.tokenId };
    case "organization":
    case "project":
      return { type: principal.kind, token_id: principal.tokenId };
    case "oidc":
    case "pull":
      return { type: principal.kind, jti: principal.token.jti };
  }
}

type Located = Pick<AdminEvent, "org_id" | "project_id" | "resource_id" | "before" | "after">;

/** Where a change belongs and what it shows. */
function locate(change: AdminChange): Located {
  const where = { org_id: "orgId" in change ? change.orgId : null, project_id: "projectId" in change ? change.projectId : null };
  const shown = { before: "before" in change ? { ...change.before } : null, after: "after" in change ? { ...change.after } : null };
  switch (change.action) {
    case "organization.create":
      return { ...where, ...shown, resource_id: change.orgId };
    case "project.create":
    case "project.delete":
    case "project.explain":
      return { ...where, ...shown, resource_id: change.projectId };
    case "trust_relationship.create":
    case "trust_relationship.delete":
      return { ...where, ...shown, resource_id: change.trustRelationshipId };
    case "user.create":
    case "member.add":
    case "member.remove":
      return { ...where, ...shown, resource_id: change.userId };
    case "static_token.create":
      return { ...where, resource_id: change.tokenId, before: null, after: { id: change.tokenId, owner: change.owner, description: change.description } };
    case "static_token.delete":
      return { ...where, resource_id: change.tokenId, before: { id: change.tokenId, owner: change.owner }, after: null };
    case "pull_token.create":
      return { ...where, resource_id: change.jti, before: null, after: { jti: change.jti, expires_at: change.expiresAt } };
  }
}

export function adminEvent(change: AdminChange, principal: Principal, ctx: { requestId: string; nowMs: number }): AdminEvent {
  return {
    v: AUDIT_EVENT_VERSION,
    id: newEventId(ctx.nowMs),
    time: Math.floor(ctx.nowMs / 1000),
    request_id: ctx.requestId,
    kind: "admin",
    actor: actorOf(principal),
    action: change.action,
    ...locate(change),
  };
}
