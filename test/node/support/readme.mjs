/**
 * README.md as the tests that run its commands read it: a `## ` section's text and the `sh`
 * blocks in it, in order. Plain JavaScript so .ts and .mjs tests import it alike. It reads
 * only; running the blocks is each test's business.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** README.md's whole text. */
export const README = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");

/**
 * The text of README.md's `## title` section, its subsections included.
 * @param {string} title
 * @returns {string}
 */
export function readmeSection(title) {
  const start = README.indexOf(`\n## ${title}\n`);
  if (start <= 0) throw new Error(`README has no "## ${title}" section`);
  const end = README.indexOf("\n## ", start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/**
 * The code of each ```sh block in `text` (fences at the start of a line), in order.
 * @param {string} text
 * @returns {string[]}
 */
export function shBlocks(text) {
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => /** @type {string} */ (m[1]));
}
