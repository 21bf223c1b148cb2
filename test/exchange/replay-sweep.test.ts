/**
 * The scheduled handler sweeps replay records and revocations whose tokens have expired
 * anyway, keeps the rest, and does it in bounded statements: at 10⁶ exchanges an hour the
 * table holds about a million expired rows at each hourly run, and one unbounded DELETE
 * would hold D1 (one query at a time per database) for as long as it takes.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SWEEP_LIMITS, SWEEP_STATEMENTS, sweepExpired } from "../../src/db/sweep";
import worker from "../../src/index";
import { exchangeToken } from "../support/api";
import { expectRefused, replayRecorded } from "../support/exchange-forge";
import { expectExchanged, seedGithub } from "../support/exchange-seed";
import { ISSUERS, now, signToken, uuid } from "../support/issuer";

afterEach(() => vi.restoreAllMocks());

async function sweep(bindings: Cloudflare.Env = env) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "17 * * * *" }), bindings, ctx);
  await waitOnExecutionContext(ctx);
}

const record = (key: string, expiresAt: number) =>
  env.DB.prepare("INSERT INTO used_subject_tokens (token_key, expires_at) VALUES (?, ?)").bind(key, expiresAt).run();

const exists = async (key: string) =>
  (await env.DB.prepare("SELECT 1 AS found FROM used_subject_tokens WHERE token_key = ?").bind(key).first()) !== null;

/**
 * `rows` rows named `<prefix><i>` in one statement (a recursive CTE), expiring over the hour
 * before `now` when `expired`, else over the hour after it; expired and live keys interleave.
 */
async function seed(table: "used_subject_tokens" | "revoked_tokens", prefix: string, rows: number, expired: boolean) {
  const key = table === "used_subject_tokens" ? "token_key" : "jti";
  const t = now();
  const expiry = expired ? `${t - 1} - (i % 3600)` : `${t + 600} + (i % 3600)`;
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
     INSERT INTO ${table} (${key}, expires_at) SELECT ?2 || i, ${expiry} FROM n`,
  )
    .bind(rows, prefix)
    .run();
}

async function count(table: "used_subject_tokens" | "revoked_tokens", prefix: string, which: "expired" | "live") {
  const key = table === "used_subject_tokens" ? "token_key" : "jti";
  const row = await env.DB.prepare(
    `SELECT COUNT(*) AS n FROM ${table} WHERE substr(${key}, 1, length(?1)) = ?1 AND expires_at ${which === "expired" ? "<" : ">="} ?2`,
  )
    .bind(prefix, now())
    .first<{ n: number }>();
  return row?.n ?? -1;
}

/** env.DB, with every statement's SQL and rows changed recorded. */
function recordingDb(statements: { sql: string; changes: number }[]): D1Database {
  const db = env.DB;
  return {
    prepare(sql: string) {
      const wrap = (statement: D1PreparedStatement): D1PreparedStatement =>
        ({
          bind: (...values: unknown[]) => wrap(statement.bind(...values)),
          run: async () => {
            const result = await statement.run();
            statements.push({ sql, changes: result.meta.changes });
            return result;
          },
        }) as unknown as D1PreparedStatement;
      return wrap(db.prepare(sql));
    },
  } as unknown as D1Database;
}

describe("replay sweep", () => {
  it("deletes replay records whose expiry has passed", async () => {
    const key = `${ISSUERS.github}#${uuid()}`;
    await record(key, now() - 3600);
    await sweep();
    expect(await exists(key)).toBe(false);
  });

  it("keeps replay records that have not expired", async () => {
    const key = `${ISSUERS.github}#${uuid()}`;
    await record(key, now() + 600);
    await sweep();
    expect(await exists(key)).toBe(true);
  });

  it("keeps refusing a replayed token that is still valid after a sweep", async () => {
    const { claims } = await seedGithub();
    const token = await signToken(ISSUERS.github, claims);
    await expectExchanged(token);
    await sweep();
    expect(await replayRecorded(ISSUERS.github, String(claims.jti))).toBe(true);
    await expectRefused(await exchangeToken(token), "token_replayed");
  });
});

describe("sweep at scale", () => {
  it("clears 300,000 expired replay records and 20,000 revocations in one run, in statements of at most 10,000 rows, keeping every live row", async () => {
    const p = `big-${uuid()}#`;
    await seed("used_subject_tokens", p, 300_000, true);
    await seed("used_subject_tokens", `${p}live-`, 50_000, false);
    await seed("revoked_tokens", p, 20_000, true);
    await seed("revoked_tokens", `${p}live-`, 5_000, false);
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const statements: { sql: string; changes: number }[] = [];

    await sweep({ ...env, DB: recordingDb(statements) });

    expect(await count("used_subject_tokens", p, "expired")).toBe(0);
    expect(await count("revoked_tokens", p, "expired")).toBe(0);
    expect(await count("used_subject_tokens", `${p}live-`, "live")).toBe(50_000);
    expect(await count("revoked_tokens", `${p}live-`, "live")).toBe(5_000);
    // On these tables only the two bounded batch statements ran, none above its batch size,
    // within the run's budget (the settings page's sessions and the audit log are swept beside them).
    const batches = statements.filter((s) => !/ui_sessions|audit_events/.test(s.sql));
    expect(new Set(batches.map((s) => s.sql))).toEqual(new Set(Object.values(SWEEP_STATEMENTS)));
    expect(Math.max(...batches.map((s) => s.changes))).toBe(SWEEP_LIMITS.batchRows);
    expect(batches.length).toBeGreaterThanOrEqual(30 + 2);
    expect(batches.length).toBeLessThanOrEqual(SWEEP_LIMITS.maxStatements);
    // The run's one log line says what it did and that nothing is left over.
    const line = JSON.parse(lines.find((l) => l.includes('"route":"cron 17 * * * *"')) ?? "{}");
    expect(line).toMatchObject({ outcome: "ok", reason: null, statements: batches.length, backlog: false });
    expect(line.swept_used_subject_tokens).toBeGreaterThanOrEqual(300_000);
    expect(line.swept_revoked_tokens).toBeGreaterThanOrEqual(20_000);
  });

  it("works off a backlog larger than one run's budget over successive runs, each within its statement budget", async () => {
    const p = `backlog-${uuid()}#`;
    await sweepExpired(env.DB, now()); // whatever earlier tests left expired, so the counts below are this test's
    await seed("used_subject_tokens", p, 250_000, true);
    await seed("used_subject_tokens", `${p}live-`, 20_000, false);
    await seed("revoked_tokens", p, 30_000, true);
    const limits = { batchRows: 10_000, maxStatements: 8, budgetMs: 60_000 };
    const runs = [];
    for (let run = 0; run < 10; run++) {
      const statements: { sql: string; changes: number }[] = [];
      const result = await sweepExpired(recordingDb(statements), now(), limits);
      expect(statements.length).toBe(result.statements);
      expect(result.statements).toBeLessThanOrEqual(limits.maxStatements);
      for (const s of statements) expect(s.changes).toBeLessThanOrEqual(limits.batchRows);
      runs.push(result);
      if (result.complete) break;
    }
    // Round robin, so the revocations are not starved behind the replay backlog: the first
    // run takes all 30,000 of them and 40,000 replay records; later runs spend one statement
    // finding no revocation left and take 70,000 each; the fourth takes the last ones with
    // its full budget, and a fifth finds both tables clear.
    expect(runs.map((r) => [r.usedSubjectTokens, r.revokedTokens, r.complete])).toEqual([
      [40_000, 30_000, false],
      [70_000, 0, false],
      [70_000, 0, false],
      [70_000, 0, false],
      [0, 0, true],
    ]);
    expect(await count("used_subject_tokens", p, "expired")).toBe(0);
    expect(await count("revoked_tokens", p, "expired")).toBe(0);
    expect(await count("used_subject_tokens", `${p}live-`, "live")).toBe(20_000);
  });

  it("starts no statement once its time budget is spent, and reports the backlog", async () => {
    const p = `slow-${uuid()}#`;
    await seed("used_subject_tokens", p, 30_000, true);
    // A clock that advances 10 s each time it is read: a D1 that takes 10 s per statement.
    let t = 0;
    const clock = () => (t += 10_000);
    const result = await sweepExpired(env.DB, now(), { batchRows: 1_000, maxStatements: 1_000, budgetMs: 60_000 }, clock);
    expect(result.complete).toBe(false);
    expect(result.statements).toBeLessThanOrEqual(6);
    expect(result.statements).toBeGreaterThan(0);
    expect(await count("used_subject_tokens", p, "expired")).toBe(30_000 - result.usedSubjectTokens);
  });

  it("fails the cron run when D1 fails, with one error line naming the reason", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const failing = {
      prepare: () => ({
        bind: () => ({ run: () => Promise.reject(new Error("D1_ERROR: storage unavailable")) }),
      }),
    } as unknown as D1Database;
    await expect(sweep({ ...env, DB: failing })).rejects.toMatchObject({ reason: "database_unavailable" });
    const line = JSON.parse(lines.find((l) => l.includes('"route":"cron 17 * * * *"')) ?? "{}");
    expect(line).toMatchObject({ outcome: "error", reason: "database_unavailable", detail: "D1_ERROR: storage unavailable" });
  });

  it("finds each batch through the expiry index (no table scan)", async () => {
    for (const [table, sql] of [
      ["used_subject_tokens", SWEEP_STATEMENTS.usedSubjectTokens],
      ["revoked_tokens", SWEEP_STATEMENTS.revokedTokens],
    ] as const) {
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(now(), 10_000).all<{ detail: string }>();
      const details = plan.results.map((r) => r.detail);
      expect(details, details.join("\n")).toContainEqual(expect.stringMatching(new RegExp(`USING COVERING INDEX ${table}_by_expiry \\(expires_at<\\?\\)`)));
      expect(details.some((d) => /^SCAN /.test(d)), details.join("\n")).toBe(false);
    }
  });
});
