/**
 * The soak's plateau check: does the worker's live heap keep growing once warmed up?
 *
 * Samples are `{ t, requests, heapKiB }`: seconds into the traffic, requests answered, and
 * the live heap after a full collection, taken at rest (nothing in flight). The first half
 * of the run is warm-up; over the second half a line is fitted through the samples by
 * Theil–Sen (the median of the pairwise slopes), so that one sample caught with something
 * transient (a key refresh, a sweep) cannot tilt it. The heap fails to plateau when it grows
 * by more than `maxBytesPerRequest` and by more than `minGrowthBytes` in all: a bounded cache
 * still filling up grows by a few hundred KiB, and a short run's slope means little, while a
 * retention adds up. Too few samples and it is not judged at all.
 */

export const PLATEAU_DEFAULTS = { maxBytesPerRequest: 16, minGrowthBytes: 256 * 1024, minSamples: 5, minSeconds: 20 };

/** Theil–Sen slope of y over x; 0 for fewer than two distinct x. */
export function theilSen(points) {
  const slopes = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dx = points[j][0] - points[i][0];
      if (dx !== 0) slopes.push((points[j][1] - points[i][1]) / dx);
    }
  }
  if (slopes.length === 0) return 0;
  slopes.sort((a, b) => a - b);
  const mid = slopes.length >> 1;
  return slopes.length % 2 ? slopes[mid] : (slopes[mid - 1] + slopes[mid]) / 2;
}

/** The verdict over a run of `driveSeconds`. */
export function judgePlateau(samples, driveSeconds, limits = PLATEAU_DEFAULTS) {
  const judged = samples.filter((s) => s.t >= driveSeconds / 2);
  const span = judged.length > 1 ? judged.at(-1).t - judged[0].t : 0;
  if (judged.length < limits.minSamples || span < limits.minSeconds) {
    return {
      judged: false,
      why: `${judged.length} samples over ${span.toFixed(0)} s in the second half; needs ${limits.minSamples} over ${limits.minSeconds} s (try --seconds=600)`,
    };
  }
  const perRequest = theilSen(judged.map((s) => [s.requests, s.heapKiB * 1024]));
  const growth = perRequest * (judged.at(-1).requests - judged[0].requests);
  const grows = perRequest > limits.maxBytesPerRequest && growth > limits.minGrowthBytes;
  return {
    judged: true,
    plateau: !grows,
    bytesPerRequest: Math.round(perRequest * 10) / 10,
    growthKiB: Math.round(growth / 1024),
    samples: judged.length,
    fromSecond: judged[0].t,
    toSecond: judged.at(-1).t,
  };
}
