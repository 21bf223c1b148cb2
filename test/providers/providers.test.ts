/**
 * Pure: the provider files and the registry — which issuers are ours (exactly), how a
 * job's identity is derived from its claims, and how relationships compare with it.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_ISSUERS } from "../../src/config";
import type { VerifiedToken } from "../../src/providers/provider";
import { PROVIDERS, providerForIssuer } from "../../src/providers/registry";

const ORG = "6f1f7a2e-0d3b-4c55-9a61-1b2c3d4e5f60";
const OTHER_ORG = "7a7a7a7a-0d3b-4c55-9a61-1b2c3d4e5f60";
const PROJECT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

describe("providerForIssuer", () => {
  const accepted: [string, string, string][] = [
    [DEFAULT_ISSUERS.github, "github", ""],
    [`${DEFAULT_ISSUERS.github}/bigco`, "github", "bigco"],
    [DEFAULT_ISSUERS.circleci, "circleci", ""],
    [`${DEFAULT_ISSUERS.circleci}/org/${ORG}`, "circleci", ORG],
    [DEFAULT_ISSUERS.buildkite, "buildkite", ""],
    [DEFAULT_ISSUERS.rwx, "rwx", ""],
  ];
  for (const [iss, provider, tenant] of accepted) {
    it(`maps ${iss} to ${provider}${tenant ? ` (tenant ${tenant})` : ""}`, () => {
      const found = providerForIssuer(iss, DEFAULT_ISSUERS);
      expect(found?.provider.name).toBe(provider);
      expect(found?.tenant).toBe(tenant);
    });
  }

  const refused = [
    `${DEFAULT_ISSUERS.github}/`,
    `${DEFAULT_ISSUERS.github}.evil.example`,
    "http://token.actions.githubusercontent.com",
    "https://TOKEN.actions.githubusercontent.com",
    `${DEFAULT_ISSUERS.github}/bigco/extra`,
    // One spelling per issuer: a per-tenant issuer only in canonical lower case.
    `${DEFAULT_ISSUERS.github}/BigCo`,
    `${DEFAULT_ISSUERS.github}/BIGCO`,
    `${DEFAULT_ISSUERS.github}/bigcO`,
    `${DEFAULT_ISSUERS.github}/-bigco`,
    `${DEFAULT_ISSUERS.github}/big co`,
    `${DEFAULT_ISSUERS.github}/${"a".repeat(64)}`,
    `${DEFAULT_ISSUERS.circleci}/`,
    `${DEFAULT_ISSUERS.circleci}/org/`,
    `${DEFAULT_ISSUERS.circleci}/org/acme`,
    `${DEFAULT_ISSUERS.circleci}/org/${ORG.toUpperCase()}`,
    `${DEFAULT_ISSUERS.circleci}/org/${ORG}/`,
    `${DEFAULT_ISSUERS.circleci}/org/${ORG}/project/${PROJECT}`,
    `${DEFAULT_ISSUERS.circleci}/${ORG}`,
    `${DEFAULT_ISSUERS.buildkite}/`,
    `${DEFAULT_ISSUERS.buildkite}/acme`,
    `${DEFAULT_ISSUERS.rwx}/`,
    "https://cloud.rwx.com",
    "https://evil.example",
    "",
  ];
  for (const iss of refused) {
    it(`refuses ${JSON.stringify(iss)}`, () => expect(providerForIssuer(iss, DEFAULT_ISSUERS)).toBeNull());
  }

  it("uses the configured issuers, not the defaults", () => {
    const issuers = { ...DEFAULT_ISSUERS, github: "https://ghes.example/_services/token" };
    expect(providerForIssuer(DEFAULT_ISSUERS.github, issuers)).toBeNull();
    expect(providerForIssuer("https://ghes.example/_services/token", issuers)?.provider.name).toBe("github");
  });
});

describe("GitHub identity", () => {
  const claims = { repository: "Acme/App", repository_owner: "Acme" };
  it("derives a lowercase owner/repository lookup key, tied to the issuer's enterprise if any", () => {
    expect(PROVIDERS.github.identify(claims, "")).toEqual({ lookupKey: "acme/app", issuerTenant: "" });
    expect(PROVIDERS.github.identify(claims, "bigco")).toEqual({ lookupKey: "acme/app", issuerTenant: "bigco" });
  });

  it("stores a relationship's enterprise in lower case as the issuer tenant it names", () => {
    expect(PROVIDERS.github.relationshipIdentity({ owner: "Acme", repository: "App", enterprise: "BigCo" })).toEqual({
      lookupKey: "acme/app",
      issuerTenant: "bigco",
    });
    expect(PROVIDERS.github.relationshipIdentity({ owner: "acme", repository: "app" }).issuerTenant).toBe("");
  });

  it("budgets by the owner's immutable ID, not its name", () => {
    const identity = PROVIDERS.github.identify(claims, "")!;
    expect(PROVIDERS.github.owner({ ...claims, repository_owner_id: "42" }, identity)).toBe("42");
  });

  it("denies pull_request_target and workflow_run by default, and nothing else", () => {
    expect(PROVIDERS.github.defaultDenials({ event_name: "pull_request_target" })).toEqual([{ claim: "event_name", value: "pull_request_target" }]);
    expect(PROVIDERS.github.defaultDenials({ event_name: "workflow_run" })).toEqual([{ claim: "event_name", value: "workflow_run" }]);
    for (const event of ["push", "pull_request", "workflow_dispatch", "schedule"]) expect(PROVIDERS.github.defaultDenials({ event_name: event })).toEqual([]);
  });

  it("needs a relationship naming an enterprise before fetching its issuer's keys, not for the public issuer", () => {
    expect(PROVIDERS.github.keyFetchNeedsRelationship("bigco")).toBe(true);
    expect(PROVIDERS.github.keyFetchNeedsRelationship("")).toBe(false);
  });

  it("refuses claim sets whose IDs are not numeric strings", () => {
    const base = { sub: "s", repository: "acme/app", repository_owner: "acme", repository_owner_id: "1" };
    expect(PROVIDERS.github.claims.safeParse({ ...base, repository_id: "12" }).success).toBe(true);
    expect(PROVIDERS.github.claims.safeParse({ ...base, repository_id: 12 }).success).toBe(false);
    expect(PROVIDERS.github.claims.safeParse({ ...base, repository_id: "0x12" }).success).toBe(false);
  });
});

describe("CircleCI identity", () => {
  const claims = { "oidc.circleci.com/org-id": ORG, "oidc.circleci.com/project-id": PROJECT };
  it("takes the organization from a per-org issuer", () => {
    expect(PROVIDERS.circleci.identify(claims, ORG)).toEqual({ lookupKey: `${ORG}/${PROJECT}`, issuerTenant: ORG });
  });
  it("takes the organization from the org-id claim for the root issuer", () => {
    expect(PROVIDERS.circleci.identify(claims, "")?.issuerTenant).toBe(ORG);
  });
  it("has no identity when the org-id claim disagrees with the issuer", () => {
    expect(PROVIDERS.circleci.identify(claims, OTHER_ORG)).toBeNull();
  });
  it("has no identity from the root issuer without an org-id claim", () => {
    expect(PROVIDERS.circleci.identify({ "oidc.circleci.com/project-id": PROJECT }, "")).toBeNull();
  });
  it("takes the token's own organization UUID as its default audience, and budgets by it", () => {
    const identity = PROVIDERS.circleci.identify(claims, ORG)!;
    expect(PROVIDERS.circleci.defaultAudience(identity)).toBe(ORG);
    expect(PROVIDERS.circleci.owner(claims, identity)).toBe(ORG);
  });
  it("admits the default audience only for relationships that opt in, and defaults them to not", () => {
    const parsed = PROVIDERS.circleci.relationshipSchema.safeParse({ organization_uuid: ORG, project_uuid: PROJECT }).data!;
    expect(parsed).toEqual({ organization_uuid: ORG, project_uuid: PROJECT, accept_default_audience: false });
    expect(PROVIDERS.circleci.acceptsDefaultAudience(parsed)).toBe(false);
    expect(PROVIDERS.circleci.acceptsDefaultAudience({ ...parsed, accept_default_audience: true })).toBe(true);
  });
  it("denies an SSH rerun by default", () => {
    expect(PROVIDERS.circleci.defaultDenials({ "oidc.circleci.com/ssh-rerun": true })).toEqual([{ claim: "oidc.circleci.com/ssh-rerun", value: "true" }]);
    expect(PROVIDERS.circleci.defaultDenials({ "oidc.circleci.com/ssh-rerun": false })).toEqual([]);
  });
  it("gates every key fetch on a stored relationship", () => {
    expect(PROVIDERS.circleci.keyFetchNeedsRelationship("")).toBe(true);
    expect(PROVIDERS.circleci.keyFetchNeedsRelationship(ORG)).toBe(true);
  });
});

describe("Buildkite and RWX identity", () => {
  const verified = (provider: "buildkite" | "rwx", claims: Record<string, unknown>): VerifiedToken => ({
    provider,
    issuer: DEFAULT_ISSUERS[provider],
    issuerTenant: undefined,
    claims,
    identity: PROVIDERS[provider].identify(claims, "")!,
    owner: PROVIDERS[provider].owner(claims, PROVIDERS[provider].identify(claims, "")!),
    defaultAudience: false,
    subject: String(claims.sub),
    jti: undefined,
    issuedAt: 0,
    expiresAt: 1,
  });

  it("refuses a Buildkite token without the IDs once UUIDs are stored", () => {
    const token = verified("buildkite", { sub: "s", organization_slug: "acme", pipeline_slug: "app" });
    const stored = { organization_slug: "acme", pipeline_slug: "app", organization_uuid: ORG, pipeline_uuid: PROJECT };
    expect(PROVIDERS.buildkite.matchRelationship(stored, token).checks).toEqual([
      { check: "identity", field: "organization_slug", claim: "organization_slug", expected: "acme", actual: "acme", pass: true },
      { check: "identity", field: "pipeline_slug", claim: "pipeline_slug", expected: "app", actual: "app", pass: true },
      { check: "pinned_id", field: "organization_uuid", claim: "organization_id", expected: ORG, actual: null, pass: false },
      { check: "pinned_id", field: "pipeline_uuid", claim: "pipeline_id", expected: PROJECT, actual: null, pass: false },
    ]);
  });

  it("budgets Buildkite by the organization slug, with or without organization_id", () => {
    const claims = { sub: "s", organization_slug: "acme", pipeline_slug: "app" };
    const identity = PROVIDERS.buildkite.identify(claims, "")!;
    expect(PROVIDERS.buildkite.owner(claims, identity)).toBe("acme");
    expect(PROVIDERS.buildkite.owner({ ...claims, organization_id: ORG }, identity)).toBe("acme");
  });

  it("budgets RWX by the vault subject", () => {
    const claims = { sub: "mint:org:vault" };
    expect(PROVIDERS.rwx.owner(claims, PROVIDERS.rwx.identify(claims, "")!)).toBe("mint:org:vault");
  });

  it("compares the RWX subject exactly", () => {
    const token = verified("rwx", { sub: "mint:org:vault" });
    const passes = (subject: string) => PROVIDERS.rwx.matchRelationship({ subject }, token).checks.every((c) => c.pass);
    expect(passes("mint:org:vault")).toBe(true);
    expect(passes("MINT:org:vault")).toBe(false);
  });
});
