#!/usr/bin/env node
/**
 * `printf %s "$SIGNING_KEYS" | node scripts/signing-keys.mjs <publish|switch|retire|status>`:
 * the three steps of a signing-key rotation (README "Signing-key rotation"), each reading the
 * current SIGNING_KEYS value on stdin and printing the next one on stdout, one line of JSON
 * and nothing else, so the private keys never appear on a command line.
 *
 *   publish  [current]          → [current, next]   the next key is published, current still signs
 *   switch   [current, next]    → [next, current]   next signs, current still verifies
 *   retire   [next, current]    → [next]            current is gone
 *   status   prints which kid signs and which are published (kids only) on stdout
 *
 * `publish` takes its new key from `scripts/keygen.mjs` (`--alg ES256|EdDSA` is passed on),
 * whose output is a SIGNING_KEYS value holding that one key. Each step refuses a value in
 * the wrong state (e.g. `switch` on a single key), so a step cannot be run twice by mistake.
 * It cannot know how long ago the previous step reached every isolate: the waits are the
 * operator's (it reminds them on stderr).
 */
import { spawnSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));

/** The JWKS max-age (src/routes/well-known.ts) and the longest lifetimes we sign (src/tokens/own-tokens.ts). */
export const JWKS_MAX_AGE_SECONDS = 300;
export const LONGEST_TOKEN_LIFETIME_SECONDS = 43_200;
export const CLOCK_TOLERANCE_SECONDS = 60;

export class RotationError extends Error {}

/** A SIGNING_KEYS value: a non-empty JSON array of private JWKs with distinct kids. */
export function parseSigningKeys(raw) {
  let keys;
  try {
    keys = JSON.parse(raw);
  } catch {
    throw new RotationError("the value on stdin is not JSON (expected the current SIGNING_KEYS value)");
  }
  if (!Array.isArray(keys) || keys.length === 0) throw new RotationError("SIGNING_KEYS must be a non-empty JSON array of private JWKs");
  const kids = new Set();
  for (const key of keys) {
    if (typeof key !== "object" || key === null || typeof key.kid !== "string" || typeof key.d !== "string") {
      throw new RotationError("every key in SIGNING_KEYS must be a private JWK with a kid");
    }
    if (kids.has(key.kid)) throw new RotationError(`SIGNING_KEYS repeats kid ${key.kid}`);
    kids.add(key.kid);
  }
  return keys;
}

/** One step of the rotation on parsed keys; `nextKey` is the freshly generated key for `publish`. */
export function rotate(step, keys, nextKey) {
  switch (step) {
    case "publish":
      if (keys.length !== 1) throw new RotationError(`publish starts from one key; this value has ${keys.length} (${keys.map((k) => k.kid).join(", ")}): finish that rotation first`);
      if (!nextKey || nextKey.kid === keys[0].kid) throw new RotationError("publish needs a new key with a new kid");
      return [keys[0], nextKey];
    case "switch":
      if (keys.length !== 2) throw new RotationError(`switch expects [current, next] (two keys); this value has ${keys.length}`);
      return [keys[1], keys[0]];
    case "retire":
      if (keys.length !== 2) throw new RotationError(`retire expects [next, current] (two keys); this value has ${keys.length}`);
      return [keys[0]];
    default:
      throw new RotationError(`unknown step ${step}`);
  }
}

/** What the operator must wait for before the step after `step`. */
export function reminder(step, keys) {
  const kid = keys[0].kid;
  switch (step) {
    case "publish":
      return `next key ${keys[1].kid} published, ${kid} still signs. Put it, then wait until every location serves it and at least ${JWKS_MAX_AGE_SECONDS} s more (the JWKS max-age) before "switch".`;
    case "switch":
      return `${kid} now signs, ${keys[1].kid} still verifies. Put it, then wait until every location signs with ${kid} and at least ${LONGEST_TOKEN_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS} s more (longest token lifetime + clock tolerance) before "retire".`;
    case "retire":
      return `only ${kid} is left. Put it; the rotation is complete once every location serves it.`;
    default:
      return "";
  }
}

function newKey(alg) {
  const result = spawnSync(process.execPath, [join(HERE, "keygen.mjs"), ...(alg ? ["--alg", alg] : [])], { encoding: "utf8" });
  if (result.status !== 0) throw new RotationError(`keygen failed: ${result.stderr.trim()}`);
  const generated = parseSigningKeys(result.stdout.trim());
  return generated[generated.length - 1];
}

async function readStdin() {
  if (process.stdin.isTTY) throw new RotationError('reads the current SIGNING_KEYS value on stdin: printf %s "$SIGNING_KEYS" | node scripts/signing-keys.mjs <step>');
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function main() {
  const [step, ...rest] = process.argv.slice(2);
  const alg = rest[0] === "--alg" ? rest[1] : undefined;
  const usage = "usage: printf %s \"$SIGNING_KEYS\" | node scripts/signing-keys.mjs publish [--alg ES256|EdDSA] | switch | retire | status";
  if (!["publish", "switch", "retire", "status"].includes(step ?? "") || (rest.length > 0 && !(step === "publish" && alg && rest.length === 2))) {
    console.error(`signing-keys: ${usage}`);
    process.exit(2);
  }
  try {
    const keys = parseSigningKeys(await readStdin());
    if (step === "status") {
      console.log(`signs: ${keys[0].kid}; published: ${keys.map((k) => k.kid).join(", ")}`);
      return;
    }
    const next = rotate(step, keys, step === "publish" ? newKey(alg) : undefined);
    process.stdout.write(JSON.stringify(next) + "\n");
    console.error(`signing-keys: ${reminder(step, next)}`);
  } catch (error) {
    if (!(error instanceof RotationError)) throw error;
    console.error(`signing-keys: ${error.message}`);
    process.exit(2);
  }
}

// Run as a script (also through a symlinked directory), not when imported by a test.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) await main();
