/**
 * Generates development secrets: an ES256 signing key, a hash salt, an admin token and an
 * introspection token. Used by `npm start` (written to .dev.vars) and by the test config.
 */
import { exportJWK, generateKeyPair } from "jose";
import { randomBytes } from "node:crypto";

export async function generateDevSecrets() {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = `dev-${randomBytes(4).toString("hex")}`;
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
  return {
    SIGNING_KEYS: JSON.stringify([jwk]),
    TOKEN_HASH_SALT: randomBytes(32).toString("base64url"),
    ADMIN_TOKEN: `adm_${randomBytes(24).toString("base64url")}`,
    INTROSPECTION_TOKEN: `int_${randomBytes(24).toString("base64url")}`,
  };
}
