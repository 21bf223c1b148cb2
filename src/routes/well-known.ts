/**
 * Public, unauthenticated documents: our JWKS, discovery metadata, and health.
 *
 * `/healthz` is anonymous, so it must not cost a D1 query per request: one probe per
 * isolate (per database binding) answers every health check for a short window.
 */
import * as z from "../schema";
import { documentedOnly } from "../documented";
import { SCOPES } from "../tokens/scopes";
import { Jwks, loadSigningKeys } from "../tokens/signing-keys";
import { waitUntilOf, type AppContext, type AppEnv } from "./context";
import { type Operations } from "./document";
import { Hono } from "./hono";

const JWKS_MAX_AGE_SECONDS = 300;

/**
 * How long one database probe answers `/healthz` in this isolate, whatever its outcome: a
 * flood of health checks costs at most one D1 query per window, and a D1 outage shows as
 * 503 at most this much later.
 */
export const HEALTH_PROBE_WINDOW_MS = 5_000;

/** Keyed by the binding itself, so a worker given another database never sees this one's health. */
const probes = new WeakMap<D1Database, { startedAt: number; healthy: Promise<boolean> }>();

/** Single-flight: requests arriving while a probe is in flight, or within its window, share it. */
function probeDatabase(c: AppContext): Promise<boolean> {
  const db = c.env.DB;
  const now = Date.now();
  const current = probes.get(db);
  if (current && now - current.startedAt < HEALTH_PROBE_WINDOW_MS) return current.healthy;
  const healthy = db
    .prepare("SELECT 1")
    .first()
    .then(
      () => true,
      () => false,
    );
  probes.set(db, { startedAt: now, healthy });
  // Keeps the request that started the probe alive until it settles, so the requests
  // sharing it are never left waiting on a cancelled one.
  waitUntilOf(c)(healthy);
  return healthy;
}

/** RFC 8414 §2 (and OpenID Connect Discovery) members, plus `subject_token_audience`. */
const Metadata = /* @__PURE__ */ documentedOnly(() => z.object({
  issuer: z.string(),
  jwks_uri: z.string(),
  token_endpoint: z.string(),
  introspection_endpoint: z.string(),
  revocation_endpoint: z.string(),
  grant_types_supported: z.array(z.string()),
  token_endpoint_auth_methods_supported: z.array(z.string()),
  introspection_endpoint_auth_methods_supported: z.array(z.string()),
  revocation_endpoint_auth_methods_supported: z.array(z.string()),
  subject_token_types_supported: z.array(z.string()),
  issued_token_types_supported: z.array(z.string()),
  subject_token_signing_alg_values_supported: z.array(z.string()),
  token_signing_alg_values_supported: z.array(z.string()),
  id_token_signing_alg_values_supported: z.array(z.string()),
  response_types_supported: z.array(z.string()),
  subject_types_supported: z.array(z.string()),
  scopes_supported: z.array(z.string()),
  subject_token_audience: z.string(),
}));

const Healthy = /* @__PURE__ */ documentedOnly(() => z.object({ status: z.literal("ok") }));
const Unhealthy = /* @__PURE__ */ documentedOnly(() => z.object({ status: z.literal("unavailable") }));

const discovery = (summary: string) =>
  ({
    tag: "discovery",
    summary,
    security: "none",
    responses: { 200: { description: "The metadata", schema: Metadata } },
    errors: [500],
  }) as const;

/** The routes below, documented (a function, so the worker's bundle drops it: only `npm run openapi` calls it). */
export const wellKnownOperations = (): Operations => ({
  "GET /.well-known/jwks.json": {
    tag: "discovery",
    summary: "The public keys that verify every token this service signs",
    security: "none",
    responses: {
      200: { description: "The key set (`Cache-Control: public, max-age=300`)", schema: Jwks },
    },
    errors: [500],
  },
  "GET /.well-known/openid-configuration": discovery("Discovery metadata (OpenID Connect Discovery shape)"),
  "GET /.well-known/oauth-authorization-server": discovery("Authorization server metadata (RFC 8414)"),
  "GET /healthz": {
    tag: "discovery",
    summary: "Health: does the database answer?",
    description: "One database probe per isolate answers every health check for five seconds.",
    security: "none",
    responses: {
      200: { description: "Healthy", schema: Healthy },
      503: { description: "The database does not answer", schema: Unhealthy },
    },
    errors: [500],
  },
});

function metadata(c: AppContext): z.infer<typeof Metadata> {
  const { publicUrl: base, audience } = c.get("config");
  return {
    issuer: base,
    jwks_uri: `${base}/.well-known/jwks.json`,
    token_endpoint: `${base}/token`,
    introspection_endpoint: `${base}/introspect`,
    revocation_endpoint: `${base}/revoke`,
    grant_types_supported: ["urn:ietf:params:oauth:grant-type:token-exchange"],
    token_endpoint_auth_methods_supported: ["none"],
    introspection_endpoint_auth_methods_supported: ["bearer"],
    revocation_endpoint_auth_methods_supported: ["none"],
    subject_token_types_supported: ["urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt"],
    issued_token_types_supported: ["urn:ietf:params:oauth:token-type:jwt"],
    subject_token_signing_alg_values_supported: ["RS256"],
    token_signing_alg_values_supported: ["ES256", "EdDSA"],
    id_token_signing_alg_values_supported: ["ES256", "EdDSA"],
    response_types_supported: ["none"],
    subject_types_supported: ["public"],
    scopes_supported: [...SCOPES],
    // Not an RFC 8414 member: the `aud` a CI ID token must carry (AUDIENCE), so a client
    // configured with our URL alone can ask its CI for the right token.
    subject_token_audience: audience,
  };
}

export const wellKnownRoutes = new Hono<AppEnv>()
  .get("/.well-known/jwks.json", async (c) => {
    const keys = await loadSigningKeys(c.get("config").signingKeys);
    c.header("Cache-Control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    const jwks: z.infer<typeof Jwks> = keys?.jwks ?? { keys: [] };
    return c.json(jwks);
  })
  .get("/.well-known/openid-configuration", (c) => c.json(metadata(c)))
  .get("/.well-known/oauth-authorization-server", (c) => c.json(metadata(c)))
  .get("/healthz", async (c) => {
    if (await probeDatabase(c)) return c.json({ status: "ok" } satisfies z.infer<typeof Healthy>);
    c.get("log").reason = "database_unavailable";
    return c.json({ status: "unavailable" } satisfies z.infer<typeof Unhealthy>, 503);
  });
