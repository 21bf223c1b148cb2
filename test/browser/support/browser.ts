/**
 * Debian's Chromium driven by playwright-core: never a downloaded browser. A fresh profile
 * per launch, no network besides the worker on loopback, axe-core injected into the page
 * as it is served (under its real CSP), and screenshots kept as test artifacts.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants as zlibConstants, crc32, deflateSync, inflateSync } from "node:zlib";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { expect } from "vitest";
import { ROOT } from "./worker.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ARTIFACTS = join(ROOT, "test-artifacts", "browser");
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface LaunchedBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<LaunchedBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "edge-sts-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: DESKTOP,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** Runs axe-core in the page and fails on any serious or critical violation. */
export async function expectNoSeriousAxeViolations(page: Page, what: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious, `${what}: ${JSON.stringify(serious, null, 2)}`).toEqual([]);
}

/**
 * The page as a person sees it at desktop and phone widths: axe-core finds nothing serious
 * at either (tables scroll on a phone, which axe judges too), the page itself never
 * scrolls sideways, and a full-page screenshot
 * of each is kept under test-artifacts/browser/<name>-<desktop|phone>.png.
 */
export async function checkAndScreenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const before = page.viewportSize() ?? DESKTOP;
  for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
    await page.setViewportSize(size);
    await expectNoSeriousAxeViolations(page, `${name} (${label})`);
    // Nothing but a table's own scroller may be wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth), `${name} (${label}) scrolls sideways`).toBeLessThanOrEqual(size.width);
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(before);
}

/**
 * A README screenshot of the page as it is now: light scheme, 1024 px wide, the whole page,
 * losslessly recompressed (the same pixels, deflated harder than Chromium does). Always kept
 * under test-artifacts/browser/docs/; with UPDATE_DOCS_SCREENSHOTS=1 also written to docs/,
 * which is how docs/settings-project.png is made.
 */
export async function saveDocsScreenshot(page: Page, name: string): Promise<void> {
  const before = page.viewportSize() ?? DESKTOP;
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(DOCS_VIEWPORT);
  try {
    const png = recompressPng(await page.screenshot({ fullPage: true, animations: "disabled", caret: "hide" }));
    mkdirSync(join(ARTIFACTS, "docs"), { recursive: true });
    writeFileSync(join(ARTIFACTS, "docs", name), png);
    if (process.env.UPDATE_DOCS_SCREENSHOTS === "1") writeFileSync(join(ROOT, "docs", name), png);
  } finally {
    await page.setViewportSize(before);
    await page.emulateMedia({ colorScheme: null });
  }
}

const DOCS_VIEWPORT = { width: 1024, height: 768 };

/** Re-deflates a PNG's image data at the highest level, in one IDAT chunk; every other chunk is kept. */
export function recompressPng(png: Buffer): Buffer {
  const chunks: { type: string; data: Buffer }[] = [];
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    at += 12 + length;
    if (type === "IDAT") idat.push(data);
    else chunks.push({ type, data });
  }
  const image = deflateSync(inflateSync(Buffer.concat(idat)), { level: 9, memLevel: 9, strategy: zlibConstants.Z_FILTERED });
  const end = chunks.findIndex((c) => c.type === "IEND");
  chunks.splice(end, 0, { type: "IDAT", data: image });
  const out = [png.subarray(0, 8)];
  for (const { type, data } of chunks) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    out.push(head, data, crc);
  }
  return Buffer.concat(out);
}
