/**
 * The settings page's static files (public/settings/assets/) and their names
 * (src/ui/asset-names.ts) are what `npm run assets` makes from src/ui/assets/ now: a changed
 * stylesheet or script without a rerun fails here.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

describe("npm run assets", () => {
  it("has nothing to change in the committed copies (run npm run assets when this fails)", () => {
    const run = spawnSync(process.execPath, [join(ROOT, "scripts", "assets.mjs"), "--check"], { encoding: "utf8", timeout: 30_000 });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });
});
