/**
 * Static tokens on the settings page: the plaintext is in the creation's response only
 * (a dialog with a copy button), the tables show description, masked preview, created and
 * last-used times with a trash button, and a missing TOKEN_HASH_SALT is a configuration
 * error on the page with nothing written. No log line carries a plaintext.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { admin } from "../support/api";
import { json } from "../tenancy/helpers";
import { waitForAudit } from "../audit/support";
import { errorCodeOf, seedOrg, storedState, UiBrowser } from "./support";

afterEach(() => vi.restoreAllMocks());

const PLAINTEXT = /sts_(?:usr|org|prj)_[A-Za-z0-9]{36}/g;

describe("creating a token", () => {
  it("shows the plaintext once in a dialog with a copy button; the page after it shows only the masked preview", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    const t = await seedOrg();
    const browser = await new UiBrowser().signedIn(t.tokens.adminUser.token);
    const csrf = await browser.csrfOf("/settings/account");
    const response = await browser.post(`/settings/projects/${t.projectId}/tokens`, { csrf, description: "staging deploy" });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const html = await response.text();
    const shown = html.match(PLAINTEXT) ?? [];
    expect(shown).toHaveLength(1);
    const token = shown[0]!;
    expect(html).toContain(`<textarea id="issued-token-value" class="mono token" rows="2" readonly="" autocomplete="off" spellcheck="false">${token}</textarea>`);
    expect(html).toContain('data-copy="issued-token-value"');
    expect(html).toContain(`data-once="/settings/projects/${t.projectId}"`);
    // It works as a project token at once: a pull token can be minted with it.
    expect((await admin("POST", `/v1/projects/${t.projectId}/pull-tokens`, undefined, token)).status).toBe(201);
    // The page itself, loaded again, lists it by description and preview only.
    const { tokens } = await json<{ tokens: { id: string; preview: string }[] }>(await admin("GET", `/v1/projects/${t.projectId}/tokens`), 200);
    const created = tokens.find((x) => token.endsWith(x.preview.slice(-4)) && x.preview.startsWith("sts_prj_"))!;
    const page = await (await browser.get(`/settings/projects/${t.projectId}`)).text();
    expect(page.match(PLAINTEXT)).toBeNull();
    expect(page).toContain(`<tr id="${created.id}" data-token-id="${created.id}"><td>staging deploy</td><td><code>${created.preview}</code></td>`);
    expect(page).toContain(`aria-label="Delete project token ${created.preview} (staging deploy)"`);
    expect(lines.join("\n")).not.toContain(token);
  });

  it("shows a configuration error and writes nothing when TOKEN_HASH_SALT is missing", async () => {
    const t = await seedOrg();
    const browser = await new UiBrowser({ TOKEN_HASH_SALT: undefined }).signedIn(env.ADMIN_TOKEN);
    const csrf = await browser.csrfOf("/settings/account");
    const before = await storedState();
    for (const path of [`/settings/projects/${t.projectId}/tokens`, `/settings/orgs/${t.orgId}/tokens`]) {
      const response = await browser.post(path, { csrf, description: "won't exist" });
      expect(response.status, path).toBe(500);
      const html = await response.text();
      expect(errorCodeOf(html)).toBe("server_error");
      expect(html).toContain("Configuration error: no token was created.");
      expect(html).toContain("TOKEN_HASH_SALT is not configured");
      expect(html).not.toMatch(PLAINTEXT);
      expect(html).not.toContain("issued-token");
      // The form keeps what was typed, for when the operator has fixed it.
      expect(html).toContain('value="won&#39;t exist"');
    }
    expect(await storedState()).toEqual(before);
  });

  it("ends the session at once when a user deletes the token they signed in with", async () => {
    const t = await seedOrg();
    const browser = await new UiBrowser().signedIn(t.tokens.adminUser.token);
    const csrf = await browser.csrfOf("/settings/account");
    const deleted = await browser.post(`/settings/account/tokens/${t.tokens.adminUser.id}/delete`, { csrf, confirmed: "yes" });
    expect(deleted.headers.get("location")).toBe("/settings/account?done=token-deleted");
    const after = await browser.get("/settings/account?done=token-deleted");
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/settings/sign-in");
  });
});

describe("what the page changes", () => {
  it("is in the organization's audit log like the admin API's changes, the session's credential as the actor", async () => {
    const t = await seedOrg();
    const browser = await new UiBrowser().signedIn(t.tokens.adminUser.token);
    const csrf = await browser.csrfOf("/settings/account");
    expect((await browser.post(`/settings/projects/${t.projectId}/tokens`, { csrf, description: "audited" })).status).toBe(200);
    const [event] = await waitForAudit(t.orgId, (events) => events.some((e) => e.action === "static_token.create"), { kind: "admin" });
    expect(event).toMatchObject({
      kind: "admin",
      action: "static_token.create",
      project_id: t.projectId,
      actor: { type: "user", user_id: t.adminUser, token_id: t.tokens.adminUser.id },
      after: { description: "audited" },
    });
  });
});

describe("who sees token forms", () => {
  it("shows a member the tables without create forms or trash buttons", async () => {
    const t = await seedOrg();
    const member = await new UiBrowser().signedIn(t.tokens.memberUser.token);
    for (const path of [`/settings/orgs/${t.orgId}`, `/settings/projects/${t.projectId}`]) {
      const html = await (await member.get(path)).text();
      expect(html, path).toContain("<code>sts_");
      expect(html, path).not.toContain('action="' + path + '/tokens"');
      expect(html, path).not.toContain("/delete");
      expect(html, path).not.toContain("Create a project");
    }
    // Their own tokens are theirs to manage.
    const account = await (await member.get("/settings/account")).text();
    expect(account).toContain('action="/settings/account/tokens"');
    expect(account).toContain(`action="/settings/account/tokens/${t.tokens.memberUser.id}/delete"`);
  });
});
