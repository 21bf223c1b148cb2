/**
 * The settings page in a real browser (Debian's Chromium), against the worker as
 * `npm start` runs it: signing in with each kind of credential, by keyboard too; the
 * session cookie as the browser keeps it; signing out; a session ended by deleting its
 * token; the CSP and headers as the browser enforces them; cross-site posts and forged
 * CSRF tokens refused; hostile stored names inert; axe-core clean; screenshots of every
 * page at desktop and phone widths; nothing secret in the worker's output.
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { checkAndScreenshot, type LaunchedBrowser } from "./support/browser.js";
import { expectNothingHandledInOutput, rememberCookies as rememberJarCookies, useAttackerSite, useBrowserSuite, type BrowserSuite } from "./support/suite.js";
import type { RunningWorker } from "./support/worker.js";

const suite = useBrowserSuite();
const { handled, at } = suite;
let worker: RunningWorker;
let browser: LaunchedBrowser;
let page: Page;
let api: BrowserSuite["api"];
beforeAll(() => void ({ worker, browser, page, api } = suite));

/** Signs in through the form, as a person would with a mouse. */
async function signIn(token: string) {
  handled.add(token);
  await page.goto(at("/settings/sign-in"));
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForLoadState("load");
}

async function rememberCookies() {
  await rememberJarCookies(suite);
  for (const csrf of await page.locator('input[name="csrf"]').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value))) {
    handled.add(csrf);
  }
}

async function errorCode(): Promise<string | null> {
  return page.locator("[data-error]").first().getAttribute("data-error");
}

async function userInOrg(orgName: string, userName: string, role: "admin" | "member" = "admin") {
  const org = await api.org(orgName);
  const user = await api.user(userName);
  await api.member(org.id, user.id, role);
  const token = await api.token(`/v1/users/${user.id}/tokens`, "laptop");
  return { org, user, token };
}

describe("signing in", () => {
  it("signs the operator in by keyboard alone, with a visible focus ring, and out again", async () => {
    await page.goto(at("/settings/sign-in"));
    // The token field has focus on arrival (autofocus runs after load: wait for it, it raced on a
    // loaded machine); backwards from it, the skip link comes first on the page.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("token");
    let onSkipLink = false;
    for (let i = 0; i < 5 && !onSkipLink; i++) {
      await page.keyboard.press("Shift+Tab");
      onSkipLink = await page.evaluate(() => document.activeElement?.textContent?.trim() === "Skip to main content");
    }
    expect(onSkipLink).toBe(true);
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe("none");
    // The skip link is shown when focused (it sits off-screen otherwise).
    expect(await page.evaluate(() => document.activeElement!.getBoundingClientRect().top)).toBeGreaterThanOrEqual(0);
    let onField = false;
    for (let i = 0; i < 10 && !onField; i++) {
      await page.keyboard.press("Tab");
      onField = await page.evaluate(() => document.activeElement?.id === "token");
    }
    expect(onField).toBe(true);
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe("none");
    await page.keyboard.type(worker.secrets.ADMIN_TOKEN);
    handled.add(worker.secrets.ADMIN_TOKEN);
    await Promise.all([page.waitForURL(at("/settings")), page.keyboard.press("Enter")]);
    await expect.poll(() => page.locator("h1").textContent()).toBe("Operator");
    await rememberCookies();
    // Sign out by keyboard: Tab to the button, Enter.
    let onButton = false;
    for (let i = 0; i < 10 && !onButton; i++) {
      await page.keyboard.press("Tab");
      onButton = await page.evaluate(() => document.activeElement?.textContent?.trim() === "Sign out");
    }
    expect(onButton).toBe(true);
    await Promise.all([page.waitForURL(at("/settings/sign-in")), page.keyboard.press("Enter")]);
    expect(await browser.context.cookies()).not.toContainEqual(expect.objectContaining({ name: "__Host-sts_session" }));
  });

  it("keeps only HttpOnly, Secure, SameSite=Strict __Host- cookies (the session's ends in 8 hours); the token is nowhere in the page", async () => {
    const { user, token } = await userInOrg("Acme", "Ada Lovelace");
    const before = Date.now() / 1000;
    await signIn(token.token);
    expect(page.url()).toBe(at("/settings"));
    const cookies = await browser.context.cookies();
    const session = cookies.find((c) => c.name === "__Host-sts_session");
    expect(session).toMatchObject({ path: "/", httpOnly: true, secure: true, sameSite: "Strict", domain: "127.0.0.1" });
    expect(session!.expires).toBeGreaterThan(before + 8 * 3600 - 60);
    expect(session!.expires).toBeLessThan(before + 8 * 3600 + 60);
    // Beside it only the database position of the browser's last change (read replicas), no secret, kept alike.
    expect(cookies.map((c) => c.name).sort()).toEqual(["__Host-sts_bookmark", "__Host-sts_session"]);
    const bookmark = cookies.find((c) => c.name === "__Host-sts_bookmark")!;
    expect(bookmark).toMatchObject({ path: "/", httpOnly: true, secure: true, sameSite: "Strict", domain: "127.0.0.1" });
    expect(bookmark.value).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
    expect(await page.evaluate(() => document.cookie)).toBe("");
    expect(await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }))).toEqual({ local: 0, session: 0 });
    expect(await page.content()).not.toContain(token.token);
    // Who is signed in: kind and public identifiers, never the token.
    const header = page.locator("header");
    await expect.poll(() => header.textContent()).toContain("Ada Lovelace");
    expect(await header.textContent()).toContain("User");
    await page.goto(at("/settings/account"));
    expect(await page.locator("main").textContent()).toContain(user.id);
    expect(await page.content()).not.toContain(token.token);
    await rememberCookies();
  });

  it("signs an organization token in to its organization", async () => {
    const org = await api.org("Gadgets Ltd");
    const token = await api.token(`/v1/orgs/${org.id}/tokens`, "ci bootstrap");
    await signIn(token.token);
    expect(page.url()).toBe(at(`/settings/orgs/${org.id}`));
    expect(await page.locator("h1").textContent()).toBe("Gadgets Ltd");
    expect(await page.locator("header").textContent()).toContain("Organization token");
    await rememberCookies();
  });

  it("refuses a job token and a project token with a message saying they cannot administer anything", async () => {
    const org = await api.org("Jobs");
    const project = await api.project(org.id, "app");
    const projectToken = await api.token(`/v1/projects/${project.id}/tokens`);
    const jobToken = await api.jobToken(project.id);
    for (const token of [jobToken, projectToken.token]) {
      await signIn(token);
      expect(page.url()).toBe(at("/settings/sign-in"));
      expect(await errorCode()).toBe("insufficient_scope");
      expect(await page.getByRole("alert").textContent()).toContain("cannot administer anything");
      expect(await page.getByLabel("Token").inputValue()).toBe("");
      expect(await page.content()).not.toContain(token);
      expect((await browser.context.cookies()).map((c) => c.name)).not.toContain("__Host-sts_session");
    }
  });

  it("refuses a token it does not know", async () => {
    await signIn("sts_org_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000");
    expect(await errorCode()).toBe("invalid_token");
    expect(await page.getByRole("alert").textContent()).toContain("not recognised");
  });

  it("ends the session at once when its token is deleted through the admin API", async () => {
    const { user, token } = await userInOrg("Ephemeral", "Grace Hopper");
    await signIn(token.token);
    expect(page.url()).toBe(at("/settings"));
    await api.deleteToken(`/v1/users/${user.id}/tokens/${token.id}`);
    await page.goto(at("/settings/account"));
    expect(page.url()).toBe(at("/settings/sign-in"));
    expect(await page.locator("h1").textContent()).toBe("Sign in");
  });
});

describe("the browser enforces the page's security headers", () => {
  it("serves every page with the strict CSP, no-store, nosniff and no-referrer, and blocks an injected inline script", async () => {
    const { org } = await userInOrg("Headers", "Hedy Lamarr");
    await signIn(worker.secrets.ADMIN_TOKEN);
    for (const path of ["/settings", `/settings/orgs/${org.id}`, "/settings/account"]) {
      const response = await page.goto(at(path));
      const headers = response!.headers();
      expect(headers["content-security-policy"], path).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      );
      expect(headers["cache-control"], path).toBe("no-store");
      expect(headers["x-content-type-options"], path).toBe("nosniff");
      expect(headers["referrer-policy"], path).toBe("no-referrer");
    }
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    const ran = await page.evaluate(async () => {
      const script = document.createElement("script");
      script.textContent = "window.__inline = true";
      document.body.append(script);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return (window as unknown as { __inline?: boolean }).__inline === true;
    });
    expect(ran).toBe(false);
    await expect.poll(() => violations.length).toBeGreaterThan(0);
    // The page's own stylesheet and script did load under that policy.
    expect(await page.evaluate(() => getComputedStyle(document.body).margin)).toBe("0px");
  });
});

describe("cross-site requests", () => {
  const attacker = useAttackerSite((requested) => {
    const target = requested.pathname === "/sign-in" ? "/settings/sign-in" : "/settings/sign-out";
    const token = requested.searchParams.get("token") ?? "";
    const csrf = requested.searchParams.get("csrf") ?? "guessed";
    return `<!doctype html><title>cute cats</title>
        <form method="post" action="${worker.url}${target}">
          <input type="hidden" name="csrf" value="${csrf}">
          <input type="hidden" name="token" value="${token}">
          <button>See the cats</button>
        </form>`;
  });

  it("refuses a form posted from another origin to sign the victim out, and the session lives on", async () => {
    await signIn(worker.secrets.ADMIN_TOKEN);
    await rememberCookies();
    await page.goto(`${attacker.origin}/sign-out`);
    const [response] = await Promise.all([page.waitForResponse((r) => r.url() === at("/settings/sign-out")), page.getByRole("button").click()]);
    expect(response.status()).toBe(403);
    expect(await errorCode()).toBe("access_denied");
    await page.goto(at("/settings"));
    expect(await page.locator("h1").textContent()).toBe("Operator");
  });

  it("refuses a cross-origin sign-out even when it carries the victim's real CSRF token (the origin check alone)", async () => {
    // 127.0.0.1 on another port is same-site, so the SameSite=Strict cookie is sent: only
    // the origin check stands between this post and the session.
    await signIn(worker.secrets.ADMIN_TOKEN);
    const csrf = await page.locator('form[action="/settings/sign-out"] input[name="csrf"]').inputValue();
    handled.add(csrf);
    await page.goto(`${attacker.origin}/sign-out?csrf=${encodeURIComponent(csrf)}`);
    const [response] = await Promise.all([page.waitForResponse((r) => r.url() === at("/settings/sign-out")), page.getByRole("button").click()]);
    expect(response.status()).toBe(403);
    expect(await errorCode()).toBe("access_denied");
    await page.goto(at("/settings"));
    expect(await page.locator("h1").textContent()).toBe("Operator");
  });

  it("refuses a form posted from another origin to sign the victim in with the attacker's token (login CSRF), writing nothing", async () => {
    const org = await api.org("Attacker Corp");
    const token = await api.token(`/v1/orgs/${org.id}/tokens`);
    handled.add(token.token);
    // The victim has a sign-in page open, so the pre-session cookie exists; the attacker
    // even has that form's token, leaving the origin check as the only defence.
    await page.goto(at("/settings/sign-in"));
    const csrf = await page.locator('input[name="csrf"]').inputValue();
    await page.goto(`${attacker.origin}/sign-in?token=${encodeURIComponent(token.token)}&csrf=${encodeURIComponent(csrf)}`);
    const [response] = await Promise.all([page.waitForResponse((r) => r.url() === at("/settings/sign-in")), page.getByRole("button").click()]);
    expect(response.status()).toBe(403);
    expect((await browser.context.cookies()).map((c) => c.name)).not.toContain("__Host-sts_session");
  });

  it("refuses a same-origin sign-out whose CSRF field was removed or changed", async () => {
    await signIn(worker.secrets.ADMIN_TOKEN);
    for (const tamper of ["remove", "change"] as const) {
      await page.goto(at("/settings"));
      await page.evaluate((how) => {
        const field = document.querySelector<HTMLInputElement>('form[action="/settings/sign-out"] input[name="csrf"]')!;
        if (how === "remove") field.remove();
        else field.value = field.value.slice(1) + "A";
      }, tamper);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === at("/settings/sign-out")),
        page.getByRole("button", { name: "Sign out" }).click(),
      ]);
      expect(response.status(), tamper).toBe(403);
      expect(await errorCode()).toBe("access_denied");
    }
    await page.goto(at("/settings"));
    expect(await page.locator("h1").textContent()).toBe("Operator");
  });
});

describe("hostile stored names", () => {
  it("renders script and onerror payloads in organization, project, user and token text as inert text", async () => {
    const SCRIPT = "<script>window.__xss = 1</script>";
    const IMG = '"><img src=x onerror="window.__xss = 2">';
    const org = await api.org(SCRIPT);
    const project = await api.project(org.id, IMG);
    const user = await api.user(IMG);
    await api.member(org.id, user.id, "admin");
    const token = await api.token(`/v1/users/${user.id}/tokens`, SCRIPT);
    await api.token(`/v1/orgs/${org.id}/tokens`, IMG);
    await api.token(`/v1/projects/${project.id}/tokens`, SCRIPT);
    await api.call("POST", `/v1/projects/${project.id}/trust-relationships`, {
      provider: "github",
      owner: "acme",
      repository: "widgets",
      description: IMG,
    });
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await signIn(token.token);
    for (const path of ["/settings", `/settings/orgs/${org.id}`, `/settings/projects/${project.id}`, "/settings/account"]) {
      await page.goto(at(path));
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), path).toBeUndefined();
      expect(await page.locator("main img, header img").count(), path).toBe(0);
      const text = (await page.locator("body").textContent()) ?? "";
      expect(text.includes(SCRIPT) || text.includes(IMG), path).toBe(true);
    }
    expect(await page.locator("h1").textContent()).toBe("Account");
    await page.goto(at(`/settings/orgs/${org.id}`));
    expect(await page.locator("h1").textContent()).toBe(SCRIPT);
    expect(dialogs).toEqual([]);
  });
});

describe("quality a person notices", () => {
  it("has no serious or critical axe-core violations on any page, and keeps a screenshot of each at desktop and phone widths", async () => {
    const { org, token } = await userInOrg("Acme Robotics", "Ada Lovelace");
    const project = await api.project(org.id, "widgets");
    await api.token(`/v1/orgs/${org.id}/tokens`, "deploy bot");
    await api.token(`/v1/projects/${project.id}/tokens`, "registry pull for staging");
    await api.call("POST", `/v1/projects/${project.id}/trust-relationships`, {
      provider: "github",
      owner: "acme",
      repository: "widgets",
      description: "main branch pushes",
      conditions: { ref: "refs/heads/main" },
    });

    await page.goto(at("/settings/sign-in"));
    await checkAndScreenshot(page, "sign-in");
    await signIn("sts_usr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000");
    await checkAndScreenshot(page, "sign-in-refused");

    await signIn(token.token);
    const pages: [string, string][] = [
      ["/settings", "home-user"],
      [`/settings/orgs/${org.id}`, "organization"],
      [`/settings/projects/${project.id}`, "project"],
      ["/settings/account", "account-user"],
      ["/settings/orgs/org_000000000000000000000000", "not-found"],
    ];
    for (const [path, name] of pages) {
      await page.goto(at(path));
      await checkAndScreenshot(page, name);
    }
    await browser.context.clearCookies();
    await signIn(worker.secrets.ADMIN_TOKEN);
    await checkAndScreenshot(page, "home-operator");
    await rememberCookies();
  });

  it("copies the organization ID with its copy button", async () => {
    const { org, token } = await userInOrg("Copy Co", "Margaret Hamilton");
    await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: worker.url });
    await signIn(token.token);
    await page.goto(at(`/settings/orgs/${org.id}`));
    const button = page.getByRole("button", { name: "Copy organization ID" });
    await button.click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(org.id);
    await expect.poll(() => page.locator("#live").textContent()).toContain("organization ID copied");
  });

  it("asks for confirmation in a modal dialog before a form marked data-confirm is submitted", async () => {
    await signIn(worker.secrets.ADMIN_TOKEN);
    // The delete forms of phase 2 use this; here the sign-out form stands in for one.
    await page.evaluate(() => {
      const form = document.querySelector<HTMLFormElement>('form[action="/settings/sign-out"]')!;
      form.setAttribute("data-confirm", "confirm-sign-out");
      const confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      form.append(confirmed);
      const dialog = document.createElement("dialog");
      dialog.id = "confirm-sign-out";
      dialog.setAttribute("aria-label", "Sign out?");
      const inner = document.createElement("form");
      inner.method = "dialog";
      for (const [value, label] of [["cancel", "Cancel"], ["confirm", "Sign out now"]]) {
        const button = document.createElement("button");
        button.value = value!;
        button.textContent = label!;
        inner.append(button);
      }
      dialog.append(inner);
      document.body.append(dialog);
    });
    await page.getByRole("button", { name: "Sign out" }).click();
    const dialog = page.locator("#confirm-sign-out");
    await expect.poll(() => dialog.evaluate((d) => (d as HTMLDialogElement).open && d.matches(":modal"))).toBe(true);
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => dialog.evaluate((d) => (d as HTMLDialogElement).open)).toBe(false);
    expect(page.url()).toBe(at("/settings"));
    await page.getByRole("button", { name: "Sign out" }).click();
    await Promise.all([page.waitForURL(at("/settings/sign-in")), page.getByRole("button", { name: "Sign out now" }).click()]);
  });
});

describe("the worker's output", () => {
  it("logged the page's requests and never a token, a session cookie, a CSRF token or a secret", async () => {
    const output = await expectNothingHandledInOutput(suite, "/settings/sign-in");
    expect(output).toContain('"reason":"cross_site_request"');
  });
});
