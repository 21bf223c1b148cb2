/** Public, unauthenticated documents: our JWKS, discovery metadata, and health. */
import { Hono } from "hono";
import { loadSigningKeys } from "../tokens/signing-keys";
import { SCOPES } from "../tokens/scopes";
import type { AppContext, AppEnv } from "./context";

const JWKS_MAX_AGE_SECONDS = 300;

function metadata(c: AppContext) {
  const base = c.get("config").publicUrl;
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
    scopes_supported: SCOPES,
  };
}

export const wellKnownRoutes = new Hono<AppEnv>()
  .get("/.well-known/jwks.json", async (c) => {
    const keys = await loadSigningKeys(c.get("config").signingKeys);
    c.header("Cache-Control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return c.json(keys?.jwks ?? { keys: [] });
  })
  .get("/.well-known/openid-configuration", (c) => c.json(metadata(c)))
  .get("/.well-known/oauth-authorization-server", (c) => c.json(metadata(c)))
  .get("/healthz", async (c) => {
    try {
      await c.env.DB.prepare("SELECT 1").first();
      return c.json({ status: "ok" });
    } catch {
      c.get("log").reason = "database_unavailable";
      return c.json({ status: "unavailable" }, 503);
    }
  });
