/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of every route, as `npm run openapi`
 * generated it from the routes' own zod schemas (`operations.ts`). Serving a generated
 * document keeps zod's JSON Schema conversion and the route descriptions out of the
 * worker's bundle; test/openapi fails whenever it differs from what the schemas make now.
 *
 * It has no `servers`: OpenAPI then resolves paths against the document's own URL, which
 * is this service wherever it is deployed.
 */
import { Hono } from "hono";
import type { AppEnv } from "./context";
import { OPENAPI_JSON } from "./openapi-document";

const DOCUMENT_MAX_AGE_SECONDS = 300;

export const openApiRoutes = new Hono<AppEnv>().get("/openapi.json", (c) => {
  c.header("Cache-Control", `public, max-age=${DOCUMENT_MAX_AGE_SECONDS}`);
  c.header("Content-Type", "application/json");
  return c.body(OPENAPI_JSON);
});
