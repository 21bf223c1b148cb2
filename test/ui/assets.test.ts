/**
 * The settings page's stylesheet and script are Workers Static Assets written by `npm run
 * assets`: each is served under the content-hashed name the pages link to. (That each name is
 * the hash of its source, and the committed copies what the sources make, is checked in
 * Node: test/node/assets.test.ts.) Headers and caching: security.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ASSET_NAMES } from "../../src/ui/asset-names";
import { UiBrowser } from "./support";

describe("settings page assets", () => {
  it("are served under their content-hashed names", async () => {
    for (const [key, ext] of [["style", "css"], ["client", "js"]] as const) {
      expect(ASSET_NAMES[key]).toMatch(new RegExp(`^${key}\\.[0-9a-f]{8}\\.${ext}$`));
      const response = await new UiBrowser().get(`/settings/assets/${ASSET_NAMES[key]}`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text.length).toBeGreaterThan(1000);
    }
  });
});
