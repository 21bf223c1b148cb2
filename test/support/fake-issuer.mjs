/**
 * A fake CI OIDC issuer that lives at the network edge.
 *
 * In tests it is Miniflare's `outboundService`: every fetch the worker (or a test) makes
 * lands here, so nothing reaches the internet and the worker's production verification
 * path is the one under test. Standalone (`node test/support/fake-issuer.mjs`) it is an
 * HTTP server for `npm run demo`, the soak and the benchmark.
 *
 * Any URL `<issuer>/.well-known/openid-configuration` is an issuer: it gets its own RSA
 * key on first sight, serves discovery and its JWKS at `<issuer>/.well-known/jwks`, and
 * signs real RS256 JWTs on request. Control endpoints (any host, path `/__control/...`):
 *   POST sign    { issuer, claims, header? }          -> { token }
 *   POST fault   { issuer, mode }                     -> {}   (see FAULTS)
 *   POST rotate  { issuer, keep? }                    -> { kid }
 *   POST key     { issuer }                           -> { kid, jwk }  (public)
 *   POST stats   { issuer }                           -> { requests }
 */
import { createServer } from "node:http";
import { generateKeyPair, exportJWK, SignJWT } from "jose";

export const FAULTS = [
  "ok", "down", "hang", "html", "empty-object", "empty-keys", "huge", "redirect",
  "wrong-issuer", "foreign-jwks-uri", "throw",
];

export function createFakeIssuer() {
  /** issuer URL -> { keys: [{ kid, privateKey, jwk }], fault, requests } */
  const issuers = new Map();
  let counter = 0;

  async function newKey() {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
    const kid = `key-${++counter}-${Math.random().toString(36).slice(2, 10)}`;
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
    return { kid, privateKey, jwk };
  }

  async function state(issuer) {
    let s = issuers.get(issuer);
    if (!s) {
      s = { keys: null, fault: "ok", requests: 0, pending: newKey() };
      issuers.set(issuer, s);
    }
    if (!s.keys) s.keys = [await s.pending];
    return s;
  }

  async function serveIssuer(url) {
    const path = url.pathname.replace(/\/+$/, "");
    const kind = path.endsWith("/.well-known/openid-configuration") ? "discovery" : path.endsWith("/.well-known/jwks") ? "jwks" : null;
    if (!kind) return new Response("not found", { status: 404 });
    const issuer = url.origin + path.slice(0, path.lastIndexOf("/.well-known/"));
    const s = await state(issuer);
    s.requests++;
    switch (s.fault) {
      case "down": return new Response("upstream unavailable", { status: 503 });
      case "hang": return new Promise(() => {});
      case "throw": throw new Error("connection reset");
      case "html": return new Response("<html><body>maintenance</body></html>", { headers: { "content-type": "text/html" } });
      case "empty-object": return Response.json({});
      case "empty-keys": return kind === "jwks" ? Response.json({ keys: [] }) : discovery(issuer);
      case "huge": return new Response(JSON.stringify({ keys: [], pad: "x".repeat(200_000) }), { headers: { "content-type": "application/json" } });
      case "redirect": return new Response(null, { status: 302, headers: { location: `${issuer}/elsewhere` } });
      case "wrong-issuer": return kind === "discovery" ? Response.json({ issuer: `${issuer}/other`, jwks_uri: `${issuer}/.well-known/jwks` }) : jwks(s);
      case "foreign-jwks-uri": return kind === "discovery" ? Response.json({ issuer, jwks_uri: "https://attacker.example/jwks" }) : jwks(s);
      default: return kind === "discovery" ? discovery(issuer) : jwks(s);
    }
  }

  const discovery = (issuer) =>
    Response.json({ issuer, jwks_uri: `${issuer}/.well-known/jwks`, id_token_signing_alg_values_supported: ["RS256"] });
  const jwks = (s) => Response.json({ keys: s.keys.map((k) => k.jwk) });

  async function control(action, body) {
    const s = await state(body.issuer);
    switch (action) {
      case "sign": {
        const key = body.kid ? s.keys.find((k) => k.kid === body.kid) : s.keys[s.keys.length - 1];
        if (!key) return Response.json({ error: "no such kid" }, { status: 400 });
        const token = await new SignJWT(body.claims)
          .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT", ...(body.header ?? {}) })
          .sign(key.privateKey);
        return Response.json({ token });
      }
      case "fault":
        if (!FAULTS.includes(body.mode)) return Response.json({ error: "unknown fault" }, { status: 400 });
        s.fault = body.mode;
        return Response.json({});
      case "rotate": {
        const key = await newKey();
        s.keys = body.keep ? [...s.keys, key] : [key];
        return Response.json({ kid: key.kid });
      }
      case "key": {
        const key = s.keys[s.keys.length - 1];
        return Response.json({ kid: key.kid, jwk: key.jwk });
      }
      case "stats":
        return Response.json({ requests: s.requests });
      default:
        return Response.json({ error: "unknown action" }, { status: 404 });
    }
  }

  /** Handles one request, as Miniflare's outboundService or behind the HTTP server. */
  return async function handle(request) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/__control/")) {
      return control(url.pathname.slice("/__control/".length), await request.json());
    }
    return serveIssuer(url);
  };
}

/** Serves the fake issuer over HTTP on 127.0.0.1:<port>. Resolves with the server. */
export function serveFakeIssuer(port = 8788) {
  const handle = createFakeIssuer();
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: req.headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    try {
      const response = await handle(request);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch {
      res.destroy();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.FAKE_ISSUER_PORT ?? 8788);
  await serveFakeIssuer(port);
  console.log(`fake CI issuer on http://127.0.0.1:${port} (issuers: any path, e.g. /github, /circleci, /buildkite, /rwx)`);
}
