/**
 * The audit listing (issue 10 §4): filters `project_id`, `kind`, `outcome`, `since`,
 * `until`; newest first; opaque cursor pagination that stays stable while events arrive;
 * every bad parameter a 400 naming it; every query one index range (EXPLAIN QUERY PLAN).
 * Events are stored here as the consumer stores them, with chosen times.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventIdFloor } from "../../src/audit/events";
import { auditPageQuery } from "../../src/audit/store";
import { admin, createProject, expectError } from "../support/api";
import { listAudit, quietProject, sampleEvent, store } from "./support";

/** An organization with two projects and `n` events a second apart, the newest 10 s ago (and no others). */
async function orgWithEvents(n = 0) {
  const { orgId, projectId, other } = await quietProject();
  const start = Date.now() - 10_000 - n * 1000;
  const events = Array.from({ length: n }, (_, i) =>
    sampleEvent({ orgId, projectId: i % 2 === 0 ? projectId : other, ms: start + i * 1000, kind: i % 3 === 0 ? "admin" : "exchange", outcome: i % 4 === 1 ? "refused" : "minted" }),
  );
  await store(events);
  return { orgId, projectId, other, events, newestFirst: [...events].reverse().map((e) => e.id) };
}

async function pages(orgId: string, query: Record<string, string>, between?: () => Promise<void>) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const listed = await listAudit(orgId, { ...query, ...(cursor ? { cursor } : {}) });
    ids.push(...listed.events.map((e) => e.id));
    cursor = listed.next_cursor;
    if (!cursor) return ids;
    await between?.();
  }
  throw new Error("no last page");
}

describe("filters", () => {
  it("filters by project, kind, outcome, and since/until in Unix seconds or RFC 3339", async () => {
    const { orgId, projectId, events } = await orgWithEvents(12);
    const ids = (pred: (e: (typeof events)[number]) => boolean) => events.filter(pred).map((e) => e.id).reverse();
    const listed = async (query: Record<string, string>) => (await listAudit(orgId, query)).events.map((e) => e.id);

    expect(await listed({})).toEqual(ids(() => true));
    expect(await listed({ project_id: projectId })).toEqual(ids((e) => e.project_id === projectId));
    expect(await listed({ kind: "admin" })).toEqual(ids((e) => e.kind === "admin"));
    expect(await listed({ kind: "exchange" })).toEqual(ids((e) => e.kind === "exchange"));
    expect(await listed({ outcome: "refused" })).toEqual(ids((e) => e.kind === "exchange" && e.outcome === "refused"));
    expect(await listed({ kind: "exchange", outcome: "minted", project_id: projectId })).toEqual(
      ids((e) => e.kind === "exchange" && e.outcome === "minted" && e.project_id === projectId),
    );
    // since is inclusive, until exclusive, both at one-second resolution.
    const since = events[3]!.time;
    const until = events[8]!.time;
    const window = ids((e) => e.time >= since && e.time < until);
    expect(window).toHaveLength(5);
    expect(await listed({ since: String(since), until: String(until) })).toEqual(window);
    const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    expect(await listed({ since: iso(since), until: iso(until) })).toEqual(window);
    expect(await listed({ since: new Date(since * 1000).toISOString().replace("Z", "+00:00") })).toEqual(ids((e) => e.time >= since));
  });
});

describe("pagination", () => {
  it("pages newest first with an opaque cursor, the last page without one", async () => {
    const { orgId, newestFirst } = await orgWithEvents(23);
    const first = await listAudit(orgId, { limit: "10" });
    expect(first.events).toHaveLength(10);
    expect(first.next_cursor).toEqual(expect.any(String));
    expect(first.next_cursor).not.toContain(orgId);
    expect(await pages(orgId, { limit: "10" })).toEqual(newestFirst);
    // The default page is 50, the largest 200.
    expect((await listAudit(orgId)).next_cursor).toBeNull();
  });

  it("stays stable while events arrive: every event present at the start is listed once, in order", async () => {
    const { orgId, projectId, newestFirst } = await orgWithEvents(30);
    const arriving: Promise<void>[] = [];
    const seen = await pages(orgId, { limit: "7" }, async () => {
      // New events, stored while the listing is paged (and some concurrently with the next page).
      await store([sampleEvent({ orgId, projectId, ms: Date.now() })]);
      arriving.push(store([sampleEvent({ orgId, projectId, ms: Date.now() }), sampleEvent({ orgId, projectId, ms: Date.now() })]));
    });
    await Promise.all(arriving);
    expect(seen).toEqual(newestFirst);
  });

  it("refuses a tampered cursor, another organization's, and one made for other filters", async () => {
    const { orgId, projectId } = await orgWithEvents(5);
    const other = await orgWithEvents(5);
    const { next_cursor: cursor } = await listAudit(orgId, { limit: "2" });
    const { next_cursor: filtered } = await listAudit(orgId, { limit: "1", project_id: projectId });
    const expectCursorRefused = async (orgPath: string, query: string) => {
      const body = await expectError(await admin("GET", `/v1/orgs/${orgPath}/audit?${query}`), 400, "invalid_request");
      expect(body.error_description).toMatch(/^cursor: /);
    };
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    for (const i of [0, 5, Math.floor(cursor!.length / 2), cursor!.length - 2, cursor!.length - 1]) {
      await expectCursorRefused(orgId, `limit=2&cursor=${encodeURIComponent(flip(cursor!, i))}`);
    }
    await expectCursorRefused(orgId, `cursor=${encodeURIComponent(cursor!.slice(0, -3))}`);
    await expectCursorRefused(orgId, `cursor=not-a-cursor`);
    await expectCursorRefused(other.orgId, `cursor=${encodeURIComponent(cursor!)}`);
    await expectCursorRefused(orgId, `cursor=${encodeURIComponent(filtered!)}`);
    await expectCursorRefused(orgId, `kind=admin&cursor=${encodeURIComponent(cursor!)}`);
    // The untouched cursor works, also with another page size.
    expect((await listAudit(orgId, { limit: "100", cursor: cursor! })).events).toHaveLength(3);
  });
});

describe("bad parameters are 400 invalid_request naming the field", () => {
  it.each([
    ["kind=login", "kind"],
    ["outcome=ok", "outcome"],
    ["project_id=app", "project_id"],
    [`project_id=prj_${"A".repeat(24)}`, "project_id"],
    ["since=yesterday", "since"],
    ["since=-5", "since"],
    ["until=2026-13-01T00:00:00Z", "until"],
    ["until=2026-01-01T00:00:00", "until"],
    ["since=2000&until=1000", "until"],
    ["since=1000&until=1000", "until"],
    ["limit=0", "limit"],
    ["limit=201", "limit"],
    ["limit=ten", "limit"],
    ["limit=", "limit"],
    ["kind=admin&outcome=minted", "outcome"],
    ["kind=admin&kind=exchange", "kind"],
    ["cursor=", "cursor"],
    ["org_id=org_000000000000000000000000", "unknown field: org_id"],
    ["projectid=x", "unknown field: projectid"],
  ])("?%s names %s", async (query, field) => {
    const { orgId } = await createProject();
    const body = await expectError(await admin("GET", `/v1/orgs/${orgId}/audit?${query}`), 400, "invalid_request");
    expect(body.error_description.startsWith(field.startsWith("unknown") ? field : `${field}: `), body.error_description).toBe(true);
  });
});

describe("queries read one index range", () => {
  const org = "org_000000000000000000000000";
  const prj = "prj_000000000000000000000000";
  const since = eventIdFloor(Date.now() - 3600_000);
  it.each<[string, Parameters<typeof auditPageQuery>[1], string]>([
    ["no filter", {}, "audit_events_by_org"],
    ["since/until", { fromId: since, toId: eventIdFloor(Date.now()) }, "audit_events_by_org"],
    ["project", { projectId: prj }, "audit_events_by_project"],
    ["kind", { kind: "admin" }, "audit_events_by_kind"],
    ["outcome", { outcome: "refused" }, "audit_events_by_outcome"],
    ["kind and outcome, since", { kind: "exchange", outcome: "minted", fromId: since }, "audit_events_by_outcome"],
  ])("%s: %s, in id order (no sort)", async (_name, filters, index) => {
    const { sql, values } = auditPageQuery(org, filters, { beforeId: eventIdFloor(Date.now()), limit: 50 });
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...values).all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail).join(" | ");
    expect(details).toContain(`USING INDEX ${index}`);
    expect(details).not.toMatch(/TEMP B-TREE|SCAN audit_events(?! USING)/);
  });
});
