/**
 * Adding trust relationships from the settings page: one form per provider with the
 * provider's own fields, built into the body the API takes and checked by the API's own
 * `parseRelationship`, so the page accepts and refuses exactly what `/v1` does, and says
 * why beside the field (with a pointer when a URL was pasted where a name belongs).
 */
import { describe, expect, it } from "vitest";
import type { ProviderName } from "../../src/config";
import { PROVIDERS, PROVIDER_NAMES } from "../../src/providers/registry";
import { RELATIONSHIP_FIELDS } from "../../src/ui/forms";
import { admin } from "../support/api";
import { json } from "../tenancy/helpers";
import { errorCodeOf, expectFieldError, expectPageError, seedOrg, storedState, tagWithId, UiBrowser } from "./support";

const CIRCLE_ORG = "c9f0b1a2-3d4e-4f50-8a6b-7c8d9e0f1a2b";
const CIRCLE_PROJECT = "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9";

async function adminSession() {
  const t = await seedOrg();
  const browser = await new UiBrowser().signedIn(t.tokens.adminUser.token);
  const csrf = await browser.csrfOf("/settings/account");
  const add = (fields: Record<string, string>) => browser.post(`/settings/projects/${t.projectId}/trust-relationships`, { csrf, ...fields });
  return { t, browser, add };
}

async function listed(projectId: string) {
  return (await json<{ trust_relationships: Record<string, unknown>[] }>(await admin("GET", `/v1/projects/${projectId}/trust-relationships`), 200))
    .trust_relationships;
}

describe("the forms", () => {
  it("ask for exactly the fields each provider's relationship schema takes", () => {
    for (const name of PROVIDER_NAMES) {
      const schema = PROVIDERS[name].relationshipSchema;
      expect(RELATIONSHIP_FIELDS[name].map((f) => f.name).sort(), name).toEqual(Object.keys(schema.shape).sort());
    }
  });

  it("let an admin pick the provider, then show that provider's form with its wording and help", async () => {
    const { t, browser } = await adminSession();
    const picker = await (await browser.get(`/settings/projects/${t.projectId}/trust-relationships/new`)).text();
    for (const name of PROVIDER_NAMES) expect(picker).toContain(`id="provider-${name}" name="provider" value="${name}"`);
    const form = async (provider: ProviderName) => (await browser.get(`/settings/projects/${t.projectId}/trust-relationships/new?provider=${provider}`)).text();
    const github = await form("github");
    expect(github).toContain("GitHub user or organization");
    expect(github).toContain("Repository name");
    expect(github).toContain("not its URL");
    expect(tagWithId(github, "rel-owner_id")).toBeDefined();
    expect(tagWithId(github, "rel-enterprise")).toBeDefined();
    const circleci = await form("circleci");
    expect(circleci).toContain("Organization Settings → Overview");
    expect(circleci).toContain("Project Settings → Overview");
    expect(tagWithId(circleci, "rel-accept_default_audience")).toContain('type="checkbox"');
    expect(circleci).toContain("every service the job talks to");
    const buildkite = await form("buildkite");
    expect(buildkite).toContain("buildkite.com/&lt;org-slug&gt;/&lt;pipeline-slug&gt;");
    expect(buildkite).toContain("Branch conditions do not protect pipelines that build forks");
    const rwx = await form("rwx");
    expect(rwx).toContain("Vault OIDC subject");
    expect(rwx).toContain("locked vault");
    // Claim names are offered from the provider's own list.
    expect(github).toContain('<datalist id="claims-github"><option value="sub"></option>');
    expect(circleci).toContain('<option value="oidc.circleci.com/vcs-origin"></option>');
  });

  it("refuse the add-relationship pages to a member (403) and to another tenant (404)", async () => {
    const t = await seedOrg("mine");
    const other = await seedOrg("theirs");
    const member = await new UiBrowser().signedIn(t.tokens.memberUser.token);
    await expectPageError(await member.get(`/settings/projects/${t.projectId}/trust-relationships/new?provider=github`), 403, "insufficient_scope");
    const admin = await new UiBrowser().signedIn(t.tokens.adminUser.token);
    await expectPageError(await admin.get(`/settings/projects/${other.projectId}/trust-relationships/new`), 404, "not_found");
    // The project page shows a member the relationships but no way to change them.
    const page = await (await member.get(`/settings/projects/${t.projectId}`)).text();
    expect(page).toContain(t.relationshipId);
    expect(page).not.toContain("Add trust relationship");
    expect(page).not.toContain("/delete");
  });
});

describe("adding one relationship per provider", () => {
  const CASES: [ProviderName, Record<string, string>, Record<string, unknown>][] = [
    [
      "github",
      { owner: "Acme", repository: "widgets", owner_id: "1234", enterprise: "", token_ttl_seconds: "900", description: "main only" },
      { owner: "Acme", repository: "widgets", owner_id: "1234", token_ttl_seconds: 900, description: "main only" },
    ],
    [
      "circleci",
      { organization_uuid: CIRCLE_ORG, project_uuid: CIRCLE_PROJECT },
      { organization_uuid: CIRCLE_ORG, project_uuid: CIRCLE_PROJECT, accept_default_audience: false, token_ttl_seconds: 3600 },
    ],
    [
      "buildkite",
      { organization_slug: "acme", pipeline_slug: "widgets", condition_claim_0: "build_branch", condition_pattern_0: "main" },
      { organization_slug: "acme", pipeline_slug: "widgets", conditions: { build_branch: "main" } },
    ],
    ["rwx", { subject: "mint:8a3c2f9e-1b7d-4e2a-9c0f-5d6e7f8a9b0c:production" }, { subject: "mint:8a3c2f9e-1b7d-4e2a-9c0f-5d6e7f8a9b0c:production" }],
  ];
  for (const [provider, fields, stored] of CASES) {
    it(`adds a ${provider} relationship as the API would store it`, async () => {
      const { t, add } = await adminSession();
      const response = await add({ provider, ...fields });
      expect(response.status, await response.clone().text()).toBe(303);
      const id = /#(trl_[0-9a-f]+)$/.exec(response.headers.get("location")!)![1];
      const created = (await listed(t.projectId)).find((r) => r.id === id);
      expect(created).toMatchObject({ provider, ...stored });
      // Empty optional fields are left out, as a client would omit them.
      if (provider === "github") expect(created).not.toHaveProperty("enterprise");
    });
  }

  it("opts a CircleCI relationship into the default audience only when the box is ticked", async () => {
    const { t, add } = await adminSession();
    await add({ provider: "circleci", organization_uuid: CIRCLE_ORG, project_uuid: CIRCLE_PROJECT, accept_default_audience: "true" });
    expect((await listed(t.projectId)).find((r) => r.provider === "circleci")).toMatchObject({ accept_default_audience: true });
  });

  it("adds a shadow relationship when Mode says so (enforce otherwise), and lists each one's mode", async () => {
    const { t, browser, add } = await adminSession();
    const form = await (await browser.get(`/settings/projects/${t.projectId}/trust-relationships/new?provider=rwx`)).text();
    expect(tagWithId(form, "rel-mode")).toContain('name="mode"');
    expect(form).toContain('<option value="shadow">Shadow: recorded only, never mints</option>');
    expect((await add({ provider: "rwx", subject: "mint:acme:tight", mode: "shadow" })).status).toBe(303);
    expect((await add({ provider: "rwx", subject: "mint:acme:loose" })).status).toBe(303);
    const modes = Object.fromEntries((await listed(t.projectId)).filter((r) => r.provider === "rwx").map((r) => [r.subject, r.mode]));
    expect(modes).toEqual({ "mint:acme:tight": "shadow", "mint:acme:loose": "enforce" });
    const page = await (await browser.get(`/settings/projects/${t.projectId}`)).text();
    expect(page).toContain("<dt>Mode</dt><dd>shadow (recorded only, never mints)</dd>");
    expect(page).toContain("<dt>Mode</dt><dd>enforce</dd>");
  });

  it("lists the new relationship on the project page with its pinned IDs, or says they are not pinned yet", async () => {
    const { t, browser, add } = await adminSession();
    await add({ provider: "github", owner: "acme", repository: "gadgets", owner_id: "77", description: "pinned owner" });
    const html = await (await browser.get(`/settings/projects/${t.projectId}?done=relationship-added`)).text();
    expect(html).toContain('<p class="notice" role="status">Trust relationship added.</p>');
    expect(html).toContain("<dt>Owner ID</dt><dd><code>77</code></dd>");
    expect(html).toContain("<dt>Repository ID</dt><dd><span class=\"empty\">not pinned yet: pinned from the first verified token</span></dd>");
  });
});

describe("refused fields, in the API's words, beside the field", () => {
  const CASES: [string, Record<string, string>, string, string, RegExp][] = [
    ["a repository URL", { provider: "github", owner: "acme", repository: "https://github.com/acme/widgets" }, "rel-repository", "repository", /must be a repository name without the owner\. That looks like a URL: enter only the repository's name/],
    ["an owner/name path", { provider: "github", owner: "acme", repository: "acme/widgets" }, "rel-repository", "repository", /That looks like a URL/],
    ["a missing owner", { provider: "github", owner: "", repository: "widgets" }, "rel-owner", "owner", /^is required$/],
    ["a CircleCI organization name", { provider: "circleci", organization_uuid: "acme", project_uuid: CIRCLE_PROJECT }, "rel-organization_uuid", "organization_uuid", /must be a lowercase UUID/],
    ["a Buildkite pipeline URL", { provider: "buildkite", organization_slug: "acme", pipeline_slug: "https://buildkite.com/acme/widgets" }, "rel-pipeline_slug", "pipeline_slug", /That looks like a URL: enter only the slug/],
    ["an RWX subject with spaces", { provider: "rwx", subject: "my vault" }, "rel-subject", "subject", /printable ASCII without spaces/],
    ["a lifetime that is not a number", { provider: "rwx", subject: "v", token_ttl_seconds: "1h" }, "rel-token_ttl_seconds", "token_ttl_seconds", /whole number of seconds/],
    ["a lifetime over 12 hours", { provider: "rwx", subject: "v", token_ttl_seconds: "43201" }, "rel-token_ttl_seconds", "token_ttl_seconds", /43200/],
    ["a mode that is neither enforce nor shadow", { provider: "rwx", subject: "v", mode: "audit" }, "rel-mode", "mode", /enforce|shadow/],
  ];
  for (const [what, fields, input, field, message] of CASES) {
    it(`refuses ${what} (400) beside the field, keeping the form filled in, writing nothing`, async () => {
      const { add } = await adminSession();
      const before = await storedState();
      const response = await add(fields);
      expect(response.status).toBe(400);
      const html = await response.text();
      expect(expectFieldError(html, input, field)).toMatch(message);
      expect(html).toContain(`<input type="hidden" name="provider" value="${fields.provider}"/>`);
      expect(await storedState()).toEqual(before);
    });
  }

  it("refuses a condition on a claim the provider does not have, or one without a pattern, naming it beside the conditions", async () => {
    const { add } = await adminSession();
    const before = await storedState();
    for (const [claim, pattern, message] of [
      ["repo", "acme/*", /^conditions: repo is not a github claim$|repo is not a github claim/],
      ["ref", "", /^must be at least 1 character long$/],
      ["__proto__", "x", /__proto__ is not a github claim/],
    ] as const) {
      const response = await add({ provider: "github", owner: "acme", repository: "widgets", condition_claim_1: claim, condition_pattern_1: pattern });
      expect(response.status).toBe(400);
      const html = await response.text();
      expect(/<p class="field-error" id="rel-conditions-error"[^>]*>([^<]*)</.exec(html)?.[1]).toMatch(message);
      // The row holding that claim is the one marked.
      expect(tagWithId(html, "rel-condition_claim_1")).toContain('aria-invalid="true"');
      expect(tagWithId(html, "rel-condition_claim_0")).not.toContain("aria-invalid");
    }
    const orphan = await add({ provider: "github", owner: "acme", repository: "widgets", condition_pattern_2: "main" });
    expect(await orphan.text()).toContain("the pattern in row 3 needs a claim name");
    const twice = await add({ provider: "github", owner: "acme", repository: "widgets", condition_claim_0: "ref", condition_pattern_0: "a", condition_claim_1: "ref", condition_pattern_1: "b" });
    expect(await twice.text()).toContain("ref is given twice");
    expect(await storedState()).toEqual(before);
  });

  it("refuses an unknown provider with a refusal page, and a member before looking at the body", async () => {
    const { t, add } = await adminSession();
    const member = await new UiBrowser().signedIn(t.tokens.memberUser.token);
    const csrf = await member.csrfOf("/settings/account");
    const before = await storedState();
    await expectPageError(await add({ provider: "jenkins", owner: "acme" }), 400, "invalid_request");
    const refused = await member.post(`/settings/projects/${t.projectId}/trust-relationships`, { csrf, provider: "jenkins" });
    await expectPageError(refused, 403, "insufficient_scope");
    expect(await storedState()).toEqual(before);
  });

  it("shows hostile text a refused form echoes back as inert text", async () => {
    const { add } = await adminSession();
    const response = await add({ provider: "github", owner: "<script>alert(1)</script>", repository: '"><img src=x onerror=alert(1)>', description: "</textarea><script>x</script>" });
    const html = await response.text();
    expect(errorCodeOf(html)).toBe("invalid_request");
    expect(html).not.toMatch(/<script>alert|<img src=x|<script>x/);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });
});

describe("deleting a relationship", () => {
  it("removes it from the project page once confirmed, and the API no longer has it", async () => {
    const { t, browser } = await adminSession();
    const page = await (await browser.get(`/settings/projects/${t.projectId}`)).text();
    expect(page).toContain(`action="/settings/projects/${t.projectId}/trust-relationships/${t.relationshipId}/delete" data-confirm="confirm-${t.relationshipId}"`);
    const csrf = await browser.csrfOf("/settings/account");
    const response = await browser.post(`/settings/projects/${t.projectId}/trust-relationships/${t.relationshipId}/delete`, { csrf, confirmed: "yes" });
    expect(response.headers.get("location")).toBe(`/settings/projects/${t.projectId}?done=relationship-deleted`);
    expect(await (await browser.get(response.headers.get("location")!)).text()).not.toContain(t.relationshipId);
    expect(await listed(t.projectId)).toEqual([]);
  });
});
