/**
 * Static assets of the settings page under content-addressed names
 * (`/settings/assets/style.<hash>.css`): a changed file gets a new URL, so each can be
 * cached for a year (`immutable`) while pages themselves are never stored. Any other name,
 * including an old hash, is not found. It serves nothing but the two files beside it.
 */
import { CLIENT_JS } from "./assets/client";
import { STYLE_CSS } from "./assets/style";

export const ASSETS_PATH = "/settings/assets";

/** FNV-1a, 32 bits, hex: a cache key for our own files, not a security property. */
function contentHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

interface Asset {
  body: string;
  contentType: string;
}

const FILES: Record<"style" | "client", Asset & { name: string }> = {
  style: { name: `style.${contentHash(STYLE_CSS)}.css`, body: STYLE_CSS, contentType: "text/css; charset=utf-8" },
  client: { name: `client.${contentHash(CLIENT_JS)}.js`, body: CLIENT_JS, contentType: "text/javascript; charset=utf-8" },
};

const BY_NAME = new Map<string, Asset>(Object.values(FILES).map((f) => [f.name, f]));

/** The URL a page links to. */
export function assetUrl(which: keyof typeof FILES): string {
  return `${ASSETS_PATH}/${FILES[which].name}`;
}

export const ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable";

/** The asset with this file name, or undefined. */
export function findAsset(name: string): Asset | undefined {
  return BY_NAME.get(name);
}
