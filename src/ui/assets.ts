/**
 * Static assets of the settings page under content-addressed names
 * (`/settings/assets/style.<hash>.css`): a changed file gets a new URL, so each can be
 * cached for a year (`immutable`) while pages themselves are never stored. The files are
 * Workers Static Assets (public/settings/assets/, written with their names by `npm run
 * assets`), outside the worker's bundle. Any other name, including an old hash, is not
 * found. It serves nothing but those two files.
 */
import { ASSET_NAMES } from "./asset-names";

export const ASSETS_PATH = "/settings/assets";

interface Asset {
  /** Its path among the static assets. */
  path: string;
  contentType: string;
}

const BY_NAME = new Map<string, Asset>([
  [ASSET_NAMES.style, { path: `${ASSETS_PATH}/${ASSET_NAMES.style}`, contentType: "text/css; charset=utf-8" }],
  [ASSET_NAMES.client, { path: `${ASSETS_PATH}/${ASSET_NAMES.client}`, contentType: "text/javascript; charset=utf-8" }],
]);

/** The URL a page links to. */
export function assetUrl(which: keyof typeof ASSET_NAMES): string {
  return `${ASSETS_PATH}/${ASSET_NAMES[which]}`;
}

export const ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable";

/** The asset with this file name, or undefined. */
export function findAsset(name: string): Asset | undefined {
  return BY_NAME.get(name);
}
