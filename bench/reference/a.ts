/** Reference A: a Hono route returning constant JSON — the cost of the runtime and the router. */
import { Hono } from "hono";

const BODY = { access_token: "x".repeat(600), issued_token_type: "urn:ietf:params:oauth:token-type:jwt", token_type: "Bearer", expires_in: 3600, scope: "builds registry:pull registry:push" };

export default new Hono().post("/token", (c) => c.json(BODY, 200, { "Cache-Control": "no-store", Pragma: "no-cache" }));
