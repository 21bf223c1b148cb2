import { defineConfig } from "vitest/config";

/**
 * `npm run test:browser`: the settings page in Debian's Chromium (playwright-core, no
 * browser download) against the worker as `npm start` runs it. Kept out of `npm test`,
 * which stays the workerd + node suite. Files run one after another: each starts its own
 * worker and browser, and the machine is small.
 */
export default defineConfig({
  test: {
    name: "browser",
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 150_000,
    silent: "passed-only",
  },
});
