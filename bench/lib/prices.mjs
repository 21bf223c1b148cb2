/**
 * The prices the cost per 10⁶ exchanges is computed with (bench/lib/cost.mjs), in one place:
 * Cloudflare's published Workers Paid, D1 and Queues prices, as stated on
 * developers.cloudflare.com/workers/platform/pricing/, /d1/platform/pricing/ and
 * /queues/platform/pricing/, recorded on RECORDED. Inclusions are per account and month;
 * "GB" is 10⁹ bytes. Update the figures and the date together when Cloudflare changes them.
 */
export const PRICES = {
  recorded: "2026-12-01",
  workers: {
    /** Workers Paid subscription, which also carries the D1 and Queues inclusions below. */
    baseUsdPerMonth: 5,
    requests: { includedPerMonth: 10e6, usdPerMillion: 0.3 },
    cpuMs: { includedPerMonth: 30e6, usdPerMillion: 0.02 },
  },
  d1: {
    rowsRead: { includedPerMonth: 25e9, usdPerMillion: 0.001 },
    rowsWritten: { includedPerMonth: 50e6, usdPerMillion: 1.0 },
    storageGb: { included: 5, usdPerGbMonth: 0.75 },
  },
  queues: {
    operations: { includedPerMonth: 1e6, usdPerMillion: 0.4 },
    /** A delivered message is written, read and deleted: three operations per 64 KB started. */
    operationsPerMessage: 3,
    bytesPerOperation: 64 * 1024,
  },
};

/** 30 days: the month the volumes are spread over when a rate is needed (storage at steady state). */
export const SECONDS_PER_MONTH = 30 * 24 * 3600;
