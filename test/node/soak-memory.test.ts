/**
 * The soak's memory verdicts, on samples and snapshots made up to the shapes workerd
 * produces: the plateau check (scripts/plateau.mjs) and what a snapshot diff says the
 * traffic left behind (scripts/heap-snapshot.mjs). The soak itself is a developer command,
 * not part of the suite; these are the parts of it that decide pass or fail.
 */
import { describe, expect, it } from "vitest";
import { parseSnapshot, survivors } from "../../scripts/heap-snapshot.mjs";
import { judgePlateau, PLATEAU_DEFAULTS, theilSen } from "../../scripts/plateau.mjs";

const MiB = 1024;

/** A sample every 7 s over `seconds`, 85 requests a second, the live heap given by `heapKiB(i, requests)`. */
function run(seconds: number, heapKiB: (i: number, requests: number) => number) {
  const samples = [];
  for (let i = 0, t = 0; t <= seconds; i++, t += 7) samples.push({ t, requests: t * 85, heapKiB: heapKiB(i, t * 85) });
  return samples;
}
/** What workerd shows at rest: a flat 3.4 MiB, one sample in eight caught with 0.8 MiB more (a key refresh, a sweep). */
const flat = (i: number) => (i % 8 === 5 ? 4.2 : 3.4) * MiB;

describe("the plateau check", () => {
  it("passes a heap that does not grow, whatever a few samples caught", () => {
    const verdict = judgePlateau(run(460, flat), 460);
    expect(verdict).toMatchObject({ judged: true, plateau: true });
    expect(Math.abs(verdict.bytesPerRequest ?? Infinity)).toBeLessThan(1);
  });

  it("fails a heap that keeps 40 bytes per request after warm-up", () => {
    const verdict = judgePlateau(run(460, (i, requests) => flat(i) + (requests * 40) / 1024), 460);
    expect(verdict).toMatchObject({ judged: true, plateau: false });
    expect(verdict.bytesPerRequest).toBeGreaterThan(35);
    expect(verdict.bytesPerRequest).toBeLessThan(45);
  });

  it("fails a slow leak of 20 bytes per request once it adds up to more than 256 KiB", () => {
    expect(judgePlateau(run(600, (_, requests) => 4 * MiB + (requests * 20) / 1024), 600)).toMatchObject({ judged: true, plateau: false });
  });

  it("passes 20 bytes per request that add up to less than 256 KiB: a bounded cache filling, or a short run's slope", () => {
    expect(judgePlateau(run(120, (_, requests) => 4 * MiB + (requests * 20) / 1024), 120)).toMatchObject({ judged: true, plateau: true });
  });

  it("passes a heap that grew during warm-up (a cache filling to its bound) and stays there", () => {
    const filling = (_: number, requests: number) => 4 * MiB + (Math.min(requests, 22_000) * 40) / 1024;
    expect(judgePlateau(run(600, filling), 600)).toMatchObject({ judged: true, plateau: true });
  });

  it("is not tilted by low samples at the start of the second half, as a least-squares line would be", () => {
    const samples = run(300, (i) => (i >= 22 && i <= 24 ? 3.4 : 4.2) * MiB);
    const judged = samples.filter((s) => s.t >= 150);
    const leastSquares = (() => {
      const mx = judged.reduce((a, s) => a + s.requests, 0) / judged.length;
      const my = judged.reduce((a, s) => a + s.heapKiB * 1024, 0) / judged.length;
      const sxy = judged.reduce((a, s) => a + (s.requests - mx) * (s.heapKiB * 1024 - my), 0);
      return sxy / judged.reduce((a, s) => a + (s.requests - mx) ** 2, 0);
    })();
    expect(leastSquares).toBeGreaterThan(PLATEAU_DEFAULTS.maxBytesPerRequest);
    expect(judgePlateau(samples, 300)).toMatchObject({ judged: true, plateau: true, bytesPerRequest: 0 });
  });

  it("judges nothing on a run too short to have a second half worth the name", () => {
    const short = judgePlateau(run(30, (_, requests) => 4 * MiB + requests * 10), 30);
    expect(short.judged).toBe(false);
    expect(short.why).toMatch(/needs 5 over 20 s/);
  });

  it("takes the median of the pairwise slopes", () => {
    expect(theilSen([[0, 0], [1, 1], [2, 2], [3, 30]])).toBe(5.5);
    expect(theilSen([[0, 5], [0, 7]])).toBe(0);
  });
});

/** A V8 heap snapshot with the given nodes: [type, name, id, self size, edges as [type, name, index of target]]. */
function snapshot(nodes: [string, string, number, number, [string, string, number][]][]) {
  const nodeTypes = ["hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native", "synthetic"];
  const edgeTypes = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"];
  const strings: string[] = [];
  const str = (s: string) => (strings.includes(s) ? strings.indexOf(s) : strings.push(s) - 1);
  const flatNodes: number[] = [];
  const flatEdges: number[] = [];
  for (const [type, name, id, self, edges] of nodes) {
    flatNodes.push(nodeTypes.indexOf(type), str(name), id, self, edges.length, 0, 0);
    for (const [edgeType, edgeName, to] of edges) flatEdges.push(edgeTypes.indexOf(edgeType), str(edgeName), to * 7);
  }
  return JSON.stringify({
    snapshot: {
      meta: {
        node_fields: ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"],
        node_types: [nodeTypes, "string", "number", "number", "number", "number", "number"],
        edge_fields: ["type", "name_or_index", "to_node"],
        edge_types: [edgeTypes, "string_or_number", "node"],
      },
      node_count: nodes.length,
      edge_count: flatEdges.length / 3,
    },
    nodes: flatNodes,
    edges: flatEdges,
    strings,
  });
}

describe("what the traffic left behind", () => {
  it("counts objects born between two snapshots and still alive, by constructor, with what holds them", () => {
    const before = snapshot([
      ["synthetic", "(GC roots)", 1, 0, [["element", "1", 1], ["element", "2", 2]]],
      ["synthetic", "(Global handles)", 3, 0, []],
      ["object", "KeyCache", 5, 64, []],
    ]);
    const after = snapshot([
      ["synthetic", "(GC roots)", 1, 0, [["element", "1", 1], ["element", "2", 2]]],
      ["synthetic", "(Global handles)", 3, 0, [["property", "1 / DevTools console", 3], ["property", "2 / DevTools console", 4]]],
      ["object", "KeyCache", 5, 64, [["property", "entries", 5], ["weak", "stale", 6]]],
      ["string", '{"request_id":"a"}', 41, 200, []],
      ["string", '{"request_id":"b"}', 43, 220, []],
      ["object", "Map", 45, 32, []],
      ["object", "Entry", 47, 16, []],
    ]);
    const kept = survivors(parseSnapshot(before), parseSnapshot(after));
    expect(kept).toEqual([
      { group: "(string)", count: 2, bytes: 420, retainers: ["2 × (Global handles).DevTools console"] },
      { group: "Map", count: 1, bytes: 32, retainers: ["1 × KeyCache.entries"] },
      // Held only through a weak edge: counted, with no retainer.
      { group: "Entry", count: 1, bytes: 16, retainers: [] },
    ]);
  });
});
