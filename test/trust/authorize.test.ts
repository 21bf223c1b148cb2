/**
 * Pure: `authorize` as a table of (verified claims × stored relationships × request) →
 * decision. No I/O; tokens are built as the verifier would return them.
 */
import { describe, expect, it } from "vitest";
import { StsError, type Reason } from "../../src/errors";
import type { VerifiedToken } from "../../src/providers/provider";
import { PROVIDERS } from "../../src/providers/registry";
import {
  authorize,
  evaluate,
  narrowScopes,
  shadowRecord,
  shadowVerdicts,
  traceRelationships,
  type Candidates,
  type ExchangeTarget,
  type TrustRelationship,
} from "../../src/trust/authorize";

const ORG_UUID = "6f1f7a2e-0d3b-4c55-9a61-1b2c3d4e5f60";
const PROJECT_UUID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

function token(provider: VerifiedToken["provider"], claims: Record<string, unknown>, tenant = "", defaultAudience = false): VerifiedToken {
  const identity = PROVIDERS[provider].identify(claims, tenant);
  if (!identity) throw new Error("inconsistent claims in test");
  return {
    provider,
    issuer: `https://issuer.test/${provider}`,
    issuerTenant: tenant || undefined,
    claims,
    identity,
    owner: PROVIDERS[provider].owner(claims, identity),
    defaultAudience,
    subject: String(claims.sub),
    jti: undefined,
    issuedAt: 1_700_000_000,
    expiresAt: 1_700_000_300,
  };
}

const github = (claims: Record<string, unknown> = {}, tenant = "") =>
  token(
    "github",
    {
      sub: "repo:acme/app:ref:refs/heads/main",
      repository: "acme/app",
      repository_id: "100",
      repository_owner: "acme",
      repository_owner_id: "200",
      ref: "refs/heads/main",
      event_name: "push",
      ...claims,
    },
    tenant,
  );

const circleci = (claims: Record<string, unknown> = {}, defaultAudience = false) =>
  token(
    "circleci",
    {
      sub: `org/${ORG_UUID}/project/${PROJECT_UUID}/user/u`,
      "oidc.circleci.com/org-id": ORG_UUID,
      "oidc.circleci.com/project-id": PROJECT_UUID,
      "oidc.circleci.com/ssh-rerun": false,
      ...claims,
    },
    ORG_UUID,
    defaultAudience,
  );

let counter = 0;
function relationship(provider: string, subject: Record<string, unknown>, extra: Partial<TrustRelationship> = {}): TrustRelationship {
  counter++;
  return {
    id: `trl_${String(counter).padStart(24, "0")}`,
    projectId: "prj_000000000000000000000001",
    orgId: "org_000000000000000000000001",
    provider,
    mode: "enforce",
    subject,
    conditions: {},
    tokenTtlSeconds: 3600,
    createdAt: 1_000 + counter,
    ...extra,
  };
}

const repo = (extra: Record<string, unknown> = {}, rel: Partial<TrustRelationship> = {}) =>
  relationship("github", { owner: "acme", repository: "app", ...extra }, rel);

const noTarget = { audience: undefined, scope: undefined };

/** What db/ hands over: one project's relationships, and whether several projects name the job. */
const one = (relationships: TrustRelationship[], ambiguous = false): Candidates => ({ relationships, ambiguous });

const cci = (subject: Record<string, unknown> = {}, rel: Partial<TrustRelationship> = {}) =>
  relationship("circleci", { organization_uuid: ORG_UUID, project_uuid: PROJECT_UUID, accept_default_audience: false, ...subject }, rel);

/** The exchange's decision: trace every candidate, then read the verdict. */
const decide = (verified: VerifiedToken, candidates: Candidates, target: ExchangeTarget) => authorize(traceRelationships(verified, candidates), target);

function reasonOf(run: () => unknown): Reason | "none" {
  try {
    run();
    return "none";
  } catch (error) {
    if (error instanceof StsError) return error.reason;
    throw error;
  }
}

describe("authorize: which relationship admits the token", () => {
  const table: [name: string, token: VerifiedToken, relationships: TrustRelationship[], outcome: Reason | "admitted"][] = [
    ["no relationship at all", github(), [], "no_trust_relationship"],
    ["a relationship of another provider with the same lookup key", github(), [relationship("buildkite", { organization_slug: "acme", pipeline_slug: "app" })], "no_trust_relationship"],
    ["names that match", github(), [repo()], "admitted"],
    ["names that match in another case", github(), [repo({ owner: "ACME", repository: "App" })], "admitted"],
    ["another repository of the same owner", github({ repository: "acme/other" }), [repo()], "no_trust_relationship"],
    ["IDs equal to the pinned ones", github(), [repo({ owner_id: "200", repository_id: "100" })], "admitted"],
    ["a repository_id different from the pinned one", github({ repository_id: "101" }), [repo({ owner_id: "200", repository_id: "100" })], "no_trust_relationship"],
    ["an owner_id different from the pinned one", github({ repository_owner_id: "201" }), [repo({ owner_id: "200" })], "no_trust_relationship"],
    ["conditions that hold", github(), [repo({}, { conditions: { ref: "refs/heads/main" } })], "admitted"],
    ["conditions that fail", github({ ref: "refs/pull/1/merge" }), [repo({}, { conditions: { ref: "refs/heads/main" } })], "no_trust_relationship"],
    ["pull_request_target with no condition", github({ event_name: "pull_request_target" }), [repo()], "event_denied"],
    ["pull_request_target named exactly", github({ event_name: "pull_request_target" }), [repo({}, { conditions: { event_name: "pull_request_target" } })], "admitted"],
    ["pull_request_target under '*'", github({ event_name: "pull_request_target" }), [repo({}, { conditions: { event_name: "*" } })], "event_denied"],
    ["workflow_run under 'workflow_*'", github({ event_name: "workflow_run" }), [repo({}, { conditions: { event_name: "workflow_*" } })], "event_denied"],
    ["a denied event and another relationship failing its identity", github({ event_name: "workflow_run" }), [repo(), repo({ repository_id: "999" })], "event_denied"],
    ["an enterprise issuer and a relationship naming no enterprise", github({ enterprise: "bigco" }, "bigco"), [repo()], "no_trust_relationship"],
    ["an enterprise issuer and a relationship naming it", github({ enterprise: "bigco" }, "bigco"), [repo({ enterprise: "BigCo" })], "admitted"],
    ["another enterprise's issuer", github({ enterprise: "other" }, "other"), [repo({ enterprise: "bigco" })], "no_trust_relationship"],
    ["the public issuer and a relationship naming an enterprise", github(), [repo({ enterprise: "bigco" })], "no_trust_relationship"],
    ["a CircleCI org and project that match", circleci(), [relationship("circleci", { organization_uuid: ORG_UUID, project_uuid: PROJECT_UUID })], "admitted"],
    ["a CircleCI SSH rerun", circleci({ "oidc.circleci.com/ssh-rerun": true }), [relationship("circleci", { organization_uuid: ORG_UUID, project_uuid: PROJECT_UUID })], "event_denied"],
    [
      "a CircleCI SSH rerun named by a condition",
      circleci({ "oidc.circleci.com/ssh-rerun": true }),
      [relationship("circleci", { organization_uuid: ORG_UUID, project_uuid: PROJECT_UUID }, { conditions: { "oidc.circleci.com/ssh-rerun": "true" } })],
      "admitted",
    ],
  ];

  for (const [name, verified, relationships, outcome] of table) {
    it(`${outcome === "admitted" ? "admits" : `refuses (${outcome})`}: ${name}`, () => {
      if (outcome === "admitted") {
        expect(decide(verified, one(relationships), noTarget).relationship.id).toBe(relationships[0]!.id);
      } else {
        expect(reasonOf(() => decide(verified, one(relationships), noTarget))).toBe(outcome);
      }
    });
  }
});

describe("authorize: pins", () => {
  it("returns the GitHub IDs to pin when the relationship has none", () => {
    expect(decide(github(), one([repo()]), noTarget).pins).toEqual({ owner_id: "200", repository_id: "100" });
  });

  it("returns only the missing ID", () => {
    expect(decide(github(), one([repo({ owner_id: "200" })]), noTarget).pins).toEqual({ repository_id: "100" });
  });

  it("returns nothing to pin when both IDs are stored", () => {
    expect(decide(github(), one([repo({ owner_id: "200", repository_id: "100" })]), noTarget).pins).toBeUndefined();
  });

  it("returns Buildkite UUIDs to pin only when the token carries them", () => {
    const claims = { sub: "s", organization_slug: "acme", pipeline_slug: "app" };
    const rel = relationship("buildkite", { organization_slug: "acme", pipeline_slug: "app" });
    expect(decide(token("buildkite", claims), one([rel]), noTarget).pins).toBeUndefined();
    const ids = { organization_id: ORG_UUID, pipeline_id: PROJECT_UUID };
    expect(decide(token("buildkite", { ...claims, ...ids }), one([rel]), noTarget).pins).toEqual({
      organization_uuid: ORG_UUID,
      pipeline_uuid: PROJECT_UUID,
    });
  });
});

describe("authorize: project selection", () => {
  const first = "prj_000000000000000000000aaa";
  const second = "prj_000000000000000000000bbb";

  it("picks the one project naming the job without audience", () => {
    expect(decide(github(), one([repo({}, { projectId: first })]), noTarget).relationship.projectId).toBe(first);
  });

  it("is ambiguous without audience when several projects name the job, even if only one would admit it", () => {
    const owner = repo({}, { projectId: first, conditions: { ref: "refs/heads/main" } });
    expect(reasonOf(() => decide(github({ ref: "refs/pull/1/merge" }), one([owner], true), noTarget))).toBe("target_ambiguous");
    expect(reasonOf(() => decide(github(), one([owner], true), noTarget))).toBe("target_ambiguous");
  });

  it("ignores ambiguity when audience names the project", () => {
    expect(decide(github(), one([repo({}, { projectId: first })], true), { audience: first, scope: undefined }).relationship.projectId).toBe(first);
  });

  it("refuses without audience when the one project naming the job does not admit it", () => {
    const rels = [repo({}, { projectId: first, conditions: { ref: "refs/tags/*" } })];
    expect(reasonOf(() => decide(github(), one(rels), noTarget))).toBe("no_trust_relationship");
  });

  it("refuses an audience naming a project whose relationships do not admit", () => {
    const rels = [repo({}, { projectId: second, conditions: { ref: "refs/tags/*" } })];
    expect(reasonOf(() => decide(github(), one(rels), { audience: second, scope: undefined }))).toBe("target_invalid");
  });

  it("refuses an audience naming a project with no relationship for the job", () => {
    expect(reasonOf(() => decide(github(), one([]), { audience: second, scope: undefined }))).toBe("target_invalid");
  });

  it("never admits through a relationship of a project other than the audience", () => {
    expect(reasonOf(() => decide(github(), one([repo({}, { projectId: first })]), { audience: second, scope: undefined }))).toBe("target_invalid");
  });

  it("picks the oldest of several admitting relationships of one project", () => {
    const older = repo({}, { projectId: first, createdAt: 10 });
    const newer = repo({}, { projectId: first, createdAt: 20 });
    expect(decide(github(), one([newer, older]), noTarget).relationship.id).toBe(older.id);
    expect(decide(github(), one([older, newer]), noTarget).relationship.id).toBe(older.id);
  });

  it("breaks a creation-time tie by ID, whatever the candidate order", () => {
    const a = repo({}, { projectId: first, createdAt: 10, id: "trl_00000000000000000000000a" });
    const b = repo({}, { projectId: first, createdAt: 10, id: "trl_00000000000000000000000b" });
    expect(decide(github(), one([b, a]), noTarget).relationship.id).toBe(a.id);
    expect(decide(github(), one([a, b]), noTarget).relationship.id).toBe(a.id);
  });

  it("grants the relationship's ttl through the chosen relationship", () => {
    expect(decide(github(), one([repo({}, { tokenTtlSeconds: 900 })]), noTarget).relationship.tokenTtlSeconds).toBe(900);
  });
});

describe("evaluate: each relationship names the check that refused the token", () => {
  const table: [name: string, token: VerifiedToken, relationship: TrustRelationship, failed: string | undefined, claim?: string][] = [
    ["another provider", github(), relationship("rwx", { subject: "acme/app" }), "provider"],
    ["another repository", github({ repository: "acme/other" }), repo(), "identity"],
    ["another pinned repository_id", github({ repository_id: "101" }), repo({ repository_id: "100" }), "pinned_id"],
    ["an enterprise issuer the relationship does not name", github({ enterprise: "bigco" }, "bigco"), repo(), "enterprise"],
    ["a condition that fails", github({ ref: "refs/pull/1/merge" }), repo({}, { conditions: { event_name: "push", ref: "refs/heads/main" } }), "conditions", "ref"],
    ["an event denied by default", github({ event_name: "workflow_run" }), repo(), "default_denial", "event_name"],
    ["CircleCI's default audience without accept_default_audience", circleci({}, true), cci(), "default_audience"],
    ["CircleCI's default audience with accept_default_audience", circleci({}, true), cci({ accept_default_audience: true }), undefined],
    ["our audience, whatever accept_default_audience says", circleci(), cci(), undefined],
    ["a relationship stored before the flag existed, given our audience", circleci(), cci({ accept_default_audience: undefined }), undefined],
    ["a relationship stored before the flag existed, given the default audience", circleci({}, true), cci({ accept_default_audience: undefined }), "default_audience"],
  ];
  for (const [name, verified, rel, failed, claim] of table) {
    it(`${failed ? `fails ${failed}` : "admits"}: ${name}`, () => {
      const evaluation = evaluate(verified, rel);
      if (failed === undefined) expect(evaluation.admits).toBe(true);
      else expect(evaluation).toMatchObject({ admits: false, failed, ...(claim ? { claim } : {}) });
    });
  }

  it("refuses the default audience with the same reason as any other non-admitting relationship", () => {
    expect(reasonOf(() => decide(circleci({}, true), one([cci()]), noTarget))).toBe("no_trust_relationship");
    expect(decide(circleci({}, true), one([cci({ accept_default_audience: true })]), noTarget).relationship.provider).toBe("circleci");
  });
});

describe("narrowScopes", () => {
  const granted = ["builds", "registry:pull", "registry:push"] as const;
  it("grants everything when nothing is asked", () => expect(narrowScopes(granted, undefined)).toEqual([...granted]));
  it("narrows to what is asked, in the granted order", () =>
    expect(narrowScopes(granted, ["registry:push", "builds"])).toEqual(["builds", "registry:push"]));
  it("does not repeat a scope asked twice", () => expect(narrowScopes(granted, ["builds", "builds"])).toEqual(["builds"]));
  it("refuses a scope that is not granted", () => expect(reasonOf(() => narrowScopes(granted, ["builds", "api"]))).toBe("scope_invalid"));
  it("refuses a scope that does not exist", () => expect(reasonOf(() => narrowScopes(granted, ["registry:*"]))).toBe("scope_invalid"));
  it("applies through authorize", () =>
    expect(decide(github(), one([repo()]), { audience: undefined, scope: ["registry:pull"] }).scopes).toEqual(["registry:pull"]));
});

describe("traceRelationships: every check of every relationship", () => {
  it("evaluates the checks after the first failing one, with expected and actual", () => {
    const rel = repo({ repository_id: "999" }, { conditions: { ref: "refs/heads/main", event_name: "push" } });
    const [evaluation] = traceRelationships(github({ ref: "refs/heads/dev" }), one([rel])).evaluations;
    expect(evaluation).toMatchObject({ admits: false, failed: "pinned_id" });
    expect(evaluation!.checks).toEqual([
      { check: "provider", field: "provider", claim: "iss", expected: "github", actual: "github", pass: true },
      { check: "identity", field: "owner/repository", claim: "repository", expected: "acme/app", actual: "acme/app", pass: true },
      { check: "pinned_id", field: "repository_id", claim: "repository_id", expected: "999", actual: "100", pass: false },
      { check: "conditions", field: "conditions.ref", claim: "ref", expected: "refs/heads/main", actual: "refs/heads/dev", pass: false },
      { check: "conditions", field: "conditions.event_name", claim: "event_name", expected: "push", actual: "push", pass: true },
    ]);
  });

  it("records a default denial as the relationship's condition (expected) against the token's value (actual)", () => {
    const [evaluation] = traceRelationships(github({ event_name: "workflow_run" }), one([repo({}, { conditions: { event_name: "workflow_*" } })])).evaluations;
    expect(evaluation!.checks.at(-1)).toEqual({
      check: "default_denial", field: "conditions.event_name", claim: "event_name", expected: "workflow_*", actual: "workflow_run", pass: false,
    });
  });

  it("records the default audience check only for tokens carrying it", () => {
    const checksOf = (t: VerifiedToken) => traceRelationships(t, one([cci()])).evaluations[0]!.checks.map((c) => c.check);
    expect(checksOf(circleci())).not.toContain("default_audience");
    expect(checksOf(circleci({}, true))).toContain("default_audience");
  });
});

describe("shadow relationships", () => {
  const shadow = (extra: Record<string, unknown> = {}, rel: Partial<TrustRelationship> = {}) => repo(extra, { mode: "shadow", ...rel });
  const target = { audience: "prj_000000000000000000000001", scope: undefined };

  it("never admit, however well they match", () => {
    expect(reasonOf(() => decide(github(), one([shadow()]), noTarget))).toBe("no_trust_relationship");
    expect(reasonOf(() => decide(github(), one([shadow()]), target))).toBe("target_invalid");
  });

  it("never change the answer of the enforce relationships, nor which one grants", () => {
    const enforce = repo({}, { conditions: { ref: "refs/heads/main" }, createdAt: 50 });
    const older = shadow({}, { createdAt: 1 });
    for (const t of [github(), github({ ref: "refs/pull/1/merge" }), github({ event_name: "pull_request_target", ref: "refs/pull/1/merge" })]) {
      const alone = reasonOf(() => decide(t, one([enforce]), target));
      expect(reasonOf(() => decide(t, one([older, enforce]), target))).toBe(alone);
    }
    expect(decide(github(), one([older, enforce]), target).relationship.id).toBe(enforce.id);
  });

  it("do not turn a refusal into event_denied when only they would be lifted by naming the event", () => {
    const t = github({ event_name: "pull_request_target" });
    expect(reasonOf(() => decide(t, one([repo({ repository_id: "1" }), shadow()]), target))).toBe("target_invalid");
  });

  it("are reported as would admit, or would refuse at their first failing check", () => {
    const admits = shadow();
    const refuses = shadow({}, { conditions: { ref: "refs/tags/*" } });
    const trace = traceRelationships(github(), one([repo(), admits, refuses]));
    expect(shadowVerdicts(trace, noTarget)).toEqual([
      { relationshipId: admits.id, admits: true },
      { relationshipId: refuses.id, admits: false, failed: "conditions", claim: "ref" },
    ]);
    expect(shadowVerdicts(trace, noTarget).map(shadowRecord)).toEqual([
      { relationship_id: admits.id, result: "would_admit", reason: null },
      { relationship_id: refuses.id, result: "would_refuse", reason: "conditions: ref" },
    ]);
  });
});
