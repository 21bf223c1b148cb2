/**
 * D1 read replication behind the admin API, `/introspect` and the settings page: which
 * constraint or bookmark each request's session starts from, that a client which sends its
 * last response's bookmark back reads its own writes even from a lagging replica, that a
 * credential a replica has not seen yet is confirmed on the primary, and that a revocation
 * is seen by the very next introspection.
 *
 * `meteredDb` records every `withSession` call and the session each round trip ran in;
 * `laggingReplica` stands in for a replica that has not replayed the writes a test names.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BOOKMARK_PATTERN } from "../../src/db/replicas";
import { BASE, createOrg, createProject, decodeJwt, exchangeToken, expectError } from "../support/api";
import { meteredDb } from "../support/d1-meter";
import { callWorker } from "../support/exchange-forge";
import { seedRwx } from "../support/exchange-seed";
import { ISSUERS, signToken } from "../support/issuer";
import { hiding, laggingReplica, notRevokedYet, primaryPosition } from "../support/replica";
import { expectPageError, UiBrowser } from "../ui/support";

const HEADER = "Sts-Bookmark";

function request(db: D1Database, method: string, path: string, options: { token?: string; body?: unknown; bookmark?: string } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? env.ADMIN_TOKEN}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.bookmark !== undefined) headers[HEADER] = options.bookmark;
  const init: RequestInit = { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) };
  return callWorker(new Request(`${BASE}${path}`, init), { DB: db });
}

describe("the admin API", () => {
  it("serves a read from the nearest replica and answers the bookmark it read at", async () => {
    const orgId = await createOrg();
    const meter = meteredDb(env.DB);
    const response = await request(meter.db, "GET", `/v1/orgs/${orgId}`);
    expect(response.status).toBe(200);
    expect(meter.sessions).toEqual(["first-unconstrained"]);
    expect(meter.trips.map((t) => t.via)).toEqual(["first-unconstrained"]);
    expect(response.headers.get(HEADER)).toMatch(BOOKMARK_PATTERN);
  });

  it("decides a change on the primary and answers the bookmark of its write", async () => {
    const orgId = await createOrg();
    const before = await primaryPosition(env.DB);
    const meter = meteredDb(env.DB);
    const response = await request(meter.db, "POST", `/v1/orgs/${orgId}/projects`, { body: { name: "web" } });
    expect(response.status).toBe(201);
    expect(meter.sessions).toEqual(["first-primary"]);
    expect(new Set(meter.trips.map((t) => t.via))).toEqual(new Set(["first-primary"]));
    expect(response.headers.get(HEADER)! > before).toBe(true);
  });

  it("reads its own write from a lagging replica when the read sends the write's bookmark back", async () => {
    const { projectId } = await createProject();
    const fresh = new Set<string>();
    const meter = meteredDb(env.DB, hiding(fresh, await primaryPosition(env.DB)));
    const created = await request(meter.db, "POST", `/v1/projects/${projectId}/trust-relationships`, {
      body: { provider: "rwx", subject: `vaults/${crypto.randomUUID()}` },
    });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as { id: string }).id;
    fresh.add(id); // the replica has not replayed the insert
    const bookmark = created.headers.get(HEADER)!;

    // Without the bookmark the replica answers what it has: the relationship is not there yet.
    meter.reset();
    await expectError(await request(meter.db, "GET", `/v1/projects/${projectId}/trust-relationships/${id}`), 404, "not_found");
    expect(meter.sessions).toEqual(["first-unconstrained"]);

    // With it, the read starts from the write's position and sees it, listed and by ID.
    meter.reset();
    const listed = await request(meter.db, "GET", `/v1/projects/${projectId}/trust-relationships`, { bookmark });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { trust_relationships: { id: string }[] }).trust_relationships.map((r) => r.id)).toEqual([id]);
    const read = await request(meter.db, "GET", `/v1/projects/${projectId}/trust-relationships/${id}`, { bookmark });
    expect(read.status).toBe(200);
    expect(meter.sessions).toEqual([bookmark, bookmark]);
    // The answer's bookmark is never older than the one sent.
    expect(read.headers.get(HEADER)! >= bookmark).toBe(true);
  });

  it("refuses a bookmark it never handed out with 400 invalid_request, before reading anything", async () => {
    const orgId = await createOrg();
    for (const bad of ["not-a-bookmark", "first-primary", "0000000a-00000003-00004f5e-XYZ", `${"f".repeat(8)}-${"f".repeat(8)}-${"f".repeat(8)}-${"f".repeat(33)}`]) {
      const meter = meteredDb(env.DB);
      await expectError(await request(meter.db, "GET", `/v1/orgs/${orgId}`, { bookmark: bad }), 400, "invalid_request");
      expect(meter.trips).toEqual([]);
    }
  });

  it("recognises a credential created a moment ago that the replica has not seen, confirming it on the primary", async () => {
    const orgId = await createOrg();
    const created = await request(env.DB, "POST", `/v1/orgs/${orgId}/tokens`, { body: { description: "terraform" } });
    expect(created.status).toBe(201);
    const { id, token } = (await created.json()) as { id: string; token: string };
    const fresh = new Set([id]);

    const meter = meteredDb(env.DB, hiding(fresh));
    const response = await request(meter.db, "GET", `/v1/orgs/${orgId}`, { token });
    expect(response.status).toBe(200);
    // Unknown on the replica, found on the primary; the rest of the request stays there.
    expect(meter.sessions).toEqual(["first-unconstrained", "first-primary"]);
    // The first read is the replica's; the token lookup again, the organization, and the
    // token's last-used time (written beside the response, in any order) are the primary's.
    expect(meter.trips[0]!.via).toBe("first-unconstrained");
    expect(meter.trips.slice(1).map((t) => `${t.via} ${t.sql[0]!.trim().split(/\s+/, 1)[0]}`).sort()).toEqual([
      "first-primary SELECT",
      "first-primary SELECT",
      "first-primary UPDATE",
    ]);

    // The control: were the primary as behind as the replica, the token would be refused.
    const lagging = hiding(fresh);
    await expectError(await request(meteredDb(lagging, lagging).db, "GET", `/v1/orgs/${orgId}`, { token }), 401, "invalid_token");
  });
});

describe("changes at the admin API are decided on the primary", () => {
  it("deletes a relationship the replica has not seen yet", async () => {
    const { projectId } = await createProject();
    const created = await request(env.DB, "POST", `/v1/projects/${projectId}/trust-relationships`, { body: { provider: "rwx", subject: `vaults/${crypto.randomUUID()}` } });
    const id = ((await created.json()) as { id: string }).id;
    const meter = meteredDb(env.DB, hiding(new Set([id])));
    expect((await request(meter.db, "DELETE", `/v1/projects/${projectId}/trust-relationships/${id}`)).status).toBe(204);
    expect(meter.sessions).toEqual(["first-primary"]);
  });

  it("refuses a pull token to a job token revoked a moment ago, whatever a replica still says", async () => {
    const { claims, projectId } = await seedRwx();
    const job = ((await (await exchangeToken(await signToken(ISSUERS.rwx, claims))).json()) as { access_token: string }).access_token;
    const revoke = new Request(`${BASE}/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: job }) });
    expect((await callWorker(revoke, {})).status).toBe(200);
    const meter = meteredDb(env.DB, notRevokedYet());
    await expectError(await request(meter.db, "POST", `/v1/projects/${projectId}/pull-tokens`, { token: job }), 401, "invalid_token");
    expect(meter.sessions).toEqual(["first-primary"]);
  });
});

describe("introspection", () => {
  it("sees a revocation at the very next introspection, whatever a replica still says", async () => {
    const { claims } = await seedRwx();
    const minted = (await (await exchangeToken(await signToken(ISSUERS.rwx, claims))).json()) as { access_token: string };
    const token = minted.access_token;
    const introspect = (db: D1Database) =>
      callWorker(
        new Request(`${BASE}/introspect`, {
          method: "POST",
          headers: { authorization: `Bearer ${env.INTROSPECTION_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token }),
        }),
        { DB: db },
      );
    expect(await (await introspect(env.DB)).json()).toMatchObject({ active: true, jti: decodeJwt(token).jti });

    const revoked = await callWorker(
      new Request(`${BASE}/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token }) }),
      {},
    );
    expect(revoked.status).toBe(200);

    // A replica that has not replayed the revocation still finds the token in good standing.
    const stale = notRevokedYet();
    const meter = meteredDb(env.DB, stale);
    expect(await (await introspect(meter.db)).json()).toEqual({ active: false });
    expect(meter.sessions).toEqual(["first-primary"]);
    expect(meter.trips.map((t) => t.via)).toEqual(["first-primary"]);

    // The control: read on that replica, the revoked token would still answer active.
    expect(await (await introspect(meteredDb(stale, stale).db)).json()).toMatchObject({ active: true });
  });
});

describe("the settings page", () => {
  it("keeps a form post's bookmark in a cookie, so the page loaded next sees the change on a lagging replica", async () => {
    const orgId = await createOrg();
    const fresh = new Set<string>();
    const browser = new UiBrowser();
    await browser.signedIn(env.ADMIN_TOKEN);
    expect(browser.cookies.get("__Host-sts_bookmark")).toMatch(BOOKMARK_PATTERN);
    const csrf = await browser.csrfOf(`/settings/orgs/${orgId}`);

    const meter = meteredDb(env.DB, hiding(fresh, await primaryPosition(env.DB)));
    const lagging = browser.withEnv({ DB: meter.db });
    const posted = await lagging.post(`/settings/orgs/${orgId}/projects`, { csrf, name: "web" });
    expect(posted.status).toBe(303);
    expect(meter.sessions).toEqual(["first-primary"]);
    const projectId = /\/settings\/projects\/(prj_[0-9a-f]+)/.exec(posted.headers.get("location")!)![1]!;
    fresh.add(projectId);
    const bookmark = lagging.cookies.get("__Host-sts_bookmark")!;
    expect(bookmark).toMatch(BOOKMARK_PATTERN);
    expect(posted.headers.getSetCookie().find((c) => c.startsWith("__Host-sts_bookmark="))).toMatch(/; Path=\/; Max-Age=\d+; Secure; HttpOnly; SameSite=Strict$/);

    meter.reset();
    const page = await lagging.get(`/settings/projects/${projectId}`);
    expect(page.status).toBe(200);
    expect(meter.sessions).toEqual([bookmark]);

    // The control: without the cookie the page reads the replica, which has no such project yet.
    lagging.cookies.delete("__Host-sts_bookmark");
    meter.reset();
    await expectPageError(await lagging.get(`/settings/projects/${projectId}`), 404, "not_found");
    expect(meter.sessions).toEqual(["first-unconstrained"]);
  });

  it("finds a session signed in a moment ago on the primary when the replica has not seen it and the browser has no bookmark", async () => {
    const browser = await new UiBrowser().signedIn(env.ADMIN_TOKEN);
    browser.cookies.delete("__Host-sts_bookmark");
    // A replica without any settings-page session row (they are the rows with a `secret_mac`).
    const noSessions = laggingReplica(env.DB, (row) => ("secret_mac" in row ? null : row));
    const meter = meteredDb(env.DB, noSessions);
    const home = await browser.withEnv({ DB: meter.db }).get("/settings");
    expect(home.status).toBe(200);
    expect(meter.sessions).toEqual(["first-unconstrained", "first-primary"]);

    // The control: were the primary as behind, the browser would be sent to sign in.
    const signedOut = await browser.withEnv({ DB: meteredDb(noSessions, noSessions).db }).get("/settings");
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get("location")).toBe("/settings/sign-in");
  });
});
