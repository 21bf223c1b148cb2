/**
 * The account page: who is signed in and, for a user, their own user tokens (creating and
 * deleting them). The operator and organization tokens have no user tokens here: their
 * posts are not found, as another user's tokens are.
 */
import { listStaticTokens, type OwnerRef } from "../../admin/static-tokens";
import { StsError } from "../../errors";
import { adminContextFor, type AppContext, type AppEnv } from "../../routes/context";
import type { Operations } from "../../routes/document";
import { Hono } from "../../routes/hono";
import { change, noticeOf, page, render, type PageStatus } from "../context";
import { html, noticeQuery, SIGNED_IN, to, tokenFormOperations } from "../operations";
import type { UiSession } from "../session";
import { AccountPage, type AccountPageState } from "../views/account";
import { deleteTokenFromForm, issueToken } from "./tokens";

const ACCOUNT = "/settings/account";

/** The signed-in user's own tokens; nobody else has an account's tokens. */
function ownTokens(session: UiSession): OwnerRef {
  const principal = session.principal;
  if (principal.kind !== "user") throw new StsError("not_found");
  return { kind: "user", userId: principal.userId };
}

async function renderAccountPage(c: AppContext, session: UiSession, state: AccountPageState = {}, status: PageStatus = 200) {
  const principal = session.principal;
  const tokens = principal.kind === "user" ? await listStaticTokens(adminContextFor(c, principal), ownTokens(session)) : null;
  return render(c, <AccountPage session={session} tokens={tokens} state={state} />, status);
}

export const accountRoutes = new Hono<AppEnv>();

accountRoutes.get("/account", page(async (c, session) => {
  return renderAccountPage(c, session, { notice: noticeOf(c) });
}));

accountRoutes.post("/account/tokens", change(async (c, session, form) => {
  const { status, ...state } = await issueToken(c, session, ownTokens(session), form);
  return renderAccountPage(c, session, state, status);
}));

accountRoutes.post("/account/tokens/:token_id/delete", change(async (c, session, form) => {
  return deleteTokenFromForm(c, session, ownTokens(session), c.req.param("token_id")!, form, ACCOUNT);
}));

/** These routes, documented (only `npm run openapi` calls this). */
export const accountOperations = (): Operations => ({
  "GET /settings/account": {
    ...SIGNED_IN,
    summary: "The signed-in credential, and a user's own tokens",
    query: noticeQuery(),
    responses: { 200: html("The account page"), 303: to("/settings/sign-in") },
    errors: [429, 500, 503],
  },
  ...tokenFormOperations("/settings/account/tokens", "a user token of one's own", "/settings/account"),
});
