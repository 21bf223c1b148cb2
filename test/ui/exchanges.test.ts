/**
 * A project's recent exchanges and the explain form on the settings page, on the wire: the
 * listing is the audit log's (the organization's admins only; newest first; the API's
 * cursor; nothing of another organization or project; hostile claims rendered inert), and
 * the explain form runs the API's explain (the same trace, the same EXPLAIN_LIMITER budget),
 * never echoes or logs the pasted token, refuses a post without the session's CSRF field,
 * and mints, spends and writes nothing.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { exchangeToken } from "../support/api";
import { expectExchanged, seedGithub } from "../support/exchange-seed";
import { signToken } from "../support/issuer";
import { fakeLimiter } from "../robustness/support";
import { quietProject, sampleEvent, store, waitForAudit } from "../audit/support";
import { decodeText, errorCodeOf, expectFieldError, expectPageError, seed, seedOrg, storedState, UiBrowser } from "./support";

const sign = (claims: { iss: string } & Record<string, unknown>) => signToken(claims.iss, claims);
const operator = () => new UiBrowser({ EXPLAIN_LIMITER: undefined } as never).signedIn(env.ADMIN_TOKEN);
/** The text of a page's `<main>` (or of a fragment), tags dropped, entities decoded, whitespace collapsed. */
const mainText = (html: string) => decodeText((/<main[^>]*>([\s\S]*)<\/main>/.exec(html)?.[1] ?? html).replace(/<[^>]+>/g, " ")).replace(/\s+/g, " ");

/** A GitHub project whose enforce relationship wants main, a shadow one that admits any ref; one refused and one minted exchange, recorded. */
async function exchangedProject() {
  const s = await seedGithub({ ref: "refs/heads/dev" }, { conditions: { ref: "refs/heads/main" }, description: "main only" });
  const shadow = await seed.relationship(s.projectId, { provider: "github", owner: s.owner, repository: s.repository, mode: "shadow" });
  const refusedToken = await sign(s.claims);
  const refused = await exchangeToken(refusedToken, { audience: s.projectId });
  expect(refused.status).toBe(400);
  await expectExchanged(await sign({ ...s.claims, jti: crypto.randomUUID(), ref: "refs/heads/main" }), { audience: s.projectId });
  const events = await waitForAudit(s.orgId, (e) => e.length === 2, { kind: "exchange" });
  return { ...s, shadowId: shadow.id, refusedToken, refusedEvent: events.find((e) => e.outcome === "refused")!, mintedEvent: events.find((e) => e.outcome === "minted")! };
}

describe("recent exchanges", () => {
  it("lists the project's exchanges newest first: time, provider, identity, provenance, outcome with reason and detail, relationship, shadow verdicts", async () => {
    const p = await exchangedProject();
    const browser = await operator();
    const project = await (await browser.get(`/settings/projects/${p.projectId}`)).text();
    expect(project).toContain(`href="/settings/projects/${p.projectId}/exchanges"`);

    const response = await browser.get(`/settings/projects/${p.projectId}/exchanges`);
    expect(response.status).toBe(200);
    const html = await response.text();
    const text = mainText(html);
    // Newest first: the minted exchange came second.
    expect(text.indexOf("Minted")).toBeLessThan(text.indexOf("Refused"));
    expect(html.indexOf(p.mintedEvent.jti)).toBeGreaterThan(0);
    expect(text).toContain(`Identity ${p.owner}/${p.repository}`);
    expect(text).toContain("Provider GitHub Actions");
    expect(text).toContain("ref: refs/heads/dev");
    expect(text).toContain("ref: refs/heads/main");
    expect(text).toContain(`workflow_ref: ${p.claims.workflow_ref}`);
    expect(text).toContain(`run_id: ${p.claims.run_id}`);
    // The reason as the audit log names it, what the wire told the job, and the failed checks.
    expect(text).toContain(`refused ${p.refusedEvent.reason} no trust relationship of this project admits this token; ${p.refusedEvent.detail}`);
    expect(p.refusedEvent.detail).toBe("failed: conditions");
    expect(text).toContain(`Relationship ${p.relationshipId}`);
    expect(text).toContain(`${p.shadowId} would admit`);
    expect(text).toContain(`Request ${p.refusedEvent.request_id} from ${p.refusedEvent.client_network}`);
    // Only the refused exchange offers Explain, pre-filled with that exchange.
    expect(html.match(/\/explain\?event=/g)).toHaveLength(1);
    expect(html).toContain(`href="/settings/projects/${p.projectId}/explain?event=${p.refusedEvent.id}"`);
    expect(html).not.toContain("Older exchanges</a>");
  });

  it("pages with the API's cursor, and refuses a cursor that is not this listing's with 400 invalid_request", async () => {
    const q = await quietProject();
    const start = Date.now() - 60_000;
    const mine = Array.from({ length: 23 }, (_, i) => sampleEvent({ orgId: q.orgId, projectId: q.projectId, ms: start + i * 10, outcome: i % 2 ? "minted" : "refused" }));
    await store(mine);
    const browser = await operator();
    const first = await (await browser.get(`/settings/projects/${q.projectId}/exchanges`)).text();
    const shown = (html: string) => mine.filter((e) => html.includes(e.request_id)).map((e) => e.id);
    const newest = [...mine].reverse().map((e) => e.id);
    expect(shown(first)).toEqual(newest.slice(0, 20).sort());
    // In order: each request ID appears after the newer one's.
    const positions = [...mine].reverse().slice(0, 20).map((e) => first.indexOf(e.request_id));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const next = /href="(\/settings\/projects\/prj_[0-9a-f]+\/exchanges\?cursor=[^"]+)"/.exec(first)?.[1];
    expect(next).toBeDefined();
    const second = await (await browser.get(decodeText(next!))).text();
    expect(shown(second)).toEqual(newest.slice(20).sort());
    expect(second).not.toContain("Older exchanges</a>");
    expect(second).toContain(`href="/settings/projects/${q.projectId}/exchanges">Latest exchanges</a>`);

    // The listing's outcome filter: refused only (12 of the 23), on one page; an empty one is all; another value is refused.
    const refusedOnly = await (await browser.get(`/settings/projects/${q.projectId}/exchanges?outcome=refused`)).text();
    expect(shown(refusedOnly)).toEqual(mine.filter((e) => e.kind === "exchange" && e.outcome === "refused").map((e) => e.id));
    expect(shown(refusedOnly)).toHaveLength(12);
    expect(refusedOnly).toContain('<option value="refused" selected="">refused only</option>');
    expect(shown(await (await browser.get(`/settings/projects/${q.projectId}/exchanges?outcome=`)).text())).toHaveLength(20);
    const bogus = await expectPageError(await browser.get(`/settings/projects/${q.projectId}/exchanges?outcome=maybe`), 400, "invalid_request");
    expect(decodeText(bogus)).toContain("outcome: ");

    const cursor = new URL(decodeText(next!), "https://x").searchParams.get("cursor")!;
    // A cursor is bound to its filters, as on the API.
    await expectPageError(await browser.get(`/settings/projects/${q.projectId}/exchanges?outcome=refused&cursor=${cursor}`), 400, "invalid_request");
    await expectPageError(await browser.get(`/settings/projects/${q.projectId}/exchanges?cursor=nonsense`), 400, "invalid_request");
    // The cursor of this project's listing is not the other project's.
    await expectPageError(await browser.get(`/settings/projects/${q.other}/exchanges?cursor=${cursor}`), 400, "invalid_request");
  });

  it("shows only this organization's events of this project, and renders hostile claims as text", async () => {
    const q = await quietProject();
    const other = await quietProject();
    const ms = Date.now() - 30_000;
    const hostile = { ...sampleEvent({ orgId: q.orgId, projectId: q.projectId, ms, outcome: "refused" }) };
    Object.assign(hostile, {
      identity: "<b>bold</b>",
      detail: "failed: conditions",
      provenance: { ref: "<script>alert(1)</script>", workflow_ref: '"><img src=x onerror=alert(2)>', run_id: "' onmouseover='alert(3)" },
    });
    const foreign = [
      // Another organization's event that names this project: never shown.
      sampleEvent({ orgId: other.orgId, projectId: q.projectId, ms: ms + 1, outcome: "refused" }),
      sampleEvent({ orgId: other.orgId, projectId: other.projectId, ms: ms + 2 }),
      // This organization's other project, and an admin change of this project: not exchanges of this project.
      sampleEvent({ orgId: q.orgId, projectId: q.other, ms: ms + 3 }),
      sampleEvent({ orgId: q.orgId, projectId: q.projectId, ms: ms + 4, kind: "admin" }),
    ];
    await store([hostile, ...foreign]);
    const browser = await operator();
    const html = await (await browser.get(`/settings/projects/${q.projectId}/exchanges`)).text();
    for (const e of foreign) expect(html).not.toContain(e.request_id);
    expect(html).toContain(hostile.request_id);
    for (const page of [html, await (await browser.get(`/settings/projects/${q.projectId}/explain?event=${hostile.id}`)).text()]) {
      expect(page).not.toMatch(/<script>alert|<img|<b>bold|onmouseover='/);
      expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(page).toContain("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;");
      expect(mainText(page)).toContain("<b>bold</b>");
      // The page's own script is the only one.
      expect(page.match(/<script/g)).toHaveLength(1);
    }
    // Explain's context is only ever a refused exchange of this project of this organization.
    for (const e of [...foreign, sampleEvent({ orgId: q.orgId, projectId: q.projectId, ms: ms + 5, outcome: "minted" })]) {
      await store([e]);
      const page = await browser.get(`/settings/projects/${q.projectId}/explain?event=${e.id}`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).not.toContain('id="explained-event"');
      expect(html).not.toContain(e.request_id);
    }
    expect(await (await browser.get(`/settings/projects/${q.projectId}/explain?event=${hostile.id}`)).text()).toContain('id="explained-event"');
  });

  it("is for the organization's admins: a member is refused with 403 insufficient_scope, another tenant with 404, nobody sent to sign in", async () => {
    const t = await seedOrg();
    const member = await new UiBrowser().signedIn(t.tokens.memberUser.token);
    const project = await (await member.get(`/settings/projects/${t.projectId}`)).text();
    expect(project).not.toContain("/exchanges");
    expect(mainText(project)).toContain("The audit log, and so this project's exchanges, is for the organization's admins.");
    await expectPageError(await member.get(`/settings/projects/${t.projectId}/exchanges`), 403, "insufficient_scope");
    await expectPageError(await member.get(`/settings/projects/${t.projectId}/explain`), 403, "insufficient_scope");

    for (const token of [t.tokens.adminUser.token, t.tokens.org.token]) {
      const admin = await new UiBrowser().signedIn(token);
      expect((await admin.get(`/settings/projects/${t.projectId}/exchanges`)).status).toBe(200);
      expect((await admin.get(`/settings/projects/${t.projectId}/explain`)).status).toBe(200);
    }
    const stranger = await seedOrg("other");
    const foreign = await new UiBrowser().signedIn(stranger.tokens.adminUser.token);
    await expectPageError(await foreign.get(`/settings/projects/${t.projectId}/exchanges`), 404, "not_found");
    await expectPageError(await foreign.get(`/settings/projects/${t.projectId}/explain`), 404, "not_found");

    const nobody = new UiBrowser();
    for (const path of ["exchanges", "explain"]) {
      const response = await nobody.get(`/settings/projects/${t.projectId}/${path}`);
      expect([response.status, response.headers.get("location")]).toEqual([303, "/settings/sign-in"]);
    }
  });
});

describe("explaining a refused exchange", () => {
  it("opens the form with that exchange's context, and renders explain's whole trace without echoing or logging the token", async () => {
    const p = await exchangedProject();
    const browser = await operator();
    const form = await (await browser.get(`/settings/projects/${p.projectId}/explain?event=${p.refusedEvent.id}`)).text();
    const context = mainText(/<dl class="facts" id="explained-event">[\s\S]*?<\/dl>/.exec(form)![0]);
    expect(context).toContain(`Identity ${p.owner}/${p.repository}`);
    expect(context).toContain(`Refused ${p.refusedEvent.reason} no trust relationship of this project admits this token; failed: conditions`);
    expect(context).toContain("ref refs/heads/dev");
    expect(form).toContain(`<input type="hidden" name="event" value="${p.refusedEvent.id}"/>`);

    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    const csrf = /name="csrf" value="([^"]+)"/.exec(form)![1]!;
    const response = await browser.post(`/settings/projects/${p.projectId}/explain`, { csrf, event: p.refusedEvent.id, subject_token: `  ${p.refusedToken}\n` });
    spy.mockRestore();
    const html = await response.text();
    expect(response.status).toBe(200);
    // Never echoed (nor its signature), never logged.
    expect(html).not.toContain(p.refusedToken);
    expect(html).not.toContain(p.refusedToken.split(".")[2]);
    expect(/<textarea[^>]*name="subject_token"[^>]*><\/textarea>/.test(html)).toBe(true);
    expect(lines.join("\n")).not.toContain(p.refusedToken.split(".")[2]);
    expect(lines.map((l) => JSON.parse(l)).find((l) => l.route === "/settings/projects/:project_id/explain")).toMatchObject({ status: 200, principal: "operator" });

    const text = mainText(html);
    expect(text).toContain("What POST /token answers 400 invalid_target");
    expect(text).toContain("GitHub Actions, signature verified");
    expect(text).toContain(`${p.shadowId} would admit`);
    // The token's decoded claims (never the token itself).
    expect(mainText(/<dl class="facts" id="token-claims">[\s\S]*?<\/dl>/.exec(html)![0])).toContain(`repository ${p.owner}/${p.repository}`);
    expect(mainText(/<dl class="facts" id="token-claims">[\s\S]*?<\/dl>/.exec(html)![0])).toContain("ref refs/heads/dev");
    // Each stage, with its result.
    for (const stage of ["format", "header", "issuer", "key", "signature", "times", "claims", "audience", "replay"]) expect(text).toContain(`${stage}: pass`);
    // Each relationship's checks: expected, actual, pass or fail.
    expect(text).toContain(`GitHub Actions ${p.relationshipId}: refuses (conditions)`);
    expect(text).toContain("enforce: main only");
    const row = /<tr data-pass="false">([\s\S]*?)<\/tr>/.exec(html.slice(html.indexOf(`id="${p.relationshipId}"`)))![1]!;
    expect(mainText(row).trim()).toBe("conditions.ref (claim ref) refs/heads/main refs/heads/dev fail");
    expect(text).toContain(`GitHub Actions ${p.shadowId}: admits`);
    // The context of the exchange it came from stays beside the form.
    expect(html).toContain('id="explained-event"');
  });

  it("mints nothing and spends nothing: the token it explained as one that would mint exchanges afterwards", async () => {
    const s = await seedGithub();
    const token = await sign(s.claims);
    const browser = await operator();
    const csrf = await browser.csrfOf(`/settings/projects/${s.projectId}/explain`);
    const before = await storedState();
    const html = await (await browser.post(`/settings/projects/${s.projectId}/explain`, { csrf, subject_token: token })).text();
    expect(mainText(html)).toContain(`What POST /token answers 200: it would mint Relationship ${s.relationshipId}`);
    expect(mainText(html)).toContain("unused not exchanged before not exchanged before pass");
    expect(await storedState()).toEqual(before);
    await expectExchanged(token, { audience: s.projectId });
  });

  it("renders a pasted token's hostile claims as text in the trace", async () => {
    const hostile = { ref: "<script>alert(1)</script>", environment: '"><img src=x onerror=alert(2)>', workflow: "' onmouseover='alert(3)" };
    const s = await seedGithub(hostile, { conditions: { ref: "refs/heads/main" } });
    const browser = await operator();
    const csrf = await browser.csrfOf(`/settings/projects/${s.projectId}/explain`);
    const html = await (await browser.post(`/settings/projects/${s.projectId}/explain`, { csrf, subject_token: await sign(s.claims) })).text();
    expect(html).not.toMatch(/<script>alert|<img|onmouseover='/);
    expect(html.match(/<script/g)).toHaveLength(1);
    const text = mainText(html);
    expect(text).toContain(`ref ${hostile.ref}`);
    expect(text).toContain(`environment ${hostile.environment}`);
    // The failing condition's actual value, as text too.
    expect(text).toContain(`conditions.ref (claim ref) refs/heads/main ${hostile.ref} fail`);
  });

  it("refuses a post without the session's CSRF field or from another site (403 access_denied), before spending the budget or reading the token", async () => {
    const s = await seedGithub();
    const token = await sign(s.claims);
    const limiter = fakeLimiter(() => true);
    const browser = await new UiBrowser({ EXPLAIN_LIMITER: limiter } as never).signedIn(env.ADMIN_TOKEN);
    const path = `/settings/projects/${s.projectId}/explain`;
    const csrf = await browser.csrfOf(path);
    expect(await expectPageError(await browser.post(path, { subject_token: token }), 403, "access_denied")).not.toContain(token);
    await expectPageError(await browser.post(path, { csrf: "x".repeat(43), subject_token: token }), 403, "access_denied");
    await expectPageError(await browser.post(path, { csrf, subject_token: token }, { origin: "https://evil.test", "sec-fetch-site": "cross-site" }), 403, "access_denied");
    expect(limiter.keys).toEqual([]);
    const member = await seedOrg();
    const memberBrowser = await new UiBrowser({ EXPLAIN_LIMITER: limiter } as never).signedIn(member.tokens.memberUser.token);
    const memberCsrf = await memberBrowser.csrfOf(`/settings/projects/${member.projectId}`);
    await expectPageError(await memberBrowser.post(`/settings/projects/${member.projectId}/explain`, { csrf: memberCsrf, subject_token: token }), 403, "insufficient_scope");
    expect(limiter.keys).toEqual([]);
    await expectExchanged(token, { audience: s.projectId });
  });

  it("answers another organization's project as not found (404), spending no budget and reading no token", async () => {
    const s = await seedGithub();
    const token = await sign(s.claims);
    const limiter = fakeLimiter(() => true);
    const stranger = await seedOrg("other");
    const foreign = await new UiBrowser({ EXPLAIN_LIMITER: limiter } as never).signedIn(stranger.tokens.adminUser.token);
    const csrf = await foreign.csrfOf(`/settings/projects/${stranger.projectId}`);
    const before = await storedState();
    const html = await expectPageError(await foreign.post(`/settings/projects/${s.projectId}/explain`, { csrf, subject_token: token }), 404, "not_found");
    expect(html).not.toContain(token);
    expect(limiter.keys).toEqual([]);
    expect(await storedState()).toEqual(before);
    await expectExchanged(token, { audience: s.projectId });
  });

  it("answers an empty token beside the field (400), and spends the credential's EXPLAIN_LIMITER budget, the API's, refusing with 429 when it is spent", async () => {
    const t = await seedOrg();
    const limiter = fakeLimiter((key) => key !== `cred:${t.tokens.org.id}`);
    const admin = await new UiBrowser({ EXPLAIN_LIMITER: limiter } as never).signedIn(t.tokens.adminUser.token);
    const path = `/settings/projects/${t.projectId}/explain`;
    const empty = await admin.post(path, { csrf: await admin.csrfOf(path), subject_token: " \n" });
    const html = await empty.text();
    expect(empty.status).toBe(400);
    expect(expectFieldError(html, "explain-token", "subject_token")).toBe("paste the job's ID token");
    expect(limiter.keys).toEqual([`cred:${t.tokens.adminUser.id}`]);

    const org = await new UiBrowser({ EXPLAIN_LIMITER: limiter } as never).signedIn(t.tokens.org.token);
    const refused = await org.post(path, { csrf: await org.csrfOf(path), subject_token: "a.b.c" });
    expect(refused.headers.get("retry-after")).toBe("10");
    expect(errorCodeOf(await expectPageError(refused, 429, "rate_limited"))).toBe("rate_limited");
    expect(limiter.keys).toEqual([`cred:${t.tokens.adminUser.id}`, `cred:${t.tokens.org.id}`]);
  });
});
