/**
 * Retention (issue 10 §4): events older than AUDIT_RETENTION_DAYS (default 90) are deleted
 * by the hourly cron in bounded batches through the primary key's index: at most
 * `batchRows` per statement and `maxStatements` or `budgetMs` per run, the rest left for
 * the next run; younger events are never touched.
 *
 * The swept events here are dated around 2001, far older than anything another test
 * writes, and "now" is placed just after them, so sweeping them cannot touch other tests'
 * events (all dated today).
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AUDIT_SWEEP_STATEMENT, DAY_MS, sweepAuditEvents } from "../../src/audit/retention";
import { configFrom } from "../../src/config";
import worker from "../../src/index";
import { createProject } from "../support/api";
import { sampleEvent, store } from "./support";

const EPOCH_2001 = 1_000_000_000_000;
afterEach(() => vi.restoreAllMocks());
const present = async (ids: string[]) =>
  (await env.DB.prepare(`SELECT id FROM audit_events WHERE id IN (${ids.map(() => "?").join(",")})`).bind(...ids).all<{ id: string }>()).results.map((r) => r.id).sort();

async function datedEvents(count: number, startMs: number, stepMs: number) {
  const { orgId, projectId } = await createProject();
  const events = Array.from({ length: count }, (_, i) => sampleEvent({ orgId, projectId, ms: startMs + i * stepMs }));
  for (let i = 0; i < events.length; i += 50) await store(events.slice(i, i + 50));
  return events.map((e) => e.id);
}

describe("the audit retention sweep", () => {
  it("deletes what is past retention in bounded batches, leaving a backlog for the next run and younger events alone", async () => {
    // 25 events a minute apart from 2001-09-09; 5 events 95 days later.
    const old = await datedEvents(25, EPOCH_2001, 60_000);
    const young = await datedEvents(5, EPOCH_2001 + 95 * DAY_MS, 60_000);
    const now = EPOCH_2001 + 100 * DAY_MS; // retention 90 days: the first 25 are past it
    const limits = { batchRows: 10, maxStatements: 2, budgetMs: 60_000 };

    expect(await sweepAuditEvents(env.DB, now, 90, limits)).toEqual({ deleted: 20, statements: 2, complete: false });
    expect(await present(old)).toHaveLength(5);
    // The oldest went first.
    expect(await present(old)).toEqual(old.slice(20).sort());
    expect(await sweepAuditEvents(env.DB, now, 90, limits)).toEqual({ deleted: 5, statements: 1, complete: true });
    expect(await present(old)).toEqual([]);
    expect(await present(young)).toEqual([...young].sort());
  });

  it("stops on its time budget", async () => {
    await datedEvents(6, EPOCH_2001 - DAY_MS, 1000);
    let t = 0;
    const clock = () => (t += 40);
    const result = await sweepAuditEvents(env.DB, EPOCH_2001, 0.5, { batchRows: 2, maxStatements: 100, budgetMs: 100 }, clock);
    expect(result.statements).toBeLessThan(4);
    expect(result.complete).toBe(false);
    // Leave nothing behind for the other tests of this file to count.
    expect((await sweepAuditEvents(env.DB, EPOCH_2001, 0.5)).complete).toBe(true);
  });

  it("walks the primary key's index, never the table", async () => {
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${AUDIT_SWEEP_STATEMENT}`).bind("evt_000000000000", 10).all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail);
    expect(details.join(" | ")).toMatch(/SEARCH audit_events USING (COVERING )?INDEX sqlite_autoindex_audit_events_1 \(id<\?\)/);
    expect(details.join(" | ")).not.toMatch(/SCAN audit_events|TEMP B-TREE/);
  });

  it("is run by the scheduled handler with AUDIT_RETENTION_DAYS (default 90)", async () => {
    expect(configFrom(env).auditRetentionDays).toBe(90);
    // Two days old, and just now: with a retention of one day only the first goes.
    const stale = await datedEvents(3, Date.now() - 2 * DAY_MS, 1000);
    const fresh = await datedEvents(2, Date.now(), 1);
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(JSON.parse(String(line))));
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "17 * * * *", scheduledTime: Date.now() }), { ...env, AUDIT_RETENTION_DAYS: "1" }, ctx);
    await waitOnExecutionContext(ctx);
    vi.restoreAllMocks();
    expect(await present(stale)).toEqual([]);
    expect(await present(fresh)).toEqual([...fresh].sort());
    // The cron's one line says what the audit sweep did.
    const line = lines.find((l) => l.route === "cron 17 * * * *");
    expect(line).toMatchObject({ outcome: "ok", audit_backlog: false });
    expect(line!.swept_audit_events).toBeGreaterThanOrEqual(stale.length);
    expect(line!.audit_statements).toBeGreaterThanOrEqual(1);
  });

  it("fails the cron run, with one error line, on an invalid AUDIT_RETENTION_DAYS", async () => {
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(JSON.parse(String(line))));
    const ctx = createExecutionContext();
    const run = worker.scheduled(createScheduledController({ cron: "17 * * * *", scheduledTime: Date.now() }), { ...env, AUDIT_RETENTION_DAYS: "0" }, ctx);
    await expect(run).rejects.toMatchObject({ reason: "config_invalid" });
    vi.restoreAllMocks();
    expect(lines.find((l) => l.route === "cron 17 * * * *")).toMatchObject({ outcome: "error", reason: "config_invalid" });
  });
});
