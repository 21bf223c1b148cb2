/**
 * The settings page's protections: headers on every response, the same-origin check and
 * the CSRF tokens on every POST (a refused post changes nothing stored), the rate limit,
 * stored strings rendered as text, reach (another tenant's organization is not found),
 * and log lines that never carry a token, a cookie or a CSRF token.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../../src/ui/security";
import { admin, createOrg, createProject, createRelationship } from "../support/api";
import { fakeLimiter, snapshotDb } from "../robustness/support";
import { addMember, createStaticToken, createUser } from "../tenancy/helpers";
import { BASE, errorCodeOf, expectPageError, SAME_ORIGIN, sessionRows, UiBrowser } from "./support";

afterEach(() => vi.restoreAllMocks());

const EXPECTED_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function expectPageHeaders(response: Response, what: string) {
  expect(response.headers.get("content-security-policy"), what).toBe(EXPECTED_CSP);
  expect(response.headers.get("cache-control"), what).toBe("no-store");
  expect(response.headers.get("x-content-type-options"), what).toBe("nosniff");
  expect(response.headers.get("referrer-policy"), what).toBe("no-referrer");
  expect(response.headers.get("x-frame-options"), what).toBe("DENY");
}

describe("response headers", () => {
  it("sends the strict CSP, no-store, nosniff and no-referrer on every page, redirect and refusal", async () => {
    expect(CONTENT_SECURITY_POLICY).toBe(EXPECTED_CSP);
    const anonymous = new UiBrowser();
    const operator = await new UiBrowser().signedIn(env.ADMIN_TOKEN);
    const orgId = await createOrg();
    const cases: [string, Response][] = [
      ["sign-in page", await anonymous.get("/settings/sign-in")],
      ["redirect to sign-in", await anonymous.get("/settings")],
      ["refused sign-in", await new UiBrowser().signIn("sts_usr_000000000000000000000000000000000000")],
      ["cross-site post", await anonymous.post("/settings/sign-in", { token: "x" }, { origin: "https://evil.example" })],
      ["home", await operator.get("/settings")],
      ["organization", await operator.get(`/settings/orgs/${orgId}`)],
      ["account", await operator.get("/settings/account")],
      ["unknown page", await operator.get("/settings/nope")],
      ["unknown asset", await operator.get("/settings/assets/style.00000000.css")],
    ];
    for (const [what, response] of cases) expectPageHeaders(response, what);
  });

  it("links its stylesheet and script by content hash, served with a year of immutable caching", async () => {
    const html = await (await new UiBrowser().get("/settings/sign-in")).text();
    const css = /<link rel="stylesheet" href="(\/settings\/assets\/style\.[0-9a-f]{8}\.css)"/.exec(html)?.[1];
    const js = /<script src="(\/settings\/assets\/client\.[0-9a-f]{8}\.js)" defer/.exec(html)?.[1];
    expect(css).toBeDefined();
    expect(js).toBeDefined();
    for (const [path, type] of [[css!, "text/css"], [js!, "text/javascript"]] as const) {
      const response = await new UiBrowser().get(path);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe(`${type}; charset=utf-8`);
      expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    }
    // No inline script or style anywhere in the page.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style="/);
  });
});

describe("cross-site requests", () => {
  it("refuses a sign-in posted from another origin, or without Origin or Sec-Fetch-Site, and writes nothing", async () => {
    for (const headers of [
      { origin: "https://evil.example" },
      { origin: "https://evil.example", "sec-fetch-site": "cross-site" },
      { origin: BASE, "sec-fetch-site": "cross-site" },
      { origin: "null", "sec-fetch-site": "cross-site" },
      { origin: "null" },
      {} as Record<string, string>,
    ]) {
      const browser = new UiBrowser();
      const csrf = await browser.csrfOf("/settings/sign-in");
      const before = await snapshotDb();
      await expectPageError(await browser.post("/settings/sign-in", { csrf, token: env.ADMIN_TOKEN }, headers), 403, "access_denied");
      expect(browser.session).toBeUndefined();
      expect(await snapshotDb()).toEqual(before);
    }
  });

  it("accepts the Origin: null that Chromium sends under Referrer-Policy no-referrer, when Sec-Fetch-Site says same-origin", async () => {
    const browser = new UiBrowser();
    const csrf = await browser.csrfOf("/settings/sign-in");
    const response = await browser.post("/settings/sign-in", { csrf, token: env.ADMIN_TOKEN }, { origin: "null", "sec-fetch-site": "same-origin" });
    expect(response.status).toBe(303);
    expect(browser.session).toBeDefined();
  });

  it("refuses a sign-in without the sign-in form's token, with another form's token, or without its cookie", async () => {
    const browser = new UiBrowser();
    const csrf = await browser.csrfOf("/settings/sign-in");
    const other = await new UiBrowser().csrfOf("/settings/sign-in");
    const before = (await sessionRows()).length;
    await expectPageError(await browser.post("/settings/sign-in", { token: env.ADMIN_TOKEN }), 403, "access_denied");
    await expectPageError(await browser.post("/settings/sign-in", { csrf: other, token: env.ADMIN_TOKEN }), 403, "access_denied");
    const cookieless = new UiBrowser();
    await expectPageError(await cookieless.post("/settings/sign-in", { csrf, token: env.ADMIN_TOKEN }), 403, "access_denied");
    expect((await sessionRows()).length).toBe(before);
  });

  it("refuses sign-out without this session's CSRF token, and the session lives on", async () => {
    const browser = await new UiBrowser().signedIn(env.ADMIN_TOKEN);
    const otherCsrf = await (await new UiBrowser().signedIn(env.ADMIN_TOKEN)).csrfOf("/settings");
    const rows = (await sessionRows()).length;
    await expectPageError(await browser.post("/settings/sign-out", {}), 403, "access_denied");
    await expectPageError(await browser.post("/settings/sign-out", { csrf: otherCsrf }), 403, "access_denied");
    await expectPageError(await browser.post("/settings/sign-out", { csrf: "" }), 403, "access_denied");
    const csrf = await browser.csrfOf("/settings");
    await expectPageError(await browser.post("/settings/sign-out", { csrf }, { origin: "https://evil.example" }), 403, "access_denied");
    expect((await sessionRows()).length).toBe(rows);
    expect((await browser.get("/settings")).status).toBe(200);
  });

  it("gives each session its own CSRF token", async () => {
    const a = await (await new UiBrowser().signedIn(env.ADMIN_TOKEN)).csrfOf("/settings");
    const b = await (await new UiBrowser().signedIn(env.ADMIN_TOKEN)).csrfOf("/settings");
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("refuses form bodies of another type, repeated fields and bodies over 32 KiB", async () => {
    const browser = new UiBrowser();
    const csrf = await browser.csrfOf("/settings/sign-in");
    const json = await browser.fetch("/settings/sign-in", {
      method: "POST",
      headers: { ...SAME_ORIGIN, "content-type": "application/json" },
      body: JSON.stringify({ csrf, token: env.ADMIN_TOKEN }),
    });
    await expectPageError(json, 415, "invalid_request");
    const repeated = await browser.fetch("/settings/sign-in", {
      method: "POST",
      headers: { ...SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
      body: `csrf=${csrf}&token=a&token=${encodeURIComponent(env.ADMIN_TOKEN)}`,
    });
    expect(repeated.status).toBe(400);
    const large = await browser.post("/settings/sign-in", { csrf, token: "a".repeat(33 * 1024) });
    await expectPageError(large, 413, "invalid_request");
    expect(browser.session).toBeUndefined();
  });
});

describe("rate limit", () => {
  it("answers 429 with Retry-After on the sign-in page when the client network's budget is spent, never keyed by the token", async () => {
    const limiter = fakeLimiter(() => false);
    const browser = new UiBrowser({ ADMIN_LIMITER: limiter });
    const csrf = await browser.csrfOf("/settings/sign-in");
    const before = (await sessionRows()).length;
    const response = await browser.post("/settings/sign-in", { csrf, token: env.ADMIN_TOKEN }, { ...SAME_ORIGIN, "cf-connecting-ip": "203.0.113.9" });
    const html = await expectPageError(response, 429, "rate_limited");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(html).toContain("Too many sign-in attempts");
    expect(limiter.keys).toEqual(["net:203.0.113.9"]);
    expect((await sessionRows()).length).toBe(before);
  });

  it("counts signed-in requests against the credential's own budget, the one it spends on /v1", async () => {
    const orgId = await createOrg();
    const token = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    const browser = await new UiBrowser().signedIn(token.token);
    const limiter = fakeLimiter(() => false);
    const limited = browser.withEnv({ ADMIN_LIMITER: limiter });
    await expectPageError(await limited.get(`/settings/orgs/${orgId}`), 429, "rate_limited");
    expect(limiter.keys).toEqual([`cred:${token.id}`]);
    const operator = (await new UiBrowser().signedIn(env.ADMIN_TOKEN)).withEnv({ ADMIN_LIMITER: limiter });
    await expectPageError(await operator.get("/settings"), 429, "rate_limited");
    expect(limiter.keys.at(-1)).toBe("cred:operator");
  });
});

describe("stored strings", () => {
  const SCRIPT = `<script>window.__xss=1</script>`;
  const IMG = `"><img src=x onerror="window.__xss=1">`;

  it("renders hostile organization, project, user, token and relationship text as text", async () => {
    const orgId = await createOrg(SCRIPT);
    const { projectId } = await createProject(orgId, IMG);
    const created = await admin("POST", "/v1/users", { name: IMG, email: `xss-${crypto.randomUUID()}@example.com` });
    const userId = ((await created.json()) as { id: string }).id;
    await addMember(orgId, userId, "admin");
    const userToken = await createStaticToken(`/v1/users/${userId}/tokens`, env.ADMIN_TOKEN, SCRIPT);
    await createStaticToken(`/v1/orgs/${orgId}/tokens`, env.ADMIN_TOKEN, IMG);
    await createStaticToken(`/v1/projects/${projectId}/tokens`, env.ADMIN_TOKEN, SCRIPT);
    await createRelationship(projectId, {
      provider: "github",
      owner: "acme",
      repository: "widgets",
      description: SCRIPT,
      conditions: { ref: IMG.replace(/\//g, "") },
    });
    const browser = await new UiBrowser().signedIn(userToken.token);
    for (const path of ["/settings", `/settings/orgs/${orgId}`, `/settings/projects/${projectId}`, "/settings/account"]) {
      const response = await browser.get(path);
      expect(response.status, path).toBe(200);
      const html = await response.text();
      expect(html, path).not.toContain("<script>window");
      expect(html, path).not.toContain("<img");
      expect(html, path).toMatch(/&lt;script&gt;window.__xss=1&lt;\/script&gt;|&quot;&gt;&lt;img src=x/);
    }
  });
});

describe("reach", () => {
  it("answers an organization or project of another tenant exactly like one that does not exist", async () => {
    const mine = await createOrg("mine");
    const userId = await createUser();
    await addMember(mine, userId, "member");
    const token = await createStaticToken(`/v1/users/${userId}/tokens`);
    const { orgId: theirs, projectId: theirProject } = await createProject(undefined, "theirs");
    const browser = await new UiBrowser().signedIn(token.token);
    const foreign = await expectPageError(await browser.get(`/settings/orgs/${theirs}`), 404, "not_found");
    const missing = await expectPageError(await browser.get("/settings/orgs/org_000000000000000000000000"), 404, "not_found");
    expect(foreign).toBe(missing);
    await expectPageError(await browser.get(`/settings/projects/${theirProject}`), 404, "not_found");
    await expectPageError(await browser.get("/settings/orgs/not-an-id"), 404, "not_found");
    expect((await browser.get(`/settings/orgs/${mine}`)).status).toBe(200);
  });
});

describe("log lines", () => {
  it("write one line per request naming the principal, and never a token, session cookie or CSRF token", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    const orgId = await createOrg();
    const userId = await createUser();
    await addMember(orgId, userId, "admin");
    const token = await createStaticToken(`/v1/users/${userId}/tokens`);
    const secrets = [env.ADMIN_TOKEN, env.TOKEN_HASH_SALT, token.token];
    const start = lines.length;
    const browser = new UiBrowser();
    const signInCsrf = await browser.csrfOf("/settings/sign-in");
    await browser.post("/settings/sign-in", { csrf: signInCsrf, token: "sts_usr_000000000000000000000000000000000000" });
    await browser.signedIn(token.token);
    const csrf = await browser.csrfOf("/settings");
    await browser.get(`/settings/orgs/${orgId}`);
    await browser.post("/settings/sign-out", { csrf: "wrong" });
    await browser.post("/settings/sign-out", { csrf });
    const cookieValues = [browser.session, csrf, signInCsrf].filter((v): v is string => v !== undefined);
    const ours = lines.slice(start).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ours.length).toBeGreaterThanOrEqual(8);
    const text = lines.slice(start).join("\n");
    for (const secret of [...secrets, ...cookieValues]) expect(text).not.toContain(secret);
    const refused = ours.find((l) => l.route === "/settings/sign-in" && l.status === 401)!;
    expect(refused).toMatchObject({ outcome: "refused", reason: "unauthenticated", detail: "checksum_mismatch" });
    expect(ours.find((l) => l.route === "/settings/orgs/:org_id")).toMatchObject({ principal: `user:${token.id}`, org_id: orgId, status: 200 });
    expect(ours.find((l) => l.status === 403)).toMatchObject({ reason: "cross_site_request" });
  });
});

describe("refusal pages", () => {
  it("carry the wire's error code for a page that does not exist", async () => {
    const browser = await new UiBrowser().signedIn(env.ADMIN_TOKEN);
    const html = await expectPageError(await browser.get("/settings/nothing/here"), 404, "not_found");
    expect(errorCodeOf(html)).toBe("not_found");
    await expectPageError(await browser.fetch("/settings/account", { method: "DELETE" }), 404, "not_found");
  });
});

describe("the operator's organization lookup", () => {
  it("opens an organization by ID, and answers 404 on the page for something that is not one", async () => {
    const orgId = await createOrg("looked up");
    const browser = await new UiBrowser().signedIn(env.ADMIN_TOKEN);
    const found = await browser.get(`/settings/orgs?org_id=${orgId}`);
    expect(found.status).toBe(303);
    expect(found.headers.get("location")).toBe(`/settings/orgs/${orgId}`);
    expect(await (await browser.get(`/settings/orgs/${orgId}`)).text()).toContain("looked up");
    await expectPageError(await browser.get("/settings/orgs?org_id=%3Cscript%3E"), 404, "not_found");
  });
});
