#!/usr/bin/env node
/**
 * `npm run keygen [-- --alg EdDSA] [-- --add '<current SIGNING_KEYS JSON>']`: prints a
 * SIGNING_KEYS value with a new private JWK. With --add, the new key is appended after
 * the current ones (published, not yet signing): the first step of a rotation.
 */
import { exportJWK, generateKeyPair } from "jose";
import { randomBytes } from "node:crypto";

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const alg = option("--alg") ?? "ES256";
if (alg !== "ES256" && alg !== "EdDSA") {
  console.error("--alg must be ES256 or EdDSA");
  process.exit(2);
}
const { privateKey } = await generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
const kid = `${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString("hex")}`;
const jwk = { ...(await exportJWK(privateKey)), kid, alg, use: "sig" };
const current = option("--add") ? JSON.parse(option("--add")) : [];
process.stdout.write(JSON.stringify([...current, jwk]) + "\n");
