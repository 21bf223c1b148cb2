#!/usr/bin/env node
/**
 * `npm run openapi`: writes public/openapi.json, the document `GET /openapi.json` serves (a
 * static asset, outside the worker's bundle), from the routes' own schemas
 * (src/routes/operations.ts). Run it after changing
 * a route, its schemas or its description, and commit the result; test/openapi fails until
 * the committed document is what the schemas make. `--check` only says whether it is;
 * `--print` prints the document, indented, and writes nothing.
 */
import { build } from "esbuild";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const target = `${root}public/openapi.json`;

// The operations are TypeScript importing the app's modules: bundle them for Node first.
const work = await mkdtemp(join(tmpdir(), "edge-sts-openapi-"));
let buildDocument;
try {
  const outfile = join(work, "operations.mjs");
  await build({ entryPoints: [`${root}src/routes/operations.ts`], bundle: true, platform: "node", format: "esm", outfile, logLevel: "warning" });
  ({ buildDocument } = await import(pathToFileURL(outfile).href));
} finally {
  await rm(work, { recursive: true, force: true });
}

// One line of JSON, served as is.
const source = JSON.stringify(buildDocument());

if (process.argv.includes("--print")) {
  process.stdout.write(`${JSON.stringify(buildDocument(), null, 2)}\n`);
} else if (process.argv.includes("--check")) {
  const current = await readFile(target, "utf8").catch(() => "");
  if (current !== source) {
    console.error("public/openapi.json is not what the schemas make: run npm run openapi and commit it");
    process.exit(1);
  }
} else {
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, source);
}
