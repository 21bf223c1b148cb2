#!/usr/bin/env node
/**
 * `npm run keygen [-- --alg EdDSA]`: prints a SIGNING_KEYS value with a new private JWK, as
 * one line of JSON on stdout and nothing else, so it pipes straight into
 * `npx wrangler secret put SIGNING_KEYS` (npm's `> edge-sts@… keygen` banner goes to stderr:
 * see .npmrc).
 *
 * `… | npm run keygen -- --add`: reads the current SIGNING_KEYS value from stdin and prints
 * it with a new key appended (published, not yet signing): the first step of a rotation.
 * `--add '<json>'` also works, but puts the current private keys on the command line, where
 * npm's banner and `ps` show them.
 *
 * It checks the current value only as far as it must to append to it (an array of private
 * JWKs with distinct `kid`s); the Worker's own loader is the judge of the rest.
 */
import { exportJWK, generateKeyPair } from "jose";
import { randomBytes } from "node:crypto";

const args = process.argv.slice(2);
const fail = (message) => {
  console.error(`keygen: ${message}`);
  process.exit(2);
};
const at = (name) => args.indexOf(name);
const valueOf = (name) => {
  const i = at(name);
  const value = i >= 0 ? args[i + 1] : undefined;
  return value === undefined || value.startsWith("--") ? undefined : value;
};
for (const [i, arg] of args.entries()) {
  const isValue = i > 0 && (args[i - 1] === "--alg" || args[i - 1] === "--add") && !arg.startsWith("--");
  if (!isValue && arg !== "--alg" && arg !== "--add") fail(`unknown argument ${arg.startsWith("--") ? arg : "(a value)"}; usage: npm run keygen [-- --alg ES256|EdDSA] [-- --add]`);
}

const alg = valueOf("--alg") ?? "ES256";
if (alg !== "ES256" && alg !== "EdDSA") fail("--alg must be ES256 or EdDSA");

async function readStdin() {
  if (process.stdin.isTTY) fail("--add reads the current SIGNING_KEYS value from stdin: printf %s \"$CURRENT_SIGNING_KEYS\" | npm run keygen -- --add");
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** The current keys, if appending: a JSON array of private JWKs with distinct kids. */
async function currentKeys() {
  if (at("--add") < 0) return [];
  const raw = valueOf("--add") ?? (await readStdin());
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    fail("the current SIGNING_KEYS value is not JSON");
  }
  const kids = new Set();
  if (!Array.isArray(parsed) || parsed.length === 0) fail("the current SIGNING_KEYS value must be a non-empty JSON array of private JWKs");
  for (const jwk of parsed) {
    if (typeof jwk !== "object" || jwk === null || typeof jwk.kid !== "string" || typeof jwk.d !== "string") {
      fail("every key of the current SIGNING_KEYS value must be a private JWK with a kid");
    }
    if (kids.has(jwk.kid)) fail(`the current SIGNING_KEYS value repeats kid ${jwk.kid}`);
    kids.add(jwk.kid);
  }
  return parsed;
}

const current = await currentKeys();
const { privateKey } = await generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
const kid = `${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString("hex")}`;
const jwk = { ...(await exportJWK(privateKey)), kid, alg, use: "sig" };
process.stdout.write(JSON.stringify([...current, jwk]) + "\n");
