/**
 * The seeds' flows in a real browser (Debian's Chromium), as a project admin who has never
 * read the API goes through them, against the worker as `npm start` runs it: create a
 * project, copy its ID, add one trust relationship per provider, create a project token,
 * copy it (and use it), close the dialog, delete it behind the confirmation; organization
 * tokens and members; the account's user tokens; the API's field errors beside the field;
 * the configuration error when TOKEN_HASH_SALT is missing (nothing written); hostile text
 * in every free-text field; a cross-site form post; the main flow by keyboard alone; axe
 * and screenshots at desktop and phone widths on every page and state, dialogs open too.
 */
import type { Locator, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { apiOf } from "./support/api.js";
import { checkAndScreenshot, saveDocsScreenshot, type LaunchedBrowser } from "./support/browser.js";
import { expectNothingHandledInOutput, useAttackerSite, useBrowserSuite, type BrowserSuite } from "./support/suite.js";
import { startWorker, type RunningWorker } from "./support/worker.js";

const suite = useBrowserSuite();
const { handled, at } = suite;
let worker: RunningWorker;
let browser: LaunchedBrowser;
let page: Page;
let api: BrowserSuite["api"];
beforeAll(() => void ({ worker, browser, page, api } = suite));

const CIRCLE_ORG = "c9f0b1a2-3d4e-4f50-8a6b-7c8d9e0f1a2b";
const CIRCLE_PROJECT = "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9";
const RWX_SUBJECT = "mint:8a3c2f9e-1b7d-4e2a-9c0f-5d6e7f8a9b0c:production";
const PLAINTEXT = /sts_(?:usr|org|prj)_[A-Za-z0-9]{36}/;

beforeAll(async () => {
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: worker.url });
});

async function signIn(token: string) {
  handled.add(token);
  await page.goto(at("/settings/sign-in"));
  await page.getByLabel("Token").fill(token);
  await Promise.all([page.waitForURL((url) => !url.pathname.endsWith("/sign-in")), page.getByRole("button", { name: "Sign in" }).click()]);
}

/** An organization with an admin member signed in through the form. */
async function adminOfNewOrg(name: string) {
  const org = await api.org(name);
  const user = await api.user("Ada Lovelace", "ada@example.com");
  await api.member(org.id, user.id, "admin");
  const token = await api.token(`/v1/users/${user.id}/tokens`, "laptop");
  await signIn(token.token);
  return { org, user, token };
}

/** Submits by clicking, waiting for the navigation the post causes. */
async function submitWith(button: Locator) {
  await Promise.all([page.waitForEvent("framenavigated"), button.click()]);
  await page.waitForLoadState("load");
}

const isModal = (dialog: Locator) => dialog.evaluate((d) => (d as HTMLDialogElement).open && d.matches(":modal"));
const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
const notice = () => page.locator(".notice").textContent();
/** The admin API call a project token may make: minting a pull token for its project. */
const mintPull = (token: string): RequestInit => ({
  method: "POST",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: "{}",
});

async function addRelationship(projectId: string, provider: string, fill: (form: Locator) => Promise<void>) {
  await page.goto(at(`/settings/projects/${projectId}`));
  await page.getByRole("link", { name: "Add trust relationship" }).click();
  await page.getByLabel(provider, { exact: true }).check();
  await submitWith(page.getByRole("button", { name: "Continue" }));
  expect(await page.locator("h1").textContent()).toBe(`Add trust relationship: ${provider}`);
  const form = page.locator("main form");
  await fill(form);
  await submitWith(page.getByRole("button", { name: "Add trust relationship" }));
  expect(await notice()).toBe("Trust relationship added.");
  return new URL(page.url()).hash.slice(1);
}

describe("a project admin, from the page alone", () => {
  it("creates a project, copies its ID, adds one trust relationship per provider, and creates, copies, uses and deletes a project token", async () => {
    const { org } = await adminOfNewOrg("Acme Robotics");
    await page.goto(at(`/settings/orgs/${org.id}`));
    await checkAndScreenshot(page, "flow-organization-empty");
    await page.getByLabel("Project name").fill("widgets");
    await submitWith(page.getByRole("button", { name: "Create project" }));
    const projectId = /prj_[0-9a-f]+/.exec(page.url())![0];
    expect(await page.locator("h1").textContent()).toBe("widgets");
    expect(await notice()).toContain("Project created");

    // The project ID, with its copy button.
    await page.getByRole("button", { name: "Copy project ID" }).click();
    await expect.poll(clipboard).toBe(projectId);

    // Step one: which CI. Step two: that CI's own form.
    await page.getByRole("link", { name: "Add trust relationship" }).click();
    await checkAndScreenshot(page, "flow-relationship-provider");
    await page.goto(at(`/settings/projects/${projectId}/trust-relationships/new?provider=github`));
    await checkAndScreenshot(page, "flow-relationship-github-form");

    const github = await addRelationship(projectId, "GitHub Actions", async (form) => {
      await form.getByLabel("GitHub user or organization").fill("acme");
      await form.getByLabel("Repository name").fill("widgets");
      await form.locator("#rel-condition_claim_0").fill("ref");
      await form.locator("#rel-condition_pattern_0").fill("refs/heads/main");
      await form.getByLabel("Description").fill("main branch pushes");
    });
    const circleci = await addRelationship(projectId, "CircleCI", async (form) => {
      await form.getByLabel("Organization ID (UUID)").fill(CIRCLE_ORG);
      await form.getByLabel("Project ID (UUID)").fill(CIRCLE_PROJECT);
      await form.getByLabel("Token lifetime (seconds)").fill("900");
    });
    const buildkite = await addRelationship(projectId, "Buildkite", async (form) => {
      await form.getByLabel("Organization slug").fill("acme");
      await form.getByLabel("Pipeline slug").fill("widgets");
      await form.locator("#rel-condition_claim_0").fill("build_branch");
      await form.locator("#rel-condition_pattern_0").fill("main");
    });
    const rwx = await addRelationship(projectId, "RWX", async (form) => {
      await form.getByLabel("Vault OIDC subject").fill(RWX_SUBJECT);
    });
    const stored = await api.call<{ trust_relationships: Record<string, unknown>[] }>("GET", `/v1/projects/${projectId}/trust-relationships`);
    expect(Object.fromEntries(stored.trust_relationships.map((r) => [r.id, r.provider]))).toEqual({
      [github]: "github",
      [circleci]: "circleci",
      [buildkite]: "buildkite",
      [rwx]: "rwx",
    });
    expect(stored.trust_relationships.find((r) => r.id === circleci)).toMatchObject({ token_ttl_seconds: 900, accept_default_audience: false });
    // The list says which IDs are pinned (none yet).
    const githubItem = page.locator(`li#${github}`);
    expect(await githubItem.textContent()).toContain("not pinned yet");

    // A project token: created with a description, shown once in a modal dialog.
    await page.getByLabel("Description").fill("registry pull for staging");
    await submitWith(page.getByRole("button", { name: "Create token" }));
    const dialog = page.locator("#issued-token");
    await expect.poll(() => isModal(dialog)).toBe(true);
    const plaintext = await page.locator("#issued-token-value").inputValue();
    expect(plaintext).toMatch(/^sts_prj_[A-Za-z0-9]{36}$/);
    handled.add(plaintext);
    await checkAndScreenshot(page, "flow-project-token-dialog");
    await dialog.getByRole("button", { name: "Copy token" }).click();
    await expect.poll(clipboard).toBe(plaintext);
    await expect.poll(() => page.locator("#live").textContent()).toContain("Token copied");

    // What was copied is a working project token: the admin API mints a pull token with it
    // (a project token may not administer: reading the project itself is 403).
    const copied = await clipboard();
    const pull = await fetch(at(`/v1/projects/${projectId}/pull-tokens`), mintPull(copied));
    expect(pull.status).toBe(201);
    handled.add(((await pull.json()) as { token: string }).token);
    const read = await fetch(at(`/v1/projects/${projectId}`), { headers: { authorization: `Bearer ${copied}` } });
    expect({ status: read.status, error: ((await read.json()) as { error: string }).error }).toEqual({ status: 403, error: "insufficient_scope" });

    // Closing the dialog leaves only the masked preview, and the address is the project's.
    await dialog.getByRole("button", { name: "Close" }).click();
    await expect.poll(() => page.locator("#issued-token").count()).toBe(0);
    await expect.poll(() => page.url()).toBe(at(`/settings/projects/${projectId}`));
    expect(await page.content()).not.toContain(plaintext);
    const row = page.locator("tr", { hasText: "registry pull for staging" });
    const preview = (await row.locator("code").textContent())!;
    expect(preview).toBe(`sts_prj_...${plaintext.slice(-4)}`);
    await checkAndScreenshot(page, "flow-project");
    await saveDocsScreenshot(page, "settings-project.png");

    // The trash icon asks first; Cancel keeps the token.
    await row.getByRole("button", { name: `Delete project token ${preview} (registry pull for staging)` }).click();
    const confirm = page.locator("dialog[open]");
    await expect.poll(() => isModal(confirm)).toBe(true);
    expect(await confirm.locator("h2").textContent()).toBe(`Delete project token ${preview} (registry pull for staging)?`);
    await checkAndScreenshot(page, "flow-project-token-confirm");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => page.locator("dialog[open]").count()).toBe(0);
    expect(await row.count()).toBe(1);
    // Delete confirms: the row is gone and the token no longer works anywhere.
    await row.getByRole("button", { name: /^Delete project token/ }).click();
    await submitWith(page.locator("dialog[open]").getByRole("button", { name: "Delete" }));
    expect(await notice()).toContain("Token deleted");
    expect(await page.locator("tr", { hasText: "registry pull for staging" }).count()).toBe(0);
    const after = await fetch(at(`/v1/projects/${projectId}/pull-tokens`), mintPull(plaintext));
    expect(after.status).toBe(401);

    // A relationship goes the same way.
    await page.locator(`li#${rwx}`).getByRole("button", { name: /^Delete trust relationship RWX/ }).click();
    await submitWith(page.locator("dialog[open]").getByRole("button", { name: "Delete" }));
    expect(await notice()).toContain("Trust relationship deleted");
    expect(await page.locator(`li#${rwx}`).count()).toBe(0);
  });

  it("shows every provider's form with nothing serious for axe, and asks on a page of its own when no script runs the dialog", async () => {
    const { org } = await adminOfNewOrg("Forms Inc");
    const project = await api.project(org.id, "app");
    for (const provider of ["circleci", "buildkite", "rwx"]) {
      await page.goto(at(`/settings/projects/${project.id}/trust-relationships/new?provider=${provider}`));
      await checkAndScreenshot(page, `flow-relationship-${provider}-form`);
    }
    const token = await api.token(`/v1/projects/${project.id}/tokens`, "no-script token");
    handled.add(token.token);
    await page.goto(at(`/settings/projects/${project.id}`));
    // As if the script had not run: the form posts unconfirmed.
    await page.locator("form[data-confirm]").first().evaluate((form) => form.removeAttribute("data-confirm"));
    await submitWith(page.locator("tr", { hasText: "no-script token" }).getByRole("button", { name: /^Delete project token/ }));
    expect(await page.locator("h1").textContent()).toBe(`Delete project token sts_prj_...${token.token.slice(-4)} (no-script token)?`);
    await checkAndScreenshot(page, "flow-confirm-page");
    expect((await api.call<{ tokens: unknown[] }>("GET", `/v1/projects/${project.id}/tokens`)).tokens).toHaveLength(1);
    await submitWith(page.getByRole("button", { name: "Delete" }));
    expect(await notice()).toContain("Token deleted");
    expect((await api.call<{ tokens: unknown[] }>("GET", `/v1/projects/${project.id}/tokens`)).tokens).toEqual([]);
  });

  it("shows the API's refusal beside the field it names, with a pointer when a URL was pasted for a name", async () => {
    const { org } = await adminOfNewOrg("Pasters");
    const project = await api.project(org.id, "app");
    await page.goto(at(`/settings/projects/${project.id}/trust-relationships/new?provider=github`));
    await page.getByLabel("GitHub user or organization").fill("acme");
    await page.getByLabel("Repository name").fill("https://github.com/acme/widgets");
    await submitWith(page.getByRole("button", { name: "Add trust relationship" }));
    const field = page.getByLabel("Repository name");
    expect(await field.getAttribute("aria-invalid")).toBe("true");
    expect(await field.inputValue()).toBe("https://github.com/acme/widgets");
    const error = page.locator("#rel-repository-error");
    expect(await error.textContent()).toContain("That looks like a URL: enter only the repository's name: widgets");
    // The error is what a screen reader announces with the field, and it sits just above it.
    expect((await field.getAttribute("aria-describedby"))!.split(" ")).toContain("rel-repository-error");
    const [errorBox, fieldBox] = [await error.boundingBox(), await field.boundingBox()];
    expect(fieldBox!.y - (errorBox!.y + errorBox!.height)).toBeLessThan(16);
    await checkAndScreenshot(page, "flow-relationship-field-error");
    expect((await api.call<{ trust_relationships: unknown[] }>("GET", `/v1/projects/${project.id}/trust-relationships`)).trust_relationships).toEqual([]);
  });

  it("manages organization tokens and members from the organization page", async () => {
    const { org, user } = await adminOfNewOrg("Gadgets Ltd");
    const colleague = await api.user("Grace Hopper");
    await page.goto(at(`/settings/orgs/${org.id}`));
    // Add a member by user ID, with a role.
    await page.getByLabel("User ID").fill(colleague.id);
    await page.getByLabel("Role").selectOption("member");
    await submitWith(page.getByRole("button", { name: "Add member" }));
    expect(await notice()).toBe("Member added.");
    expect(await page.locator(`tr#${colleague.id}`).textContent()).toContain("member");
    // An organization token: once in the dialog, then only its preview.
    await page.getByLabel("Description").fill("deploy bot");
    await submitWith(page.getByRole("button", { name: "Create token" }));
    const plaintext = await page.locator("#issued-token-value").inputValue();
    expect(plaintext).toMatch(/^sts_org_/);
    handled.add(plaintext);
    await checkAndScreenshot(page, "flow-organization-token-dialog");
    expect((await fetch(at(`/v1/orgs/${org.id}`), { headers: { authorization: `Bearer ${plaintext}` } })).status).toBe(200);
    await page.keyboard.press("Escape");
    await expect.poll(() => page.locator("#issued-token").count()).toBe(0);
    expect(await page.content()).not.toContain(plaintext);
    await checkAndScreenshot(page, "flow-organization");
    // Remove the member, behind the confirmation.
    await page.locator(`tr#${colleague.id}`).getByRole("button", { name: `Delete member ${colleague.id}` }).click();
    await checkAndScreenshot(page, "flow-member-confirm");
    await submitWith(page.locator("dialog[open]").getByRole("button", { name: "Remove" }));
    expect(await notice()).toBe("Member removed.");
    expect(await page.locator(`tr#${colleague.id}`).count()).toBe(0);
    // Delete the organization token.
    const row = page.locator("tr", { hasText: "deploy bot" });
    await row.getByRole("button", { name: /^Delete organization token/ }).click();
    await submitWith(page.locator("dialog[open]").getByRole("button", { name: "Delete" }));
    expect(await page.locator("tr", { hasText: "deploy bot" }).count()).toBe(0);
    expect((await fetch(at(`/v1/orgs/${org.id}`), { headers: { authorization: `Bearer ${plaintext}` } })).status).toBe(401);
    const members = await api.call<{ members: { user_id: string }[] }>("GET", `/v1/orgs/${org.id}/members`);
    expect(members.members.map((m) => m.user_id)).toEqual([user.id]);
  });

  it("manages the user's own tokens from the account page", async () => {
    const { user } = await adminOfNewOrg("Personal");
    await page.goto(at("/settings/account"));
    await page.getByLabel("Description").fill("second laptop");
    await submitWith(page.getByRole("button", { name: "Create token" }));
    const plaintext = await page.locator("#issued-token-value").inputValue();
    expect(plaintext).toMatch(/^sts_usr_/);
    handled.add(plaintext);
    await checkAndScreenshot(page, "flow-account-token-dialog");
    await page.locator("#issued-token").getByRole("button", { name: "Close" }).click();
    // The dialog's close handler removes it and then rewrites the address: wait for both.
    await expect.poll(() => page.locator("#issued-token").count()).toBe(0);
    await expect.poll(() => page.url()).toBe(at("/settings/account"));
    await checkAndScreenshot(page, "flow-account");
    await page.locator("tr", { hasText: "second laptop" }).getByRole("button", { name: /^Delete user token/ }).click();
    await submitWith(page.locator("dialog[open]").getByRole("button", { name: "Delete" }));
    expect(await page.locator("tr", { hasText: "second laptop" }).count()).toBe(0);
    const tokens = await api.call<{ tokens: { description: string }[] }>("GET", `/v1/users/${user.id}/tokens`);
    expect(tokens.tokens.map((t) => t.description)).toEqual(["laptop"]);
  });
});

describe("without TOKEN_HASH_SALT", () => {
  it("shows a configuration error when a token is created, and writes nothing", async () => {
    const saltless = await startWorker({ vars: { TOKEN_HASH_SALT: undefined } });
    try {
      const saltlessApi = apiOf(saltless);
      const org = await saltlessApi.org("No Salt Inc");
      const project = await saltlessApi.project(org.id, "app");
      await page.goto(`${saltless.url}/settings/sign-in`);
      await page.getByLabel("Token").fill(saltless.secrets.ADMIN_TOKEN);
      handled.add(saltless.secrets.ADMIN_TOKEN);
      await submitWith(page.getByRole("button", { name: "Sign in" }));
      await page.goto(`${saltless.url}/settings/projects/${project.id}`);
      await page.getByLabel("Description").fill("will not exist");
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith(`/settings/projects/${project.id}/tokens`)),
        page.getByRole("button", { name: "Create token" }).click(),
      ]);
      expect(response.status()).toBe(500);
      await page.waitForLoadState("load");
      const alert = page.getByRole("alert");
      expect(await alert.getAttribute("data-error")).toBe("server_error");
      expect(await alert.textContent()).toContain("Configuration error: no token was created.");
      expect(await alert.textContent()).toContain("TOKEN_HASH_SALT is not configured");
      expect(await page.locator("#issued-token").count()).toBe(0);
      expect(await page.content()).not.toMatch(PLAINTEXT);
      await checkAndScreenshot(page, "flow-configuration-error");
      // Nothing was written: the admin API lists no token for the project (or the organization).
      expect(await saltlessApi.call("GET", `/v1/projects/${project.id}/tokens`)).toEqual({ tokens: [] });
      expect(await saltlessApi.call("GET", `/v1/orgs/${org.id}/tokens`)).toEqual({ tokens: [] });
    } finally {
      await saltless.stop();
    }
  });
});

describe("hostile text", () => {
  it("renders a script payload typed into every free-text field as inert text, on every page that shows it", async () => {
    const SCRIPT = "<script>window.__xss=1</script>";
    const IMG = '"><img src=x onerror="window.__xss=2">';
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // The operator creates the organization through the page, with a hostile name.
    await signIn(worker.secrets.ADMIN_TOKEN);
    await page.getByLabel("Organization name").fill(SCRIPT);
    await submitWith(page.getByRole("button", { name: "Create organization" }));
    const orgId = /org_[0-9a-f]+/.exec(page.url())![0];
    await page.getByLabel("Project name").fill(IMG);
    await submitWith(page.getByRole("button", { name: "Create project" }));
    const projectId = /prj_[0-9a-f]+/.exec(page.url())![0];
    // A relationship whose description and condition pattern are payloads.
    await page.goto(at(`/settings/projects/${projectId}/trust-relationships/new?provider=github`));
    await page.getByLabel("GitHub user or organization").fill("acme");
    await page.getByLabel("Repository name").fill("widgets");
    await page.locator("#rel-condition_claim_0").fill("workflow");
    await page.locator("#rel-condition_pattern_0").fill(IMG.replace(/\//g, ""));
    await page.getByLabel("Description").fill(SCRIPT);
    await submitWith(page.getByRole("button", { name: "Add trust relationship" }));
    // Refused fields echo the payload back: as text in the field.
    await page.goto(at(`/settings/projects/${projectId}/trust-relationships/new?provider=rwx`));
    await page.getByLabel("Vault OIDC subject").fill(IMG);
    await page.getByLabel("Description").fill(SCRIPT);
    await submitWith(page.getByRole("button", { name: "Add trust relationship" }));
    expect(await page.getByLabel("Vault OIDC subject").inputValue()).toBe(IMG);
    // A claim name the provider does not have is named in the refusal, as text.
    await page.goto(at(`/settings/projects/${projectId}/trust-relationships/new?provider=github`));
    await page.getByLabel("GitHub user or organization").fill("acme");
    await page.getByLabel("Repository name").fill("widgets");
    await page.locator("#rel-condition_claim_0").fill(IMG);
    await page.locator("#rel-condition_pattern_0").fill(SCRIPT);
    await submitWith(page.getByRole("button", { name: "Add trust relationship" }));
    expect(await page.locator("#rel-conditions-error").textContent()).toContain(`${IMG} is not a github claim`);
    expect(await page.locator("main img").count()).toBe(0);
    // Token descriptions of the project and the organization, and a member's user ID.
    await page.goto(at(`/settings/projects/${projectId}`));
    await page.getByLabel("Description").fill(SCRIPT);
    await submitWith(page.getByRole("button", { name: "Create token" }));
    await page.goto(at(`/settings/orgs/${orgId}`));
    await page.getByLabel("Description").fill(IMG);
    await submitWith(page.getByRole("button", { name: "Create token" }));
    await page.goto(at(`/settings/orgs/${orgId}`));
    await page.getByLabel("User ID").fill(IMG);
    await submitWith(page.getByRole("button", { name: "Add member" }));
    expect(await page.getByLabel("User ID").inputValue()).toBe(IMG);
    // A user's own token description, on the account page.
    const user = await api.user("Ada");
    await api.member(orgId, user.id, "admin");
    const userToken = await api.token(`/v1/users/${user.id}/tokens`, "laptop");
    await browser.context.clearCookies();
    await signIn(userToken.token);
    await page.goto(at("/settings/account"));
    await page.getByLabel("Description").fill(SCRIPT);
    await submitWith(page.getByRole("button", { name: "Create token" }));
    for (const path of ["/settings", `/settings/orgs/${orgId}`, `/settings/projects/${projectId}`, "/settings/account"]) {
      await page.goto(at(path));
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), path).toBeUndefined();
      expect(await page.locator("main img").count(), path).toBe(0);
      const text = (await page.locator("main").textContent()) ?? "";
      expect(text.includes(SCRIPT) || text.includes(IMG), path).toBe(true);
    }
    await page.goto(at(`/settings/projects/${projectId}`));
    expect(await page.locator("main").textContent()).toContain(IMG.replace(/\//g, ""));
    expect(dialogs).toEqual([]);
  });
});

describe("cross-site requests", () => {
  const attacker = useAttackerSite((requested) => {
    const target = requested.searchParams.get("target") ?? "/";
    const csrf = requested.searchParams.get("csrf") ?? "guessed";
    return `<!doctype html><title>free stickers</title>
        <form method="post" action="${worker.url}${target}">
          <input type="hidden" name="csrf" value="${csrf}">
          <input type="hidden" name="description" value="attacker's token">
          <input type="hidden" name="confirmed" value="yes">
          <button>Get stickers</button>
        </form>`;
  });

  it("refuses a form posted from another site to create or delete a project token, even with the victim's CSRF token, writing nothing", async () => {
    const { org } = await adminOfNewOrg("Victims");
    const project = await api.project(org.id, "app");
    const existing = await api.token(`/v1/projects/${project.id}/tokens`, "keep me");
    handled.add(existing.token);
    await page.goto(at(`/settings/projects/${project.id}`));
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    handled.add(csrf);
    for (const target of [`/settings/projects/${project.id}/tokens`, `/settings/projects/${project.id}/tokens/${existing.id}/delete`]) {
      await page.goto(`${attacker.origin}/?target=${encodeURIComponent(target)}&csrf=${encodeURIComponent(csrf)}`);
      const [response] = await Promise.all([page.waitForResponse((r) => r.url() === at(target)), page.getByRole("button").click()]);
      expect(response.status(), target).toBe(403);
      expect(await page.locator("[data-error]").first().getAttribute("data-error")).toBe("access_denied");
    }
    const tokens = await api.call<{ tokens: { id: string }[] }>("GET", `/v1/projects/${project.id}/tokens`);
    expect(tokens.tokens.map((t) => t.id)).toEqual([existing.id]);
  });
});

describe("by keyboard alone", () => {
  /** Presses Tab until the focused element satisfies `is`, at most `limit` times. */
  async function tabTo(is: (el: Element) => boolean, limit = 60, key = "Tab") {
    for (let i = 0; i < limit; i++) {
      await page.keyboard.press(key);
      if (await page.evaluate(`(${is.toString()})(document.activeElement)`)) return;
    }
    throw new Error(`focus never reached the element after ${limit} presses`);
  }

  it("creates a project, adds a relationship, creates and copies a token, closes the dialog and deletes the token", async () => {
    const org = await api.org("Keyboard Co");
    const orgToken = await api.token(`/v1/orgs/${org.id}/tokens`, "keyboard session");
    handled.add(orgToken.token);
    await page.goto(at("/settings/sign-in"));
    await page.keyboard.type(orgToken.token);
    await Promise.all([page.waitForURL(at(`/settings/orgs/${org.id}`)), page.keyboard.press("Enter")]);
    // Create a project.
    await tabTo((el) => el.id === "new-project-name");
    await page.keyboard.type("keyboard app");
    await Promise.all([page.waitForURL(/\/settings\/projects\/prj_/), page.keyboard.press("Enter")]);
    const projectId = /prj_[0-9a-f]+/.exec(page.url())![0];
    // Add a trust relationship: the link, the provider (arrow keys in the radio group), the form.
    await tabTo((el) => el.textContent === "Add trust relationship");
    await Promise.all([page.waitForURL(/trust-relationships\/new$/), page.keyboard.press("Enter")]);
    await tabTo((el) => el.id === "provider-github");
    await page.keyboard.press("ArrowDown");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("provider-circleci");
    await page.keyboard.press("ArrowUp");
    await Promise.all([page.waitForURL(/provider=github/), page.keyboard.press("Enter")]);
    await tabTo((el) => el.id === "rel-owner");
    await page.keyboard.type("acme");
    await page.keyboard.press("Tab");
    await page.keyboard.type("widgets");
    await Promise.all([page.waitForURL(/done=relationship-added/), page.keyboard.press("Enter")]);
    // Create a token, copy it from the dialog, close it with Escape.
    await tabTo((el) => el.id === "new-project-token-description");
    await page.keyboard.type("keyboard token");
    await Promise.all([page.waitForURL(/\/tokens$/), page.keyboard.press("Enter")]);
    await page.waitForLoadState("load");
    await expect.poll(() => isModal(page.locator("#issued-token"))).toBe(true);
    const plaintext = await page.locator("#issued-token-value").inputValue();
    handled.add(plaintext);
    // Focus is inside the dialog and stays there (it is modal).
    expect(await page.evaluate(() => document.activeElement?.closest("dialog")?.id)).toBe("issued-token");
    await tabTo((el) => el.textContent === "Copy token", 5);
    await page.keyboard.press("Enter");
    await expect.poll(clipboard).toBe(plaintext);
    await page.keyboard.press("Escape");
    await expect.poll(() => page.locator("#issued-token").count()).toBe(0);
    // Delete it: the trash button, then the dialog's Delete (Cancel has focus first).
    await tabTo((el) => (el.getAttribute("aria-label") ?? "").startsWith("Delete project token"));
    await page.keyboard.press("Enter");
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe("Cancel");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Delete");
    await Promise.all([page.waitForURL(/done=token-deleted/), page.keyboard.press("Enter")]);
    expect(await page.locator("tr", { hasText: "keyboard token" }).count()).toBe(0);
    const tokens = await api.call<{ tokens: unknown[] }>("GET", `/v1/projects/${projectId}/tokens`);
    expect(tokens.tokens).toEqual([]);
  });
});

describe("the worker's output", () => {
  it("never carried a token, a session cookie, a CSRF token or a secret", async () => {
    const output = await expectNothingHandledInOutput(suite, "/settings/projects/:project_id/tokens");
    expect(output).not.toMatch(PLAINTEXT);
  });
});
