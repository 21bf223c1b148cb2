/**
 * The Hono app: one log line per request, `no-store` on every response that does not set
 * its own caching, routes, and the single place where errors become wire responses
 * (RFC 6749 §5.2 shape).
 */
import { configFrom } from "./config";
import { StsError, toWire, type Reason } from "./errors";
import { adminRoutes } from "./routes/admin";
import { auditRoutes } from "./routes/audit";
import type { AppContext, AppEnv } from "./routes/context";
import { credentialRoutes } from "./routes/credentials";
import { apiDatabase } from "./routes/database";
import { explainRoutes } from "./routes/explain";
import { Hono } from "./routes/hono";
import { introspectionRoutes } from "./routes/introspection";
import { openApiRoutes } from "./routes/openapi";
import { adminRateLimit } from "./routes/rate-limit";
import { setResponseHeader } from "./routes/response-headers";
import { tokenRoutes } from "./routes/token";
import { wellKnownRoutes } from "./routes/well-known";
import { settingsApp } from "./ui/settings";

export const app = new Hono<AppEnv>();

app.use(async (c, next) => {
  const started = Date.now();
  // Cloudflare's ray ID when the header looks like one; anything else a client sent there is not logged.
  const ray = c.req.header("cf-ray");
  const log = { request_id: ray !== undefined && /^[0-9a-zA-Z-]{1,64}$/.test(ray) ? ray : crypto.randomUUID() };
  c.set("log", log);
  try {
    c.set("config", configFrom(c.env));
    await next();
  } catch (error) {
    // configFrom throws before any route runs; render it like any other error.
    c.res = renderError(c, error);
  }
  const set = (name: string, value: string) => setResponseHeader(c, name, value);
  set("X-Request-Id", log.request_id);
  if (!c.res.headers.has("Cache-Control")) set("Cache-Control", "no-store");
  // Pragma: no-cache is the HTTP/1.0 spelling of "do not store" (RFC 6749 §5.1 asks for it
  // beside no-store). On a cacheable answer (the JWKS' max-age) it would contradict it.
  if (isNoStore(c.res.headers.get("Cache-Control"))) set("Pragma", "no-cache");
  const status = c.res.status;
  const fields = c.get("log");
  console.log(
    JSON.stringify({
      ...fields,
      method: c.req.method,
      route: c.req.routePath,
      status,
      outcome: status < 400 ? "ok" : status < 500 ? "refused" : "error",
      // Always present, so every line has the same keys: null when nothing was refused.
      reason: fields.reason ?? null,
      duration_ms: Date.now() - started,
    }),
  );
});

// The admin API's D1 session (read replicas, bookmarks) first: the rate limit already reads D1.
app.use("/v1/*", apiDatabase);
// `/introspect` and `/revoke` apply their budgets in the route, once they know whose they are.
app.use("/v1/*", adminRateLimit);
app.route("/", tokenRoutes);
app.route("/", wellKnownRoutes);
app.route("/", adminRoutes);
app.route("/", credentialRoutes);
app.route("/", explainRoutes);
app.route("/", introspectionRoutes);
app.route("/", openApiRoutes);
app.route("/", auditRoutes);
app.route("/settings", settingsApp);

app.notFound((c) => renderError(c, new StsError("route_not_found")));
app.onError((error, c) => renderError(c, error));

function isNoStore(cacheControl: string | null): boolean {
  return (cacheControl ?? "").split(",").some((directive) => directive.trim().toLowerCase() === "no-store");
}

function renderError(c: AppContext, error: unknown): Response {
  const reason: Reason = error instanceof StsError ? error.reason : "internal";
  const detail = error instanceof StsError ? error.detail : undefined;
  const wire = toWire(reason, detail);
  if (error instanceof StsError && error.retryAfter !== undefined && wire.retryAfter !== undefined) wire.retryAfter = error.retryAfter;
  const log = c.get("log");
  if (log) {
    log.reason = reason;
    if (error instanceof StsError && error.logDetail) log.detail = error.logDetail;
    if (!(error instanceof StsError)) log.detail = error instanceof Error ? error.name : "non-error thrown";
  }
  const headers: Record<string, string> = { "Cache-Control": "no-store", Pragma: "no-cache" };
  if (wire.retryAfter !== undefined) headers["Retry-After"] = String(wire.retryAfter);
  if (wire.status === 401) headers["WWW-Authenticate"] = 'Bearer error="invalid_token"';
  if (wire.status === 403) headers["WWW-Authenticate"] = 'Bearer error="insufficient_scope"';
  return c.json({ error: wire.error, error_description: wire.description }, wire.status, headers);
}
