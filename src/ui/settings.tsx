/**
 * The settings page (`/settings`): server-rendered HTML over the same data as the admin
 * API, for people who have never read the API. Mounted by `app.ts`; one log line per
 * request comes from there, as for every route.
 *
 * HTTP only, like `routes/`: check the origin of every POST, resolve the session, read
 * and check the form, call the same admin verbs as the API (`admin/`) with the session's
 * principal, render. Signing in and out and the first page are here; each page and its
 * forms are in `routes/` (organization, project, its exchanges and explain, account). Refusals render as pages with the wire's status and error code (in
 * `data-error`), never as JSON. What this file does not do: decide who may touch what
 * (`access/reach.ts`, through the verbs) or keep any token.
 */
import * as z from "../schema";
import { getOrganization } from "../admin/organizations";
import { listMembers } from "../admin/users";
import { listUserOrgIds } from "../db/users";
import { documentedOnly } from "../documented";
import { StsError, toWire, type Reason } from "../errors";
import { adminContextFor, type AppEnv } from "../routes/context";
import { bookmarkOf, databaseOf, startSession } from "../routes/database";
import type { Operations } from "../routes/document";
import { Hono } from "../routes/hono";
import { serveStaticAsset } from "../routes/static-asset";
import { ASSET_CACHE_CONTROL, findAsset } from "./assets";
import { logRefusal, rememberSession, render, sessionOf, toSignIn } from "./context";
import { html, READING, SIGNED_IN, to } from "./operations";
import { accountOperations, accountRoutes } from "./routes/account";
import { exchangeOperations, exchangeRoutes } from "./routes/exchanges";
import { orgOperations, orgRoutes } from "./routes/org";
import { projectOperations, projectRoutes } from "./routes/project";
import { limitSession, limitSignIn, readForm, requireSameOrigin, pageHeaders } from "./security";
import {
  bookmarkCookie,
  currentSession,
  requireSessionCsrf,
  requireSignInFormToken,
  setBookmarkCookie,
  signIn,
  signInFormToken,
  signOut,
} from "./session";
import { ErrorPage } from "./views/error";
import { OperatorHome, UserHome } from "./views/home";
import { SignInPage, type SignInError } from "./views/sign-in";

/** The longest credential the admin API reads from a bearer header. */
const MAX_TOKEN_LENGTH = 8192;

/** What the sign-in page says for each way a sign-in can be refused. */
const SIGN_IN_MESSAGES: Partial<Record<Reason, string>> = {
  unauthenticated: "That token was not recognised. Check that you pasted all of it, and that it has not been deleted.",
  insufficient_scope:
    "Project, job and pull tokens cannot administer anything. Sign in with a user token, an organization token or the operator's ADMIN_TOKEN.",
  field_invalid: "Paste a token into the field.",
  rate_limited: "Too many sign-in attempts from your network. Wait a minute and try again.",
};

const ERROR_TITLES: Record<number, string> = {
  400: "Bad request",
  403: "Refused",
  404: "Not found",
  409: "Conflict",
  413: "Too large",
  415: "Bad request",
  429: "Too many requests",
  500: "Server error",
  503: "Temporarily unavailable",
};

/** The form fields each post reads (documentation: the handlers read them one by one). */
const SignInForm = /* @__PURE__ */ documentedOnly(() => z.object({ csrf: z.string(), token: z.string().check(z.minLength(1), z.maxLength(MAX_TOKEN_LENGTH)) }));
const SignOutForm = /* @__PURE__ */ documentedOnly(() => z.object({ csrf: z.string() }));

/**
 * The routes below and those of `routes/`, documented (a function, so the worker's bundle
 * drops it: only `npm run openapi` calls it).
 */
export const settingsOperations = (): Operations => ({
  "GET /settings/assets/{name}": {
    tag: "settings page",
    summary: "The page's stylesheet and script, under content-addressed names",
    security: "none",
    page: true,
    params: { name: "`style.<hash>.css` or `client.<hash>.js`, as a page links them; any other name is not found" },
    responses: {
      200: { description: "The file (`Cache-Control: public, max-age=31536000, immutable`)", text: ["text/css", "text/javascript"] },
    },
    errors: [404, 500],
  },
  "GET /settings/sign-in": {
    tag: "settings page",
    summary: "The sign-in page: paste a user token, an organization token or ADMIN_TOKEN",
    security: "none",
    page: true,
    responses: { 200: html("The sign-in form"), 303: to("/settings") },
    errors: [429, 500, 503],
  },
  "POST /settings/sign-in": {
    tag: "settings page",
    summary: "Sign in: a session behind a `__Host-` cookie, re-checked against the credential on every request",
    description: "A refused sign-in shows the sign-in page again, with the wire's status and error code.",
    security: "none",
    page: true,
    body: { media: "form", schema: SignInForm, required: true },
    responses: { 303: to("/settings") },
    errors: [400, 401, 403, 413, 415, 429, 500, 503],
  },
  "POST /settings/sign-out": {
    ...SIGNED_IN,
    summary: "Sign out: the session is deleted",
    body: { media: "form", schema: SignOutForm, required: true },
    responses: { 303: to("/settings/sign-in") },
    errors: [400, 403, 413, 415, 429, 500, 503],
  },
  "GET /settings": {
    ...SIGNED_IN,
    summary: "Home: the operator's, or a user's organizations (an organization token goes to its organization)",
    responses: {
      200: html("The home page"),
      303: to("/settings/sign-in or /settings/orgs/{org_id}", "Redirect to the sign-in page, or an organization token to its organization's page"),
    },
    errors: READING,
  },
  ...orgOperations(),
  ...projectOperations(),
  ...exchangeOperations(),
  ...accountOperations(),
});

export const settingsApp = new Hono<AppEnv>();

settingsApp.use("*", pageHeaders);

settingsApp.get("/assets/:name", (c) => {
  const asset = findAsset(c.req.param("name"));
  if (!asset) throw new StsError("route_not_found");
  return serveStaticAsset(c, asset.path, { "Content-Type": asset.contentType, "Cache-Control": ASSET_CACHE_CONTROL });
});

// Every page and form: POSTs from our own origin only, then the session, re-checked.
// Pages read a replica at least as new as the browser's last change (its bookmark cookie);
// changes are decided on the primary, and leave their bookmark in that cookie.
settingsApp.use("*", async (c, next) => {
  const changing = c.req.method === "POST";
  if (changing) requireSameOrigin(c);
  startSession(c, changing ? "first-primary" : (bookmarkCookie(c) ?? "first-unconstrained"));
  const session = await currentSession(c);
  rememberSession(c, session);
  if (session) await limitSession(c, session.principal);
  await next();
  const bookmark = changing ? bookmarkOf(c) : null;
  if (bookmark) setBookmarkCookie(c, bookmark);
});

settingsApp.get("/sign-in", async (c) => {
  if (sessionOf(c)) return c.redirect("/settings", 303);
  return render(c, <SignInPage csrf={await signInFormToken(c)} />);
});

settingsApp.post("/sign-in", async (c) => {
  try {
    await limitSignIn(c);
    const form = await readForm(c);
    await requireSignInFormToken(c, form.get("csrf"));
    const token = (form.get("token") ?? "").trim();
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || /[^\x21-\x7e]/.test(token)) {
      throw new StsError("field_invalid", "token: paste a token");
    }
    await signIn(c, token);
    return c.redirect("/settings", 303);
  } catch (error) {
    const message = error instanceof StsError ? SIGN_IN_MESSAGES[error.reason] : undefined;
    if (!(error instanceof StsError) || message === undefined) throw error;
    logRefusal(c, error);
    const wire = toWire(error.reason);
    if (wire.retryAfter !== undefined) c.header("Retry-After", String(wire.retryAfter));
    const failure: SignInError = { code: wire.error, message };
    return render(c, <SignInPage csrf={await signInFormToken(c)} error={failure} />, wire.status);
  }
});

settingsApp.post("/sign-out", async (c) => {
  const session = sessionOf(c);
  if (session) await requireSessionCsrf(session, (await readForm(c)).get("csrf"));
  await signOut(c);
  return toSignIn(c);
});

settingsApp.get("/", async (c) => {
  const session = sessionOf(c);
  if (!session) return toSignIn(c);
  const principal = session.principal;
  switch (principal.kind) {
    case "operator":
      return render(c, <OperatorHome session={session} />);
    case "organization":
      return c.redirect(`/settings/orgs/${principal.orgId}`, 303);
    case "user": {
      // No verb lists a user's organizations (the API has no such route): the memberships
      // are read as stored, then each organization through the verb that authorizes it.
      const ctx = adminContextFor(c, principal);
      const orgs = [];
      for (const id of await listUserOrgIds(databaseOf(c), principal.userId)) {
        const [org, members] = await Promise.all([getOrganization(ctx, id), listMembers(ctx, id)]);
        const role = members.find((m) => m.user_id === principal.userId)?.role;
        if (role) orgs.push({ org, role });
      }
      orgs.sort((a, b) => a.org.name.localeCompare(b.org.name));
      return render(c, <UserHome session={session} orgs={orgs} />);
    }
    default:
      return toSignIn(c);
  }
});

settingsApp.route("/", orgRoutes);
settingsApp.route("/", projectRoutes);
settingsApp.route("/", exchangeRoutes);
settingsApp.route("/", accountRoutes);

settingsApp.all("*", () => {
  throw new StsError("route_not_found");
});

settingsApp.onError((error, c) => {
  const reason: Reason = error instanceof StsError ? error.reason : "internal";
  const log = c.get("log");
  if (error instanceof StsError) logRefusal(c, error);
  else {
    log.reason = reason;
    log.detail = error instanceof Error ? error.name : "non-error thrown";
  }
  const wire = toWire(reason, error instanceof StsError ? error.detail : undefined);
  if (wire.retryAfter !== undefined) c.header("Retry-After", String(wire.retryAfter));
  const title = ERROR_TITLES[wire.status] ?? "Error";
  return render(c, <ErrorPage session={sessionOf(c)} title={title} code={wire.error} message={wire.description} />, wire.status);
});
