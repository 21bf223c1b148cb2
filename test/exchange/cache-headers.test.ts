/**
 * Caching headers on every kind of answer (RFC 9111, RFC 6749 §5.1): the JWKS may be cached
 * for its max-age and says nothing to the contrary; everything else is `no-store` with its
 * HTTP/1.0 companion `Pragma: no-cache`.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call } from "../support/api";

describe("caching headers", () => {
  it("serves the JWKS cacheable for at most 300 s, without Pragma: no-cache", async () => {
    const response = await call("/.well-known/jwks.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
    expect(response.headers.get("pragma")).toBeNull();
  });

  for (const [label, path, init] of [
    ["discovery", "/.well-known/openid-configuration", {}],
    ["health", "/healthz", {}],
    ["an unknown route", "/nope", {}],
    ["an admin read", "/v1/orgs/org_000000000000000000000000", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }],
    ["a refused introspection", "/introspect", { method: "POST" }],
  ] as const) {
    it(`sends no-store with Pragma: no-cache on ${label}`, async () => {
      const response = await call(path, init);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("pragma")).toBe("no-cache");
    });
  }
});
