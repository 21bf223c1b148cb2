/**
 * What every browser suite stands on, set up once per file: the worker as `npm start` runs
 * it, Chromium, the admin API, a fresh cookie jar per test, every secret the suite handled
 * (to scan the worker's output for at the end), and an attacker's site on another origin
 * for cross-site posts.
 */
import { createServer, type Server } from "node:http";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { apiOf } from "./api.js";
import { launchBrowser, type LaunchedBrowser } from "./browser.js";
import { freePort, startWorker, type RunningWorker } from "./worker.js";

export interface BrowserSuite {
  worker: RunningWorker;
  browser: LaunchedBrowser;
  page: Page;
  api: ReturnType<typeof apiOf>;
  /** Every token, cookie and secret the suite handled: none may appear in the worker's output. */
  handled: Set<string>;
  at(path: string): string;
}

/** Registers the suite's hooks; its members are there once `beforeAll` has run. */
export function useBrowserSuite(): BrowserSuite {
  const suite = { handled: new Set<string>(), at: (path: string) => `${suite.worker.url}${path}` } as BrowserSuite;
  beforeAll(async () => {
    suite.worker = await startWorker();
    suite.api = apiOf(suite.worker);
    suite.browser = await launchBrowser();
    suite.page = suite.browser.page;
    suite.handled.add(suite.worker.secrets.ADMIN_TOKEN);
    suite.handled.add(suite.worker.secrets.TOKEN_HASH_SALT);
  });
  afterAll(async () => {
    await suite.browser?.close();
    await suite.worker?.stop();
  });
  // Each test starts signed out; the cookies it leaves are remembered for the output scan.
  beforeEach(async () => {
    await rememberCookies(suite);
    await suite.browser.context.clearCookies();
  });
  return suite;
}

export async function rememberCookies(suite: BrowserSuite): Promise<void> {
  for (const cookie of await suite.browser.context.cookies()) suite.handled.add(cookie.value);
}

/** The worker logged `route` and never printed anything the suite handled (16 characters or more: shorter values are not secrets). */
export async function expectNothingHandledInOutput(suite: BrowserSuite, route: string): Promise<string> {
  await rememberCookies(suite);
  const output = suite.worker.output();
  expect(output).toContain(`"route":"${route}"`);
  for (const secret of suite.handled) {
    if (secret.length >= 16) expect(output.includes(secret), `output contains a secret of length ${secret.length}`).toBe(false);
  }
  return output;
}

/**
 * A site on another origin serving the page `render` makes for each request (a form that
 * posts to the worker), for as long as the enclosing `describe` runs.
 */
export function useAttackerSite(render: (requested: URL) => string): { origin: string } {
  const site = { origin: "" };
  let server: Server;
  beforeAll(async () => {
    const port = await freePort();
    site.origin = `http://127.0.0.1:${port}`;
    server = createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(render(new URL(req.url ?? "/", site.origin)));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });
  return site;
}
