/**
 * Signing in to the settings page and the session that follows: which credentials may
 * sign in, what the cookie and the database hold, and everything that ends a session
 * (sign-out, expiry, a deleted token or a rotated secret), plus the scheduled sweep.
 */
import { createScheduledController, createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sweepExpiredUiSessions } from "../../src/db/ui-sessions";
import worker from "../../src/index";
import { admin, createOrg, createProject } from "../support/api";
import { addMember, createStaticToken, createUser, mintJobToken, mintPullToken } from "../tenancy/helpers";
import { expectPageError, sessionRows, sha256Hex, UiBrowser } from "./support";

const COOKIE_ATTRIBUTES = /^__Host-sts_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=28800; Secure; HttpOnly; SameSite=Strict$/;

async function userWithToken(orgName = "acme") {
  const orgId = await createOrg(orgName);
  const userId = await createUser();
  await addMember(orgId, userId, "admin");
  const token = await createStaticToken(`/v1/users/${userId}/tokens`);
  return { orgId, userId, token };
}

describe("signing in", () => {
  it("signs the operator in with ADMIN_TOKEN and sets only a __Host- session cookie with the strict attributes", async () => {
    const browser = new UiBrowser();
    const csrf = await browser.csrfOf("/settings/sign-in");
    const response = await browser.post("/settings/sign-in", { csrf, token: env.ADMIN_TOKEN });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/settings");
    const cookies = response.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith("__Host-sts_session="));
    expect(session).toMatch(COOKIE_ATTRIBUTES);
    // The sign-in form's cookie is dropped once signed in.
    expect(cookies.find((c) => c.startsWith("__Host-sts_signin="))).toMatch(/Max-Age=0/);
    const page = await browser.get("/settings");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Operator");
    expect(html).not.toContain(env.ADMIN_TOKEN);
  });

  it("stores a hash of the session ID and the credential's identity, never the cookie or the token", async () => {
    const { token } = await userWithToken();
    const browser = await new UiBrowser().signedIn(token.token);
    const rows = await sessionRows();
    const row = rows.find((r) => r.credential_id === token.id)!;
    expect(row).toMatchObject({ kind: "user", credential_id: token.id, id_hash: await sha256Hex(browser.session!) });
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(browser.session!);
    expect(stored).not.toContain(token.token);
    expect(stored).not.toContain(env.ADMIN_TOKEN);
    expect(stored).not.toContain(env.TOKEN_HASH_SALT);
  });

  it("counts signing in as a use of the token: its last-used time is set", async () => {
    const { userId, token } = await userWithToken();
    await new UiBrowser().signedIn(token.token);
    const listed = (await (await admin("GET", `/v1/users/${userId}/tokens`)).json()) as { tokens: { id: string; last_used_at: number | null }[] };
    expect(listed.tokens.find((t) => t.id === token.id)!.last_used_at).toEqual(expect.any(Number));
  });

  it("shows a user the organizations they belong to, by name and role", async () => {
    const { orgId, token } = await userWithToken("Widgets Inc");
    const browser = await new UiBrowser().signedIn(token.token);
    const html = await (await browser.get("/settings")).text();
    expect(html).toContain("Widgets Inc");
    expect(html).toContain(`href="/settings/orgs/${orgId}"`);
    expect(html).toContain(">admin<");
  });

  it("sends an organization token's session to its organization", async () => {
    const orgId = await createOrg("Gadgets");
    const token = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    const browser = await new UiBrowser().signedIn(token.token);
    const home = await browser.get("/settings");
    expect(home.status).toBe(303);
    expect(home.headers.get("location")).toBe(`/settings/orgs/${orgId}`);
    const page = await browser.get(`/settings/orgs/${orgId}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Gadgets");
  });

  it("refuses project, job and pull tokens with 403 insufficient_scope, writing no session", async () => {
    const { projectId } = await createProject();
    const project = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    const job = await mintJobToken(projectId);
    const pull = await mintPullToken(projectId, project.token);
    for (const token of [project.token, job.token, pull.token]) {
      const before = (await sessionRows()).length;
      const browser = new UiBrowser();
      const html = await expectPageError(await browser.signIn(token), 403, "insufficient_scope");
      expect(html).toContain("cannot administer anything");
      expect(html).not.toContain(token);
      expect(browser.session).toBeUndefined();
      expect((await sessionRows()).length).toBe(before);
    }
  });

  it("refuses an unknown, mistyped or empty token with a page naming the problem and writes nothing", async () => {
    const { token } = await userWithToken();
    const mistyped = token.token.slice(0, -1) + (token.token.endsWith("a") ? "b" : "a");
    for (const [presented, status, code] of [
      ["sts_usr_000000000000000000000000000000000000", 401, "invalid_token"],
      [mistyped, 401, "invalid_token"],
      ["not a token", 400, "invalid_request"],
      ["", 400, "invalid_request"],
    ] as const) {
      const before = (await sessionRows()).length;
      const browser = new UiBrowser();
      const html = await expectPageError(await browser.signIn(presented), status, code);
      if (presented.length > 3) expect(html).not.toContain(presented);
      expect(browser.session).toBeUndefined();
      expect((await sessionRows()).length).toBe(before);
    }
  });

  it("redirects a visitor without a session to the sign-in page", async () => {
    for (const path of ["/settings", "/settings/account", "/settings/orgs/org_000000000000000000000000"]) {
      const response = await new UiBrowser().get(path);
      expect(response.status, path).toBe(303);
      expect(response.headers.get("location")).toBe("/settings/sign-in");
    }
  });
});

describe("ending a session", () => {
  it("replaces the browser's session when it signs in again, leaving no orphaned row", async () => {
    // Two sign-in forms loaded before either was used (the sign-in cookie goes at sign-in).
    const browser = new UiBrowser();
    const csrf = await browser.csrfOf("/settings/sign-in");
    const signInCookie = browser.cookies.get("__Host-sts_signin")!;
    expect((await browser.post("/settings/sign-in", { csrf, token: env.ADMIN_TOKEN })).status).toBe(303);
    const first = browser.session!;
    const { token } = await userWithToken();
    browser.cookies.set("__Host-sts_signin", signInCookie);
    expect((await browser.post("/settings/sign-in", { csrf, token: token.token })).status).toBe(303);
    expect(browser.session).not.toBe(first);
    expect(await env.DB.prepare("SELECT 1 FROM ui_sessions WHERE id_hash = ?").bind(await sha256Hex(first)).first()).toBeNull();
    expect(await (await browser.get("/settings/account")).text()).toContain(token.id);
  });

  it("signs out: deletes the session row and the cookie, and the old cookie no longer works", async () => {
    const browser = await new UiBrowser().signedIn(env.ADMIN_TOKEN);
    const cookie = browser.session!;
    const csrf = await browser.csrfOf("/settings");
    const response = await browser.post("/settings/sign-out", { csrf });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/settings/sign-in");
    expect(response.headers.getSetCookie().find((c) => c.startsWith("__Host-sts_session="))).toMatch(/Max-Age=0/);
    expect(await env.DB.prepare("SELECT 1 FROM ui_sessions WHERE id_hash = ?").bind(await sha256Hex(cookie)).first()).toBeNull();
    const replayed = await new UiBrowser().fetch("/settings", { headers: { cookie: `__Host-sts_session=${cookie}` } });
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get("location")).toBe("/settings/sign-in");
  });

  it("ends a user's session at once when their token is deleted through the admin API", async () => {
    const { userId, token } = await userWithToken();
    const browser = await new UiBrowser().signedIn(token.token);
    expect((await browser.get("/settings")).status).toBe(200);
    expect((await admin("DELETE", `/v1/users/${userId}/tokens/${token.id}`)).status).toBe(204);
    const after = await browser.get("/settings");
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/settings/sign-in");
    expect((await sessionRows()).some((r) => r.credential_id === token.id)).toBe(false);
  });

  it("ends an organization token's session when that token is deleted", async () => {
    const orgId = await createOrg();
    const token = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    const browser = await new UiBrowser().signedIn(token.token);
    expect((await browser.get(`/settings/orgs/${orgId}`)).status).toBe(200);
    expect((await admin("DELETE", `/v1/orgs/${orgId}/tokens/${token.id}`)).status).toBe(204);
    expect((await browser.get(`/settings/orgs/${orgId}`)).status).toBe(303);
  });

  it("ends the operator's sessions when ADMIN_TOKEN is rotated", async () => {
    const browser = await new UiBrowser().signedIn(env.ADMIN_TOKEN);
    const rotated = browser.withEnv({ ADMIN_TOKEN: `${env.ADMIN_TOKEN}-rotated` });
    const response = await rotated.get("/settings");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/settings/sign-in");
  });

  it("ends static-token sessions when TOKEN_HASH_SALT is rotated or removed, as the API stops accepting those tokens", async () => {
    const { token } = await userWithToken();
    const rotated = (await new UiBrowser().signedIn(token.token)).withEnv({ TOKEN_HASH_SALT: `${env.TOKEN_HASH_SALT}x` });
    expect((await rotated.get("/settings")).status).toBe(303);
    const removed = (await new UiBrowser().signedIn(token.token)).withEnv({ TOKEN_HASH_SALT: undefined });
    expect((await removed.get("/settings")).status).toBe(303);
  });

  it("does not honour a session past its expiry", async () => {
    const browser = await new UiBrowser().signedIn(env.ADMIN_TOKEN);
    const idHash = await sha256Hex(browser.session!);
    const row = await env.DB.prepare("SELECT created_at, expires_at FROM ui_sessions WHERE id_hash = ?").bind(idHash).first<{ created_at: number; expires_at: number }>();
    expect(row!.expires_at - row!.created_at).toBe(8 * 60 * 60);
    await env.DB.prepare("UPDATE ui_sessions SET expires_at = ? WHERE id_hash = ?").bind(Math.floor(Date.now() / 1000) - 1, idHash).run();
    expect((await browser.get("/settings")).status).toBe(303);
  });
});

describe("sweeping expired sessions", () => {
  const insert = (idHash: string, expiresAt: number) =>
    env.DB.prepare("INSERT INTO ui_sessions (id_hash, kind, credential_id, secret_mac, created_at, expires_at) VALUES (?, 'operator', NULL, 'x', 0, ?)")
      .bind(idHash, expiresAt)
      .run();

  const ids = async (prefix: string) => (await sessionRows()).map((r) => String(r.id_hash)).filter((id) => id.startsWith(prefix)).sort();

  it("deletes expired rows in bounded batches and keeps live ones", async () => {
    // Far in the past, so rows of other tests (expiring hours from now) are never swept here.
    const now = 1_000_000;
    for (let i = 0; i < 7; i++) await insert(`expired-${i}`, now - i);
    await insert("expired-live", now + 1);
    // Batches of 2, at most 3 of them: 6 rows now, the 7th on the next run.
    expect(await sweepExpiredUiSessions(env.DB, now, 2, 3)).toBe(6);
    expect((await ids("expired-")).length).toBe(2);
    expect(await sweepExpiredUiSessions(env.DB, now, 2, 3)).toBe(1);
    expect(await ids("expired-")).toEqual(["expired-live"]);
  });

  it("runs from the scheduled handler", async () => {
    await insert("scheduled-old", 1);
    await insert("scheduled-live", Math.floor(Date.now() / 1000) + 3600);
    const ctx = createExecutionContext();
    await worker.scheduled!(createScheduledController(), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await ids("scheduled-")).toEqual(["scheduled-live"]);
  });
});
