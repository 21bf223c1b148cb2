/**
 * What ships: `npm pack` of client/ is the CLI and nothing else, needs nothing but Node's
 * built-ins, and runs as unpacked; action/dist is exactly what the build makes from source.
 */
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAction } from "../../../action/build.mjs";
import { VERSION } from "../../../client/core/version.js";
import { runProcess } from "./support/ci.mjs";
import { packClient } from "./support/snippets.mjs";
import { ROOT } from "./support/stack.mjs";

const CLIENT = join(ROOT, "client");
const pkg = JSON.parse(readFileSync(join(CLIENT, "package.json"), "utf8"));
let pack;

beforeAll(() => {
  pack = packClient();
});
afterAll(() => rmSync(join(pack.dir, ".."), { recursive: true, force: true }));

function filesUnder(dir) {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile());
}

/** Every module specifier a file imports. */
function importsOf(text) {
  // Comments (JSDoc types name modules in import() too) are not imports.
  const source = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return [...source.matchAll(/^\s*(?:import|export)\s[^"'`]*?from\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm)].map((m) => m[1] ?? m[2] ?? m[3]);
}

describe("the npm package (client/)", () => {
  it("packs exactly the CLI: bin/, cli/, core/, package.json and README.md", () => {
    const expected = [
      "README.md",
      "package.json",
      ...["bin", "cli", "core"].flatMap((dir) => filesUnder(join(CLIENT, dir)).map((f) => relative(CLIENT, f))),
    ].sort();
    const packed = pack.packed.files.map((f) => f.path).sort();
    expect(packed).toEqual(expected);
    expect(packed.filter((f) => /test|\.ts$|tsconfig|\.map$/.test(f))).toEqual([]);
    expect(pack.packed.files.find((f) => f.path === "bin/edge-sts.js").mode & 0o111).not.toBe(0);
  });

  it("declares the edge-sts bin, Node >= 20, and no dependencies of any kind", () => {
    expect(pkg).toMatchObject({ name: "edge-sts", type: "module", bin: { "edge-sts": "bin/edge-sts.js" }, engines: { node: ">=20" } });
    for (const field of ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies", "bundleDependencies"]) expect(pkg[field]).toBeUndefined();
    expect(VERSION).toBe(pkg.version);
  });

  it("imports nothing but Node built-ins (node:…) and its own files", () => {
    const builtins = new Set(builtinModules.map((m) => `node:${m.replace(/^node:/, "")}`));
    for (const file of filesUnder(join(pack.dir))) {
      if (!file.endsWith(".js")) continue;
      for (const specifier of importsOf(readFileSync(file, "utf8"))) {
        const ok = specifier.startsWith("./") || specifier.startsWith("../") || builtins.has(specifier);
        expect(ok, `${relative(pack.dir, file)} imports ${specifier}`).toBe(true);
      }
    }
  });

  it("runs from the unpacked tarball", async () => {
    const version = await runProcess(process.execPath, [join(pack.dir, "bin", "edge-sts.js"), "--version"]);
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
    const help = await runProcess(join(pack.dir, "bin", "edge-sts.js"), ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes:");
  });
});

describe("the Action's bundle (action/dist)", () => {
  it("is byte for byte what `npm run build:action` makes from action/src and client/core", async () => {
    const out = mkdtempSync(join(tmpdir(), "edge-sts-action-"));
    try {
      await buildAction(out);
      const built = readdirSync(out).sort();
      expect(readdirSync(join(ROOT, "action", "dist")).sort()).toEqual(built);
      for (const file of built) expect(readFileSync(join(ROOT, "action", "dist", file), "utf8"), file).toBe(readFileSync(join(out, file), "utf8"));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("needs nothing but Node built-ins at run time", () => {
    for (const file of ["main.js", "post.js"]) {
      for (const specifier of importsOf(readFileSync(join(ROOT, "action", "dist", file), "utf8"))) {
        expect(specifier.startsWith("node:"), `${file} imports ${specifier}`).toBe(true);
      }
    }
  });
});
