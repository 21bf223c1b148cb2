/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of every route, as `npm run openapi`
 * generated it from the routes' own schemas (`operations.ts`) into the static assets
 * (`public/openapi.json`). Serving a generated document keeps zod's JSON Schema conversion,
 * the route descriptions and the document itself out of the worker's bundle; test/openapi
 * fails whenever it differs from what the schemas make now.
 *
 * It has no `servers`: OpenAPI then resolves paths against the document's own URL, which
 * is this service wherever it is deployed.
 */
import type { AppEnv } from "./context";
import { Hono } from "./hono";
import { serveStaticAsset } from "./static-asset";

const DOCUMENT_MAX_AGE_SECONDS = 300;
/** Where `npm run openapi` writes it, relative to the assets directory. */
export const OPENAPI_ASSET_PATH = "/openapi.json";

export const openApiRoutes = new Hono<AppEnv>().get("/openapi.json", (c) =>
  serveStaticAsset(c, OPENAPI_ASSET_PATH, { "Content-Type": "application/json", "Cache-Control": `public, max-age=${DOCUMENT_MAX_AGE_SECONDS}` }),
);
