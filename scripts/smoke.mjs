#!/usr/bin/env node
/**
 * `npm run smoke -- <PUBLIC_URL> [--via ORIGIN] [--expect-keys]`: is a deployed edge-sts up and
 * describing itself correctly? Read-only, needs no credential.
 *
 * - `GET /healthz` answers 200 (the Worker runs and D1 answers);
 * - both discovery documents name `<PUBLIC_URL>` as issuer, and their endpoints under it;
 * - `GET /.well-known/jwks.json` publishes at least one public key (no private member) with
 *   a `Cache-Control: max-age` of at most 300 s;
 * - with `--expect-keys`, the current SIGNING_KEYS value is read on stdin and the JWKS must
 *   publish exactly its keys, in its order (the first is the one that signs): after each
 *   step of a key rotation, this tells that the location that answered has the new value.
 *
 * `--via ORIGIN` sends the requests to another origin than PUBLIC_URL (e.g. the Worker's
 * workers.dev address before DNS points at it); the issuer expected is still PUBLIC_URL.
 * It never prints a private key: only `kid`s.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

const MAX_JWKS_MAX_AGE_SECONDS = 300;
const TIMEOUT_MS = 10_000;

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** The kids of a SIGNING_KEYS value, in order; throws on anything that is not one. */
export function kidsOf(value) {
  let keys;
  try {
    keys = JSON.parse(value);
  } catch {
    throw new Error("the value on stdin is not JSON (expected the SIGNING_KEYS value)");
  }
  if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k?.kid !== "string")) {
    throw new Error("the value on stdin is not a SIGNING_KEYS value (a non-empty JSON array of JWKs with kids)");
  }
  return keys.map((k) => k.kid);
}

/**
 * Runs every check; returns { failures, notes }. `fetchImpl` is for tests.
 * @param {{ publicUrl: string, via?: string, expectKids?: string[], fetchImpl?: typeof fetch }} options
 */
export async function smoke({ publicUrl, via, expectKids, fetchImpl = fetch }) {
  const issuer = publicUrl.replace(/\/+$/, "");
  const origin = (via ?? issuer).replace(/\/+$/, "");
  const failures = [];
  const notes = [];
  const get = async (path) => {
    try {
      return await fetchImpl(`${origin}${path}`, { redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (error) {
      failures.push(`GET ${path}: ${error?.cause?.code ?? error?.message ?? error}`);
      return null;
    }
  };
  const json = async (path, response) => {
    try {
      return await response.json();
    } catch {
      failures.push(`GET ${path}: the body is not JSON`);
      return null;
    }
  };

  const health = await get("/healthz");
  if (health) {
    if (health.status === 200) notes.push("healthz: 200");
    else failures.push(`GET /healthz: ${health.status} (expected 200: is D1 bound and answering?)`);
  }

  let jwksUri;
  for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
    const response = await get(path);
    if (!response) continue;
    if (response.status !== 200) {
      failures.push(`GET ${path}: ${response.status}`);
      continue;
    }
    const doc = await json(path, response);
    if (!doc) continue;
    if (doc.issuer !== issuer) failures.push(`${path}: issuer is ${JSON.stringify(doc.issuer)}, expected ${JSON.stringify(issuer)} (PUBLIC_URL of this environment)`);
    for (const [field, suffix] of [["jwks_uri", "/.well-known/jwks.json"], ["token_endpoint", "/token"], ["introspection_endpoint", "/introspect"], ["revocation_endpoint", "/revoke"]]) {
      if (doc[field] !== `${issuer}${suffix}`) failures.push(`${path}: ${field} is ${JSON.stringify(doc[field])}, expected ${JSON.stringify(issuer + suffix)}`);
    }
    jwksUri ??= doc.jwks_uri;
  }
  notes.push(`issuer: ${issuer}`);

  const jwksResponse = await get("/.well-known/jwks.json");
  if (jwksResponse) {
    const maxAge = /(?:^|,)\s*max-age=(\d+)/.exec(jwksResponse.headers.get("cache-control") ?? "")?.[1];
    if (jwksResponse.status !== 200) failures.push(`GET /.well-known/jwks.json: ${jwksResponse.status}`);
    else if (maxAge === undefined || Number(maxAge) > MAX_JWKS_MAX_AGE_SECONDS) {
      failures.push(`GET /.well-known/jwks.json: Cache-Control ${JSON.stringify(jwksResponse.headers.get("cache-control"))}, expected max-age ≤ ${MAX_JWKS_MAX_AGE_SECONDS}`);
    }
    const jwks = jwksResponse.status === 200 ? await json("/.well-known/jwks.json", jwksResponse) : null;
    const keys = Array.isArray(jwks?.keys) ? jwks.keys : null;
    if (jwksResponse.status === 200 && !keys) failures.push("GET /.well-known/jwks.json: no `keys` array");
    if (keys) {
      const kids = keys.map((k) => k.kid);
      if (keys.length === 0) failures.push("GET /.well-known/jwks.json: no keys published (is SIGNING_KEYS set in this environment?)");
      if (keys.some((k) => "d" in k || "p" in k || "q" in k)) failures.push("GET /.well-known/jwks.json: a key carries a private member");
      if (keys.length > 0) notes.push(`signing kid: ${kids[0]}; published: ${kids.join(", ")}`);
      if (expectKids && kids.join(",") !== expectKids.join(",")) {
        failures.push(`GET /.well-known/jwks.json publishes [${kids.join(", ")}], the SIGNING_KEYS value on stdin has [${expectKids.join(", ")}]: this location does not serve that value (yet)`);
      }
    }
  }
  return { failures, notes };
}

async function main() {
  const args = process.argv.slice(2);
  const usage = "usage: npm run smoke -- <PUBLIC_URL> [--via ORIGIN] [--expect-keys < SIGNING_KEYS]";
  let publicUrl;
  let via;
  let expectKeys = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--via" && args[i + 1]) via = args[++i];
    else if (args[i] === "--expect-keys") expectKeys = true;
    else if (!args[i].startsWith("--") && publicUrl === undefined) publicUrl = args[i];
    else {
      console.error(`smoke: unknown argument ${args[i]}; ${usage}`);
      process.exit(2);
    }
  }
  if (!publicUrl || !/^https?:\/\//.test(publicUrl)) {
    console.error(`smoke: ${usage}`);
    process.exit(2);
  }
  let expectKids;
  if (expectKeys) {
    try {
      expectKids = kidsOf(await readStdin());
    } catch (error) {
      console.error(`smoke: ${error.message}`);
      process.exit(2);
    }
  }
  const { failures, notes } = await smoke({ publicUrl, via, expectKids });
  for (const note of notes) console.log(note);
  if (failures.length === 0) {
    console.log(`smoke: ok${via ? ` (via ${via})` : ""}`);
    return;
  }
  for (const failure of failures) console.error(`smoke: ${failure}`);
  process.exit(1);
}

// Run as a script (also through a symlinked directory), not when imported by a test.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) await main();
