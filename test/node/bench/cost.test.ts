/**
 * The cost arithmetic of bench/lib/cost.mjs against hand-computed figures: inclusions are
 * used up before anything is charged, the margin is the unit prices, the sweep's deletes and a
 * queue consumer's writes are charged to the exchange, and steady-state replay storage is
 * rate × residence. The measurement itself runs in every `npm run bench` (CI: `--quick`).
 */
import { describe, expect, it } from "vitest";
import { costReport, marginalCostPerMillion, monthlyCost, REPLAY_RESIDENCE_S, replayStorage } from "../../../bench/lib/cost.mjs";
import { PRICES, SECONDS_PER_MONTH } from "../../../bench/lib/prices.mjs";

const units = { requests: 1, cpuMs: 1, rowsRead: 5, rowsWritten: 3, queueOperations: 3 };

describe("cost per 10⁶ exchanges", () => {
  it("uses the prices issue 12 states, dated", () => {
    expect(PRICES).toMatchObject({
      recorded: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      workers: { baseUsdPerMonth: 5, requests: { includedPerMonth: 10e6, usdPerMillion: 0.3 }, cpuMs: { includedPerMonth: 30e6, usdPerMillion: 0.02 } },
      d1: { rowsRead: { includedPerMonth: 25e9, usdPerMillion: 0.001 }, rowsWritten: { includedPerMonth: 50e6, usdPerMillion: 1 }, storageGb: { included: 5, usdPerGbMonth: 0.75 } },
      queues: { operations: { includedPerMonth: 1e6, usdPerMillion: 0.4 }, operationsPerMessage: 3, bytesPerOperation: 65536 },
    });
  });

  it("charges nothing beyond the base while every inclusion lasts", () => {
    expect(monthlyCost(units, 1e5).total).toBe(5);
    // 10⁶ exchanges: 3 M queue operations exceed the 1 M included; everything else is inside.
    const m = monthlyCost(units, 1e6);
    expect(m).toMatchObject({ base: 5, requests: 0, cpu: 0, rowsRead: 0, rowsWritten: 0, storage: 0 });
    expect(m.queues).toBeCloseTo(2 * 0.4, 10);
  });

  it("charges what exceeds each inclusion at 10⁹ exchanges a month", () => {
    const m = monthlyCost(units, 1e9, 6e9);
    expect(m.requests).toBeCloseTo(((1e9 - 10e6) / 1e6) * 0.3, 6); // 297
    expect(m.cpu).toBeCloseTo(((1e9 - 30e6) / 1e6) * 0.02, 6); // 19.4
    expect(m.rowsRead).toBe(0); // 5e9 < 25e9 included
    expect(m.rowsWritten).toBeCloseTo((3e9 - 50e6) / 1e6, 6); // 2,950
    expect(m.queues).toBeCloseTo(((3e9 - 1e6) / 1e6) * 0.4, 6); // 1,199.6
    expect(m.storage).toBeCloseTo(0.75, 10); // 6 GB, 5 included
    expect(m.total).toBeCloseTo(5 + 297 + 19.4 + 2950 + 1199.6 + 0.75, 6);
  });

  it("prices one more million exchanges at the unit prices", () => {
    const m = marginalCostPerMillion(units);
    expect(m).toMatchObject({ requests: 0.3, cpu: 0.02, rowsRead: 0.005, rowsWritten: 3 });
    expect(m.queues).toBeCloseTo(1.2, 10);
    expect(m.total).toBeCloseTo(4.525, 10);
  });

  it("holds replay records for rate × residence", () => {
    const { rows, bytes } = replayStorage(1e9, 400, REPLAY_RESIDENCE_S.typical);
    expect(rows).toBeCloseTo((1e9 / SECONDS_PER_MONTH) * (300 + 60 + 1800), 6);
    expect(bytes).toBeCloseTo(rows * 400, 3);
  });

  it("charges the sweep's deletes and a queue consumer's writes and invocations to the exchange", () => {
    const per = (over: Record<string, number>) => ({ roundTrips: 1, statements: 1, rowsRead: 4, rowsWritten: 0, uncounted: 0, queueMessages: 0, queueBytes: 0, queueOperations: 0, databaseGrowthBytes: 0, ...over });
    const usage = {
      exchanges: 10,
      x1: per({ queueMessages: 1, queueOperations: 3 }),
      x2: per({ rowsWritten: 2, queueMessages: 1, queueOperations: 3, databaseGrowthBytes: 400 }),
      revoke: per({ rowsWritten: 2 }),
      candidates: [{ relationships: 100, ...per({ rowsRead: 102 }) }],
      consumer: { messages: 100, invocationsPerMessage: 0.01, rowsWrittenPerMessage: 2, rowsReadPerMessage: 0 },
      sweep: { deleted: 10, rowsWritten: 10, rowsWrittenPerDeletedRow: 1 },
    };
    const summary = { "32": { variants: { X1: { serverCpuMsPerReq: { median: 1.5 } }, X2: { serverCpuMsPerReq: { median: 1.6 } }, C: { serverCpuMsPerReq: { median: 0.3 } }, D: { serverCpuMsPerReq: { median: 1.3 } } } } };
    const report = costReport(usage, summary);
    expect(report.x1.units).toEqual({ requests: 1.01, cpuMs: 1.5, rowsRead: 4, rowsWritten: 2, queueOperations: 3 });
    expect(report.x2.units).toEqual({ requests: 1.01, cpuMs: 1.6, rowsRead: 4, rowsWritten: 2 + 1 + 2, queueOperations: 3 });
    expect(report.x1.cpuEstimateWithoutD1Ms).toBeCloseTo(0.5, 10);
    expect(report.revoke.units.rowsWritten).toBe(3);
    expect(report.candidates[0]).toMatchObject({ relationships: 100, rowsRead: 102 });
    expect(report.candidates[0]!.usdPerMillionRowsRead).toBeCloseTo(0.102, 10);
    expect(report.x2.monthly.map((m) => m.volume)).toEqual([1e6, 1e7, 1e8, 1e9]);
  });
});
