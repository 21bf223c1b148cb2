/**
 * A project's recent exchanges and explaining a refused one, in a real browser (Debian's
 * Chromium) against the worker as `npm start` runs it: a real job's exchange refused by a
 * relationship's condition reaches the audit log through the real local queue; its project
 * admin finds it on the page, opens Explain from it, pastes the job's ID token and reads
 * why: the failing condition, expected against actual. axe and screenshots at desktop and
 * phone widths on each page; the token is in neither the page nor the worker's output.
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { checkAndScreenshot, expectNoSeriousAxeViolations, type LaunchedBrowser } from "./support/browser.js";
import { expectNothingHandledInOutput, useBrowserSuite, type BrowserSuite } from "./support/suite.js";
import type { RunningWorker } from "./support/worker.js";

const suite = useBrowserSuite();
const { handled, at } = suite;
let worker: RunningWorker;
let browser: LaunchedBrowser;
let page: Page;
let api: BrowserSuite["api"];
beforeAll(() => void ({ worker, browser, page, api } = suite));
const main = () => page.locator("main");

async function signIn(token: string) {
  handled.add(token);
  await page.goto(at("/settings/sign-in"));
  await page.getByLabel("Token").fill(token);
  await Promise.all([page.waitForURL((url) => !url.pathname.endsWith("/sign-in")), page.getByRole("button", { name: "Sign in" }).click()]);
}

describe("a project admin explains a refused exchange from the page", () => {
  it("finds the refusal among recent exchanges, pastes the job's ID token, and reads the failing condition", async () => {
    const org = await api.org("Acme Robotics");
    const project = await api.project(org.id, "widgets");
    const user = await api.user("Ada Lovelace", "ada@example.com");
    await api.member(org.id, user.id, "admin");
    const owner = `acme-${crypto.randomUUID().slice(0, 8)}`;
    const relationship = await api.call<{ id: string }>("POST", `/v1/projects/${project.id}/trust-relationships`, {
      provider: "github",
      owner,
      repository: "widgets",
      conditions: { ref: "refs/heads/main" },
      description: "releases from main",
    });

    // A job on a feature branch: its token verifies, and the condition refuses it.
    const idToken = await api.githubIdToken(owner, "widgets", { ref: "refs/heads/feature/login" });
    handled.add(idToken.split(".")[2]!);
    const refused = await api.exchange(idToken, project.id);
    expect([refused.status, refused.body.error]).toEqual([400, "invalid_target"]);

    const token = await api.token(`/v1/users/${user.id}/tokens`, "laptop");
    await signIn(token.token);
    await page.goto(at(`/settings/projects/${project.id}`));
    await page.getByRole("link", { name: "See recent exchanges" }).click();
    expect(await page.locator("h1").textContent()).toBe("Recent exchanges: widgets");
    // The queue delivers within seconds (max_batch_timeout 2 s): reload until it has.
    await expect
      .poll(async () => (await page.reload(), await main().locator("li", { hasText: "Refused" }).count()), { timeout: 30_000, interval: 500 })
      .toBe(1);
    const item = main().locator("ul.plain > li").first();
    const shown = (await item.textContent())!;
    expect(shown).toContain(`${owner}/widgets`);
    expect(shown).toContain("refs/heads/feature/login");
    expect(shown).toContain("failed: conditions");
    await checkAndScreenshot(page, "exchanges-list");

    await Promise.all([page.waitForURL(/\/explain\?event=evt_/), item.getByRole("link", { name: /^Explain/ }).click()]);
    expect(await page.locator("#explained-event").textContent()).toContain("refs/heads/feature/login");
    await checkAndScreenshot(page, "explain-form");

    await page.getByLabel("The job's ID token").fill(idToken);
    await Promise.all([page.waitForURL(/\/explain$/), page.getByRole("button", { name: "Explain", exact: true }).click()]);
    await page.waitForLoadState("load");
    const answer = (await page.locator("#explanation").textContent())!;
    expect(answer).toContain("400 invalid_target");
    const trace = page.locator(`[id="${relationship.id}"]`);
    expect(await trace.locator("h3").textContent()).toBe(`GitHub Actions ${relationship.id}: refuses (conditions)`);
    const failing = trace.locator('tr[data-pass="false"] td');
    expect(await failing.allTextContents()).toEqual(["conditions.ref (claim ref)", "refs/heads/main", "refs/heads/feature/login", "fail"]);
    expect(await page.locator("#stage-signature h3").textContent()).toBe("signature: pass");
    // The token is not in the page, and the field is empty again.
    expect(await page.content()).not.toContain(idToken.split(".")[2]);
    expect(await page.getByLabel("The job's ID token").inputValue()).toBe("");
    await checkAndScreenshot(page, "explain-trace");
    // The failures' danger colour, in the dark scheme too.
    await page.emulateMedia({ colorScheme: "dark" });
    await expectNoSeriousAxeViolations(page, "explain-trace (dark)");
    await page.emulateMedia({ colorScheme: null });

    // Explaining wrote nothing: the log still holds the one exchange.
    const log = await api.call<{ events: unknown[] }>("GET", `/v1/orgs/${org.id}/audit?kind=exchange`);
    expect(log.events).toHaveLength(1);
  });

  it("never put the ID token, a session cookie or a secret into the worker's output", async () => {
    await expectNothingHandledInOutput(suite, "/settings/projects/:project_id/explain");
  });
});
