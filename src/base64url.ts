/**
 * base64url (RFC 4648 §5) with exactly one spelling per byte string: no padding, only the URL
 * alphabet, and the unused low bits of the last character zero (RFC 4648 §3.5 lets a decoder
 * refuse anything else; RFC 7515 §2 forbids the padding). A lenient decoder (atob, jose's
 * `Uint8Array.fromBase64` in its default "loose" mode) reads e.g. `…Ag` and `…Ah` as the same
 * bytes, so two different strings would be one valid token: a token-identity and caching
 * hazard wherever a token's text is compared, hashed or cached.
 *
 * Shared by the CI-token verifier, our own tokens' verifier, the audit cursor and the settings
 * page's session secrets. A leaf: no imports; callers turn a refusal into their own error.
 */

const CANONICAL = /^[A-Za-z0-9_-]*$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const ASCII = /^[\x00-\x7f]*$/;
const encoder = new TextEncoder();

export function encodeBase64Url(input: Uint8Array | string): string {
  // ASCII text (the usual JSON) is its own UTF-8 and a binary string already: no encoding pass.
  if (typeof input === "string" && ASCII.test(input)) return toUrlAlphabet(btoa(input));
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return toUrlAlphabet(btoa(binary));
}

const toUrlAlphabet = (base64: string): string => base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** The bytes a canonical base64url string spells; `null` for any other string. */
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (text.length % 4 === 1 || !CANONICAL.test(text)) return null;
  let binary: string;
  try {
    binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return null;
  }
  // The unused low bits of a last partial character must be zero (what re-encoding the bytes
  // would give back): read from that character instead of re-encoding the whole text.
  const unused = text.length % 4 === 2 ? 0b1111 : text.length % 4 === 3 ? 0b11 : 0;
  if (unused !== 0 && (ALPHABET.indexOf(text[text.length - 1]!) & unused) !== 0) return null;
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
