/**
 * Builds what the bench runs: the real worker's production bundle exactly as deployed
 * (`wrangler deploy --dry-run`), the reference workers A, C, D, and the counting entry
 * (the real app with env.DB wrapped), the last four with the esbuild that wrangler uses.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const require = createRequire(import.meta.url);

export function toolVersions(root) {
  const version = (name) => {
    try {
      return require(join(root, "node_modules", name, "package.json")).version;
    } catch {
      return "?";
    }
  };
  const workerd = spawnSync(join(root, "node_modules", ".bin", "workerd"), ["--version"], { encoding: "utf8", timeout: 10_000 });
  return {
    node: process.version,
    wrangler: version("wrangler"),
    miniflare: version("miniflare"),
    workerd: (workerd.stdout ?? "").trim() || "?",
    autocannon: version("autocannon"),
    hono: version("hono"),
    jose: version("jose"),
    zod: version("zod"),
  };
}

/** `wrangler deploy --dry-run --outdir`: the bundle that would be uploaded, and its sizes. */
export function buildProduction(root, outdir) {
  rmSync(outdir, { recursive: true, force: true });
  const result = spawnSync(join(root, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
  });
  if (result.status !== 0) throw new Error(`wrangler dry-run failed:\n${result.stdout}\n${result.stderr}`);
  const script = join(outdir, "index.js");
  if (!existsSync(`${script}.map`)) throw new Error(`${script}.map missing: the bench reads the bundle's sources from its map (wrangler.toml: upload_source_maps = true)`);
  const bytes = readFileSync(script);
  const upload = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(result.stdout);
  return {
    script,
    rawBytes: bytes.length,
    gzipBytes: gzipSync(bytes).length,
    wranglerReport: upload ? { rawKiB: Number(upload[1]), gzipKiB: Number(upload[2]) } : null,
    largestInputs: largestInputs(bytes.toString("utf8"), JSON.parse(readFileSync(`${script}.map`, "utf8"))),
  };
}

/**
 * The bundle's biggest contributors, in bytes of output, from its source map (wrangler.toml's
 * `upload_source_maps`; the upload is minified, so it has no other trace of its sources),
 * each generated character counted for the source it maps to.
 */
function largestInputs(source, map) {
  const sizes = sizesFromSourceMap(source, map);
  const groups = new Map();
  for (const [path, size] of sizes) {
    const group = path.replace(/^(node_modules\/(?:@[^/]+\/)?[^/]+(?:\/v4\/[^/]+)?|src\/[^/]+).*/, "$1");
    groups.set(group, (groups.get(group) ?? 0) + size);
  }
  return [...groups].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([path, bytes]) => ({ path, bytes }));
}

// A worktree's node_modules may be a symlink, named by its real path (../../main/node_modules/…).
const normalize = (path) => path.replace(/^.*?\/(?=node_modules\/|src\/)/, "");

const VLQ = Object.fromEntries([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c, i]));

/** Source map v3: the generated span from each segment to the next is its source's. */
function sizesFromSourceMap(source, map) {
  const lines = source.split("\n");
  const sizes = new Map();
  let sourceIndex = 0;
  map.mappings.split(";").forEach((line, n) => {
    let column = 0;
    let previous = null;
    const close = (end) => {
      if (previous === null) return;
      const path = normalize(map.sources[previous.source] ?? "(unknown)");
      sizes.set(path, (sizes.get(path) ?? 0) + end - previous.column);
    };
    for (const segment of line.split(",").filter(Boolean)) {
      const values = [];
      let value = 0;
      let shift = 0;
      for (const c of segment) {
        const digit = VLQ[c];
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0];
      close(column);
      if (values.length > 1) {
        sourceIndex += values[1];
        previous = { column, source: sourceIndex };
      } else previous = null;
    }
    close(lines[n]?.length ?? column);
  });
  return sizes;
}

/** How wrangler bundles a Worker (ESM, workerd conditions); the bench bundles the same way. */
export const WORKER_BUNDLE_OPTIONS = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["browser", "module", "main"],
  logLevel: "error",
};

/** The bench-only workers, bundled like wrangler bundles (ESM, workerd conditions). */
export async function buildBenchWorkers(root, outdir) {
  const esbuild = createRequire(require.resolve("wrangler/package.json", { paths: [root] }))("esbuild");
  mkdirSync(outdir, { recursive: true });
  const entries = {
    a: join(root, "bench", "reference", "a.ts"),
    c: join(root, "bench", "reference", "c.ts"),
    d: join(root, "bench", "reference", "d.ts"),
    dw: join(root, "bench", "reference", "d-write.ts"),
    count: join(root, "bench", "count-entry.ts"),
  };
  await esbuild.build({ ...WORKER_BUNDLE_OPTIONS, entryPoints: entries, outdir });
  return Object.fromEntries(Object.keys(entries).map((name) => [name, join(outdir, `${name}.js`)]));
}
