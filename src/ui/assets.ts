/**
 * Static assets of the settings page under content-addressed names
 * (`/settings/assets/style.<hash>.css`): a changed file gets a new URL, so each can be
 * cached for a year (`immutable`) while pages themselves are never stored. The files are
 * Workers Static Assets (public/settings/assets/, written with their names by `npm run
 * assets`), outside the worker's bundle. Any other name, including an old hash, is not
 * found. It serves nothing but those two files.
 */
import { ASSET_NAMES } from "./asset-names";

const ASSETS_PATH = "/settings/assets";

/** The URL a page links to, which is also the file's path among the static assets. */
export function assetUrl(which: keyof typeof ASSET_NAMES): string {
  return `${ASSETS_PATH}/${ASSET_NAMES[which]}`;
}

const CONTENT_TYPES: Record<keyof typeof ASSET_NAMES, string> = {
  style: "text/css; charset=utf-8",
  client: "text/javascript; charset=utf-8",
};

interface Asset {
  /** Its path among the static assets. */
  path: string;
  contentType: string;
}

const BY_NAME = new Map<string, Asset>(
  (Object.keys(ASSET_NAMES) as (keyof typeof ASSET_NAMES)[]).map((which) => [ASSET_NAMES[which], { path: assetUrl(which), contentType: CONTENT_TYPES[which] }]),
);

export const ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable";

/** The asset with this file name, or undefined. */
export function findAsset(name: string): Asset | undefined {
  return BY_NAME.get(name);
}
