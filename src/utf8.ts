/**
 * UTF-8 byte counts of JSON text, for the caps measured in bytes (a minted token's
 * provenance, an audit message). A leaf: no imports.
 */

const encoder = new TextEncoder();

/** UTF-8 bytes of JSON text (which JSON.stringify never leaves with a lone surrogate): ASCII is one byte per character. */
export const utf8Length = (json: string): number => (/^[\x00-\x7f]*$/.test(json) ? json.length : encoder.encode(json).length);
