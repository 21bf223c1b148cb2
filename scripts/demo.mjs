#!/usr/bin/env node
/**
 * `npm run demo` (with `npm start` running): one whole exchange, as a CI job would do it.
 *
 * Creates an organization, a project and a GitHub trust relationship through the admin
 * API, asks the local stand-in CI issuer for a GitHub-shaped ID token, exchanges it at
 * POST /token, verifies the minted token against /.well-known/jwks.json and prints its
 * claims. Uses the issuers and admin token of .dev.vars.
 */
import { readFileSync } from "node:fs";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { githubClaims } from "../test/support/ci-claims.mjs";
import { serveFakeIssuer } from "../test/support/fake-issuer.mjs";

const STS = process.env.STS_URL ?? "http://localhost:8787";
const vars = Object.fromEntries(
  readFileSync(new URL("../.dev.vars", import.meta.url), "utf8")
    .split("\n")
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => {
      const at = line.indexOf("=");
      return [line.slice(0, at), line.slice(at + 1).replace(/^'(.*)'$/, "$1")];
    }),
);
const issuer = vars.GITHUB_ISSUER;
if (!issuer || !issuer.startsWith("http://127.0.0.1:")) {
  console.error("The demo needs GITHUB_ISSUER in .dev.vars to point at the local stand-in issuer (npm start writes it).");
  process.exit(1);
}
const standInOrigin = new URL(issuer).origin;
const audience = vars.AUDIENCE ?? vars.PUBLIC_URL ?? STS;

async function json(method, url, body, token) {
  const response = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const payload = await response.json();
  if (!response.ok) throw new Error(`${method} ${url} -> ${response.status} ${JSON.stringify(payload)}`);
  return payload;
}

// The stand-in issuer runs inside `npm start`; start one here if it is not there.
const running = await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.ok, () => false);
if (!running) await serveFakeIssuer(Number(new URL(issuer).port));

const step = (text) => console.log(`\n▸ ${text}`);
const admin = vars.ADMIN_TOKEN;

step("Operator creates an organization and a project");
const org = await json("POST", `${STS}/v1/orgs`, { name: "demo-org" }, admin);
const project = await json("POST", `${STS}/v1/orgs/${org.id}/projects`, { name: "demo-app" }, admin);
console.log(`  org ${org.id}, project ${project.id}`);

step("Project admin trusts GitHub Actions runs of acme/widgets on main");
const relationship = await json(
  "POST",
  `${STS}/v1/projects/${project.id}/trust-relationships`,
  { provider: "github", owner: "acme", repository: "widgets", conditions: { ref: "refs/heads/main" } },
  admin,
);
console.log(`  trust relationship ${relationship.id}`);

step("The CI job obtains an ID token from its provider (here: the local stand-in issuer)");
const { token: idToken } = await json("POST", `${standInOrigin}/__control/sign`, {
  issuer,
  claims: githubClaims(audience, { owner: "acme", repository: "widgets", ownerId: "900200", repositoryId: "700100" }, { iss: issuer }),
});

/** POST /token as the job does it. */
const exchangeIdToken = (subjectToken) =>
  fetch(`${STS}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: subjectToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
      // Each demo run creates a new project trusting the same repository, so name the target.
      audience: project.id,
    }),
  });

step("The job exchanges it at POST /token");
const response = await exchangeIdToken(idToken);
const exchanged = await response.json();
if (!response.ok) {
  console.error(`  refused: ${response.status} ${JSON.stringify(exchanged)}`);
  process.exit(1);
}
console.log(`  ${response.status}: token_type=${exchanged.token_type} expires_in=${exchanged.expires_in} scope="${exchanged.scope}"`);

step("Anyone can verify the minted token against /.well-known/jwks.json");
const jwks = await json("GET", `${STS}/.well-known/jwks.json`);
const { payload } = await jwtVerify(exchanged.access_token, createLocalJWKSet(jwks), { issuer: vars.PUBLIC_URL ?? STS });
console.log("  header:", JSON.stringify(decodeProtectedHeader(exchanged.access_token)));
console.log("  claims:", JSON.stringify(payload, null, 2).replace(/\n/g, "\n  "));

step("Exchanging the same ID token again is refused (replay protection)");
const again = await exchangeIdToken(idToken);
console.log(`  ${again.status}: ${JSON.stringify(await again.json())}`);
process.exit(0);
