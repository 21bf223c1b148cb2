/**
 * The settings page's stylesheet and script are Workers Static Assets written by `npm run
 * assets`: each is served under the content-hashed name the pages link to. (That each name is
 * the hash of its source, and the committed copies what the sources make, is checked in
 * Node: test/node/assets.test.ts.) Headers and caching: security.test.ts. Without them (no
 * `ASSETS` binding, or a file missing from it) the deployment is misconfigured, and says so.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ASSET_NAMES } from "../../src/ui/asset-names";
import { expectError } from "../support/api";
import { expectPageError, UiBrowser } from "./support";

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

describe("a deployment without its static assets", () => {
  const missing = { fetch: async () => new Response("not found", { status: 404 }) };
  const served = async (path: string, assets: unknown) => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(`https://sts.test${path}`), { ...env, ASSETS: assets }, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };

  it("answers the OpenAPI document with 500 server_error, not an empty body", async () => {
    for (const assets of [undefined, missing]) await expectError(await served("/openapi.json", assets), 500, "server_error");
  });

  it("answers a settings page asset with the error page of 500 server_error", async () => {
    for (const assets of [undefined, missing]) await expectPageError(await served(`/settings/assets/${ASSET_NAMES.style}`, assets), 500, "server_error");
  });
});
