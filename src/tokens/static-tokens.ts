/**
 * Static credentials (SPEC §4): user, organization and project tokens.
 *
 * Shape: `sts_<usr|org|prj>_` + 30 random base62 characters (≈178 bits) + a 6-character
 * base62 CRC32 of everything before it. The prefix lets secret scanners find leaked
 * tokens; the checksum lets us refuse a mistyped or truncated token without a database
 * read (the same scheme as GitHub's tokens). The database keeps only
 * HMAC-SHA-256(TOKEN_HASH_SALT, token) and a masked preview.
 *
 * This file is pure computation: it does not store, look up or authorize anything.
 */

export type StaticTokenKind = "user" | "organization" | "project";

export const STATIC_TOKEN_PREFIXES: Record<StaticTokenKind, string> = {
  user: "sts_usr_",
  organization: "sts_org_",
  project: "sts_prj_",
};

const KIND_BY_TAG: Record<string, StaticTokenKind> = { usr: "user", org: "organization", prj: "project" };

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SECRET_LENGTH = 30;
/** 62^6 > 2^32, so six base62 characters hold any CRC32. */
const CHECKSUM_LENGTH = 6;
const PREVIEW_SUFFIX_LENGTH = 4;
const FORMAT = /^sts_(usr|org|prj)_([0-9A-Za-z]{30})([0-9A-Za-z]{6})$/;

/** Anything that starts like one of ours is judged as a static token (and nothing else). */
export function looksLikeStaticToken(token: string): boolean {
  return token.startsWith("sts_");
}

/** A fresh token's plaintext. Shown to its creator once, never stored. */
export function generateStaticToken(kind: StaticTokenKind): string {
  const body = STATIC_TOKEN_PREFIXES[kind] + randomBase62(SECRET_LENGTH);
  return body + encodeChecksum(crc32(body));
}

/** The kind a well-formed token claims, or null when its shape or checksum is wrong. */
export function parseStaticToken(token: string): StaticTokenKind | null {
  const match = FORMAT.exec(token);
  if (!match) return null;
  const body = token.slice(0, token.length - CHECKSUM_LENGTH);
  if (encodeChecksum(crc32(body)) !== match[3]) return null;
  return KIND_BY_TAG[match[1]!] ?? null;
}

/** What lists show: the type prefix and the last four characters. */
export function previewStaticToken(token: string): string {
  const tag = token.slice(0, "sts_xxx_".length);
  return `${tag}...${token.slice(-PREVIEW_SUFFIX_LENGTH)}`;
}

let hmacKey: { salt: string; key: Promise<CryptoKey> } | undefined;

/** HMAC-SHA-256(TOKEN_HASH_SALT, token), lowercase hex: the only form the database keeps. */
export async function hashStaticToken(token: string, salt: string): Promise<string> {
  if (hmacKey?.salt !== salt) {
    const key = crypto.subtle.importKey("raw", new TextEncoder().encode(salt), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hmacKey = { salt, key };
  }
  const mac = await crypto.subtle.sign("HMAC", await hmacKey.key, new TextEncoder().encode(token));
  return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Uniform base62: bytes ≥ 248 (= 4·62) are rejected so no character is favoured. */
function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

function encodeChecksum(value: number): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3) of the ASCII text. */
function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
