/**
 * The settings page's stylesheet and script are Workers Static Assets written by `npm run
 * assets`: each is served under the names the pages link to, and each name is the content
 * hash of what is served. (That the committed copies are what src/ui/assets/ makes is
 * checked in Node: test/node/assets.test.ts.) Headers and caching: security.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ASSET_NAMES } from "../../src/ui/asset-names";
import { UiBrowser } from "./support";

/** scripts/assets.mjs's hash: FNV-1a, 32 bits, hex, over UTF-16 code units. */
function contentHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

describe("settings page assets", () => {
  it("are served under their names, each the content hash of what it serves", async () => {
    for (const [key, ext] of [["style", "css"], ["client", "js"]] as const) {
      const response = await new UiBrowser().get(`/settings/assets/${ASSET_NAMES[key]}`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text.length).toBeGreaterThan(1000);
      expect(ASSET_NAMES[key]).toBe(`${key}.${contentHash(text)}.${ext}`);
    }
  });
});
