/**
 * Every state-changing form of the settings page, on the wire: it does what it says for
 * whoever may do it; and a post without this session's CSRF token, from another origin,
 * without a session, aimed at another tenant's resource, or by a member who only reads is
 * refused with the wire's status and code, writing nothing. Refused fields come back
 * beside the field, in the API's words; deletions without the script's confirmation ask
 * on a page of their own first.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin } from "../support/api";
import { json } from "../tenancy/helpers";
import { errorCodeOf, expectFieldError, expectPageError, seed, seedOrg, storedState, UiBrowser, type SeededOrg } from "./support";

type Actor = "operator" | "adminUser" | "memberUser" | "org";
type Post = { path: string; fields: Record<string, string> };

async function signedInAs(t: SeededOrg, actor: Actor): Promise<UiBrowser> {
  const token = actor === "operator" ? env.ADMIN_TOKEN : actor === "org" ? t.tokens.org.token : t.tokens[actor].token;
  return new UiBrowser().signedIn(token);
}

/** Posts the form as a signed-in browser would: with this session's CSRF token. */
async function submit(browser: UiBrowser, post: Post, headers?: Record<string, string>): Promise<Response> {
  const csrf = await browser.csrfOf("/settings/account");
  return browser.post(post.path, { csrf, ...post.fields }, headers);
}

function expectRedirect(response: Response, location: RegExp) {
  expect(response.status).toBe(303);
  expect(response.headers.get("location")).toMatch(location);
}

const get = async <T = Record<string, unknown>>(path: string) => json<T>(await admin("GET", path), 200);

interface FormCase {
  route: string;
  /** Who may do it (an admin user, unless the verb is the operator's). */
  actor: Actor;
  post(t: SeededOrg): Promise<Post>;
  expectDone(response: Response, t: SeededOrg): Promise<void>;
  /** Fields the API refuses, the input the error sits beside and the field it names. */
  invalid?: { fields: (t: SeededOrg) => Record<string, string>; input: string; field: string };
  /** The same post aimed at another organization's resource. */
  foreign?(t: SeededOrg, other: SeededOrg): Post;
  /** Refused with 403 to a member who only reads (or, for the operator's verbs, to an admin user). */
  refusedTo: Actor;
  destructive?: boolean;
}

const CASES: FormCase[] = [
  {
    route: "POST /settings/orgs (create an organization)",
    actor: "operator",
    post: async () => ({ path: "/settings/orgs", fields: { name: "Fresh Org" } }),
    async expectDone(response) {
      expectRedirect(response, /^\/settings\/orgs\/org_[0-9a-z]+\?done=org-created$/);
      const id = /org_[0-9a-z]+/.exec(response.headers.get("location")!)![0];
      expect(await get(`/v1/orgs/${id}`)).toMatchObject({ name: "Fresh Org" });
    },
    invalid: { fields: () => ({ name: "   " }), input: "new-org-name", field: "name" },
    refusedTo: "adminUser",
  },
  {
    route: "POST /settings/orgs/:org_id/projects",
    actor: "adminUser",
    post: async (t) => ({ path: `/settings/orgs/${t.orgId}/projects`, fields: { name: "web" } }),
    async expectDone(response, t) {
      expectRedirect(response, /^\/settings\/projects\/prj_[0-9a-z]+\?done=project-created$/);
      const { projects } = await get<{ projects: { name: string }[] }>(`/v1/orgs/${t.orgId}/projects`);
      expect(projects.map((p) => p.name).sort()).toEqual(["app", "web"]);
    },
    invalid: { fields: () => ({ name: "" }), input: "new-project-name", field: "name" },
    foreign: (t, other) => ({ path: `/settings/orgs/${other.orgId}/projects`, fields: { name: "web" } }),
    refusedTo: "memberUser",
  },
  {
    route: "POST /settings/orgs/:org_id/members",
    actor: "adminUser",
    post: async (t) => ({ path: `/settings/orgs/${t.orgId}/members`, fields: { user_id: await seed.user(), role: "admin" } }),
    async expectDone(response, t) {
      expectRedirect(response, new RegExp(`^/settings/orgs/${t.orgId}\\?done=member-added#usr_[0-9a-z]+$`));
      const userId = /#(usr_[0-9a-z]+)$/.exec(response.headers.get("location")!)![1];
      const { members } = await get<{ members: { user_id: string; role: string }[] }>(`/v1/orgs/${t.orgId}/members`);
      expect(members).toContainEqual(expect.objectContaining({ user_id: userId, role: "admin" }));
    },
    invalid: { fields: () => ({ user_id: "bob@example.com", role: "member" }), input: "new-member-user_id", field: "user_id" },
    foreign: (t, other) => ({ path: `/settings/orgs/${other.orgId}/members`, fields: { user_id: t.otherUser, role: "admin" } }),
    refusedTo: "memberUser",
  },
  {
    route: "POST /settings/orgs/:org_id/members/:user_id/delete",
    actor: "adminUser",
    post: async (t) => ({ path: `/settings/orgs/${t.orgId}/members/${t.otherUser}/delete`, fields: { confirmed: "yes" } }),
    async expectDone(response, t) {
      expectRedirect(response, new RegExp(`^/settings/orgs/${t.orgId}\\?done=member-removed$`));
      const { members } = await get<{ members: { user_id: string }[] }>(`/v1/orgs/${t.orgId}/members`);
      expect(members.map((m) => m.user_id)).not.toContain(t.otherUser);
    },
    foreign: (t, other) => ({ path: `/settings/orgs/${other.orgId}/members/${other.otherUser}/delete`, fields: { confirmed: "yes" } }),
    refusedTo: "memberUser",
    destructive: true,
  },
  {
    route: "POST /settings/orgs/:org_id/tokens",
    actor: "adminUser",
    post: async (t) => ({ path: `/settings/orgs/${t.orgId}/tokens`, fields: { description: "deploy bot" } }),
    async expectDone(response, t) {
      const token = await expectIssuedToken(response, "sts_org_");
      expect((await admin("GET", `/v1/orgs/${t.orgId}`, undefined, token)).status).toBe(200);
    },
    invalid: { fields: () => ({ description: "x".repeat(501) }), input: "new-organization-token-description", field: "description" },
    foreign: (t, other) => ({ path: `/settings/orgs/${other.orgId}/tokens`, fields: { description: "deploy bot" } }),
    refusedTo: "memberUser",
  },
  {
    route: "POST /settings/orgs/:org_id/tokens/:token_id/delete",
    actor: "adminUser",
    post: async (t) => ({ path: `/settings/orgs/${t.orgId}/tokens/${t.tokens.org.id}/delete`, fields: { confirmed: "yes" } }),
    async expectDone(response, t) {
      expectRedirect(response, new RegExp(`^/settings/orgs/${t.orgId}\\?done=token-deleted$`));
      expect((await admin("GET", `/v1/orgs/${t.orgId}`, undefined, t.tokens.org.token)).status).toBe(401);
    },
    foreign: (t, other) => ({ path: `/settings/orgs/${other.orgId}/tokens/${other.tokens.org.id}/delete`, fields: { confirmed: "yes" } }),
    refusedTo: "memberUser",
    destructive: true,
  },
  {
    route: "POST /settings/projects/:project_id/delete",
    actor: "adminUser",
    post: async (t) => ({ path: `/settings/projects/${t.projectId}/delete`, fields: { confirmed: "yes" } }),
    async expectDone(response, t) {
      expectRedirect(response, new RegExp(`^/settings/orgs/${t.orgId}\\?done=project-deleted$`));
      expect((await admin("GET", `/v1/projects/${t.projectId}`)).status).toBe(404);
    },
    foreign: (t, other) => ({ path: `/settings/projects/${other.projectId}/delete`, fields: { confirmed: "yes" } }),
    refusedTo: "memberUser",
    destructive: true,
  },
  {
    route: "POST /settings/projects/:project_id/trust-relationships",
    actor: "adminUser",
    post: async (t) => ({
      path: `/settings/projects/${t.projectId}/trust-relationships`,
      fields: { provider: "github", owner: "acme", repository: "gadgets", condition_claim_0: "ref", condition_pattern_0: "refs/heads/main" },
    }),
    async expectDone(response, t) {
      expectRedirect(response, new RegExp(`^/settings/projects/${t.projectId}\\?done=relationship-added#trl_[0-9a-z]+$`));
      const id = /#(trl_[0-9a-z]+)$/.exec(response.headers.get("location")!)![1];
      expect(await get(`/v1/projects/${t.projectId}/trust-relationships/${id}`)).toMatchObject({
        provider: "github",
        owner: "acme",
        repository: "gadgets",
        conditions: { ref: "refs/heads/main" },
        token_ttl_seconds: 3600,
        description: "",
      });
    },
    invalid: {
      fields: () => ({ provider: "github", owner: "acme", repository: "https://github.com/acme/widgets" }),
      input: "rel-repository",
      field: "repository",
    },
    foreign: (t, other) => ({
      path: `/settings/projects/${other.projectId}/trust-relationships`,
      fields: { provider: "github", owner: "acme", repository: "gadgets" },
    }),
    refusedTo: "memberUser",
  },
  {
    route: "POST /settings/projects/:project_id/trust-relationships/:id/delete",
    actor: "adminUser",
    post: async (t) => ({ path: `/settings/projects/${t.projectId}/trust-relationships/${t.relationshipId}/delete`, fields: { confirmed: "yes" } }),
    async expectDone(response, t) {
      expectRedirect(response, new RegExp(`^/settings/projects/${t.projectId}\\?done=relationship-deleted$`));
      expect((await admin("GET", `/v1/projects/${t.projectId}/trust-relationships/${t.relationshipId}`)).status).toBe(404);
    },
    foreign: (t, other) => ({
      path: `/settings/projects/${t.projectId}/trust-relationships/${other.relationshipId}/delete`,
      fields: { confirmed: "yes" },
    }),
    refusedTo: "memberUser",
    destructive: true,
  },
  {
    route: "POST /settings/projects/:project_id/tokens",
    actor: "adminUser",
    post: async (t) => ({ path: `/settings/projects/${t.projectId}/tokens`, fields: { description: "registry pull" } }),
    async expectDone(response, t) {
      const token = await expectIssuedToken(response, "sts_prj_");
      expect((await admin("POST", `/v1/projects/${t.projectId}/pull-tokens`, undefined, token)).status).toBe(201);
    },
    invalid: { fields: () => ({ description: "x".repeat(501) }), input: "new-project-token-description", field: "description" },
    foreign: (t, other) => ({ path: `/settings/projects/${other.projectId}/tokens`, fields: { description: "x" } }),
    refusedTo: "memberUser",
  },
  {
    route: "POST /settings/projects/:project_id/tokens/:token_id/delete",
    actor: "adminUser",
    post: async (t) => ({ path: `/settings/projects/${t.projectId}/tokens/${t.tokens.project.id}/delete`, fields: { confirmed: "yes" } }),
    async expectDone(response, t) {
      expectRedirect(response, new RegExp(`^/settings/projects/${t.projectId}\\?done=token-deleted$`));
      expect((await admin("POST", `/v1/projects/${t.projectId}/pull-tokens`, undefined, t.tokens.project.token)).status).toBe(401);
    },
    // Another project's token under this project's path is not found, like a missing one.
    foreign: (t, other) => ({ path: `/settings/projects/${t.projectId}/tokens/${other.tokens.project.id}/delete`, fields: { confirmed: "yes" } }),
    refusedTo: "memberUser",
    destructive: true,
  },
  {
    route: "POST /settings/account/tokens",
    actor: "adminUser",
    post: async () => ({ path: "/settings/account/tokens", fields: { description: "second laptop" } }),
    async expectDone(response, t) {
      const token = await expectIssuedToken(response, "sts_usr_");
      expect((await admin("GET", `/v1/users/${t.adminUser}`, undefined, token)).status).toBe(200);
    },
    invalid: { fields: () => ({ description: "x".repeat(501) }), input: "new-user-token-description", field: "description" },
    // The operator and organization tokens have no user tokens of their own: not found.
    refusedTo: "org",
  },
  {
    route: "POST /settings/account/tokens/:token_id/delete",
    actor: "memberUser",
    post: async (t) => {
      const spare = await seed.token({ kind: "user", userId: t.memberUser }, "spare");
      return { path: `/settings/account/tokens/${spare.id}/delete`, fields: { confirmed: "yes" } };
    },
    async expectDone(response, t) {
      expectRedirect(response, /^\/settings\/account\?done=token-deleted$/);
      const { tokens } = await get<{ tokens: { description: string }[] }>(`/v1/users/${t.memberUser}/tokens`);
      expect(tokens.map((x) => x.description)).toEqual(["member laptop"]);
    },
    // Another user's token (same organization even) is not found.
    foreign: (t) => ({ path: `/settings/account/tokens/${t.tokens.adminUser.id}/delete`, fields: { confirmed: "yes" } }),
    refusedTo: "org",
    destructive: true,
  },
];

/** The creation answered with the owner's page holding the plaintext once, in the dialog; returns it. */
async function expectIssuedToken(response: Response, prefix: string): Promise<string> {
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  const html = await response.text();
  const dialog = /<dialog id="issued-token" data-modal="true" data-once="[^"]+" open="" [^>]*>[\s\S]*?<\/dialog>/.exec(html)?.[0];
  expect(dialog, "no open dialog with the new token").toBeDefined();
  const token = new RegExp(`<textarea id="issued-token-value"[^>]*>(${prefix}[A-Za-z0-9]+)</textarea>`).exec(dialog!)?.[1];
  expect(token).toBeDefined();
  expect(html.split(token!).length - 1, "plaintext shown once").toBe(1);
  expect(dialog).toContain('data-copy="issued-token-value"');
  return token!;
}

for (const c of CASES) {
  describe(c.route, () => {
    it("does what it says for whoever may do it", async () => {
      const t = await seedOrg();
      const browser = await signedInAs(t, c.actor);
      await c.expectDone(await submit(browser, await c.post(t)), t);
    });

    it("refuses a post without this session's CSRF token (missing, or another session's), writing nothing", async () => {
      const t = await seedOrg();
      const browser = await signedInAs(t, c.actor);
      const other = await (await signedInAs(t, c.actor)).csrfOf("/settings/account");
      const post = await c.post(t);
      const before = await storedState();
      await expectPageError(await browser.post(post.path, post.fields), 403, "access_denied");
      await expectPageError(await browser.post(post.path, { ...post.fields, csrf: other }), 403, "access_denied");
      expect(await storedState()).toEqual(before);
    });

    it("refuses a post from another origin even with the session's CSRF token, writing nothing", async () => {
      const t = await seedOrg();
      const browser = await signedInAs(t, c.actor);
      const post = await c.post(t);
      const before = await storedState();
      await expectPageError(await submit(browser, post, { origin: "https://evil.example", "sec-fetch-site": "cross-site" }), 403, "access_denied");
      await expectPageError(await submit(browser, post, { origin: "https://evil.example" }), 403, "access_denied");
      expect(await storedState()).toEqual(before);
    });

    it("sends a post without a session to sign in, writing nothing", async () => {
      const t = await seedOrg();
      const post = await c.post(t);
      const before = await storedState();
      expectRedirect(await new UiBrowser().post(post.path, { csrf: "x", ...post.fields }), /^\/settings\/sign-in$/);
      expect(await storedState()).toEqual(before);
    });

    it(`refuses ${c.refusedTo === "org" ? "an organization token's session (no user tokens of its own) with 404" : c.refusedTo === "adminUser" ? "anyone but the operator with 403" : "a member who only reads with 403"}, writing nothing`, async () => {
      const t = await seedOrg();
      const browser = await signedInAs(t, c.refusedTo);
      const post = await c.post(t);
      const before = await storedState();
      const [status, code] = c.refusedTo === "org" ? [404, "not_found"] : [403, "insufficient_scope"];
      await expectPageError(await submit(browser, post), status, code);
      if (c.destructive) await expectPageError(await submit(browser, { ...post, fields: { ...post.fields, confirmed: "" } }), status, code);
      expect(await storedState()).toEqual(before);
    });

    if (c.foreign) {
      const foreign = c.foreign;
      it("answers a post aimed at another tenant's resource with 404, as for one that does not exist, writing nothing", async () => {
        const t = await seedOrg("mine");
        const other = await seedOrg("theirs");
        const browser = await signedInAs(t, c.actor);
        const post = foreign(t, other);
        const before = await storedState();
        await expectPageError(await submit(browser, post), 404, "not_found");
        if (c.destructive) await expectPageError(await submit(browser, { ...post, fields: { confirmed: "" } }), 404, "not_found");
        expect(await storedState()).toEqual(before);
      });
    }

    if (c.invalid) {
      const invalid = c.invalid;
      it("renders the form again with the API's error beside the field, keeping what was typed, writing nothing", async () => {
        const t = await seedOrg();
        const browser = await signedInAs(t, c.actor);
        const { path } = await c.post(t);
        const fields = invalid.fields(t);
        const before = await storedState();
        const response = await submit(browser, { path, fields });
        expect(response.status).toBe(400);
        const html = await response.text();
        expect(errorCodeOf(html)).toBe("invalid_request");
        expectFieldError(html, invalid.input, invalid.field);
        const typed = Object.values(fields).find((v) => v.length > 1 && v.length < 200);
        if (typed) expect(html).toContain(`value="${typed.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}"`);
        expect(await storedState()).toEqual(before);
      });
    }

    if (c.destructive) {
      it("asks on a confirmation page first when the post is not confirmed (no script), deleting nothing", async () => {
        const t = await seedOrg();
        const browser = await signedInAs(t, c.actor);
        const post = await c.post(t);
        const before = await storedState();
        const response = await submit(browser, { ...post, fields: { ...post.fields, confirmed: "" } });
        expect(response.status).toBe(200);
        const html = await response.text();
        expect(html).toMatch(/<h1>(Delete|Remove) [^<]+\?<\/h1>|<h1>Delete [\s\S]*\?<\/h1>/);
        expect(html).toContain(`<form method="post" action="${post.path}"`);
        expect(html).toContain('<input type="hidden" name="confirmed" value="yes"/>');
        expect(await storedState()).toEqual(before);
      });
    }
  });
}
