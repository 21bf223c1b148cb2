/**
 * Suggest (issue 10 §2) at the wire: for each provider, the suggested body POSTed as it is
 * admits the token it came from (exchange with audience → 200) and refuses its near misses
 * (another ref, workflow, ID, fork origin, step, subject, …); an expired but validly signed
 * token still gets a suggestion; a token that does not verify gets the exchange's refusal.
 */
import { describe, expect, it } from "vitest";
import { createProject, createRelationship, decodeJwt, exchangeToken } from "../support/api";
import { expectRefused } from "../support/exchange-forge";
import { expectExchanged } from "../support/exchange-seed";
import { buildkiteClaims, circleciClaims, githubClaims, ISSUERS, issuerRequests, now, rwxClaims, signToken, uuid } from "../support/issuer";
import { snapshotDb } from "../robustness/support";
import { post, suggest } from "./support";

const AUDIENCE = "https://sts.test";
type Claims = { iss: string } & Record<string, unknown>;
const sign = (claims: Claims) => signToken(claims.iss, claims);

/** Suggests from `claims`' token in a fresh project, POSTs the body as it is, and returns a way to try tokens against it. */
async function suggestedProject(claims: Claims) {
  const { projectId } = await createProject();
  const suggestion = await suggest(projectId, await sign(claims));
  const created = await createRelationship(projectId, suggestion.trust_relationship);
  const fresh = (overrides: Record<string, unknown> = {}) => sign({ ...claims, ...("jti" in claims ? { jti: uuid() } : {}), ...overrides });
  return { projectId, suggestion, relationshipId: String(created.id), fresh };
}

async function expectNearMissesRefused(projectId: string, tokens: Record<string, Promise<string>>) {
  for (const [name, token] of Object.entries(tokens)) {
    const response = await exchangeToken(await token, { audience: projectId });
    expect(response.status, name).toBe(400);
    expect(((await response.json()) as { error: string }).error, name).toBe("invalid_target");
  }
}

describe("suggest: GitHub", () => {
  it("suggests the IDs, the exact ref, the called workflow and the event; POSTed as is, it admits the token and refuses its near misses", async () => {
    const claims = githubClaims();
    const [owner, repository] = String(claims.repository).split("/");
    const { projectId, suggestion, relationshipId, fresh } = await suggestedProject(claims);
    expect(suggestion.trust_relationship).toEqual({
      provider: "github",
      mode: "enforce",
      owner,
      repository,
      owner_id: claims.repository_owner_id,
      repository_id: claims.repository_id,
      conditions: { ref: "refs/heads/main", job_workflow_ref: claims.job_workflow_ref, event_name: "push" },
      description: `Suggested from a github token of ${String(claims.repository).toLowerCase()}`,
    });
    // A sentence per choice.
    expect(suggestion.explanations.map((e) => e.field)).toEqual([
      "mode", "owner/repository", "owner_id", "repository_id", "conditions.ref", "conditions.job_workflow_ref", "conditions.event_name",
    ]);
    for (const e of suggestion.explanations) expect(e.text.length).toBeGreaterThan(20);
    expect(suggestion.warnings).toEqual([]);

    const body = await expectExchanged(await fresh(), { audience: projectId });
    expect(decodeJwt(body.access_token).trust_relationship_id).toBe(relationshipId);
    await expectNearMissesRefused(projectId, {
      "another branch": fresh({ ref: "refs/heads/dev" }),
      "a pull request": fresh({ ref: "refs/pull/1/merge", event_name: "pull_request" }),
      "another workflow file": fresh({ job_workflow_ref: `${claims.repository}/.github/workflows/release.yml@refs/heads/main` }),
      "the workflow at another ref": fresh({ job_workflow_ref: `${claims.repository}/.github/workflows/ci.yml@refs/heads/dev` }),
      "another event": fresh({ event_name: "workflow_dispatch" }),
      "a re-created repository": fresh({ repository_id: "999999" }),
      "a re-registered owner": fresh({ repository_owner_id: "999999" }),
      "another repository": fresh({ repository: `${owner}/other` }),
    });
  });

  it("adds the environment when the job used one, and the caller when the job runs a reusable workflow", async () => {
    const called = "acme/shared/.github/workflows/deploy.yml@refs/heads/main";
    const claims = githubClaims({ environment: "production", job_workflow_ref: called });
    const { projectId, suggestion, fresh } = await suggestedProject(claims);
    expect(suggestion.trust_relationship.conditions).toEqual({
      ref: "refs/heads/main",
      job_workflow_ref: called,
      workflow_ref: claims.workflow_ref,
      environment: "production",
      event_name: "push",
    });
    await expectExchanged(await fresh(), { audience: projectId });
    await expectNearMissesRefused(projectId, {
      "another environment": fresh({ environment: "staging" }),
      "no environment": fresh({ environment: undefined }),
      "another caller": fresh({ workflow_ref: `${claims.repository}/.github/workflows/other.yml@refs/heads/main` }),
      "another called workflow": fresh({ job_workflow_ref: "acme/shared/.github/workflows/other.yml@refs/heads/main" }),
    });
  });

  it("names an event denied by default, with a warning, so the suggestion still admits the token", async () => {
    const claims = githubClaims({ event_name: "pull_request_target" });
    const { projectId, suggestion, fresh } = await suggestedProject(claims);
    expect(suggestion.trust_relationship.conditions).toMatchObject({ event_name: "pull_request_target" });
    expect(suggestion.warnings.map((w) => w.code)).toEqual(["default_denied_event"]);
    await expectExchanged(await fresh(), { audience: projectId });
  });

  it("warns that a pull request's exact ref admits that pull request only", async () => {
    const { suggestion } = await suggestedProject(githubClaims({ ref: "refs/pull/7/merge", event_name: "pull_request" }));
    expect(suggestion.warnings.map((w) => w.code)).toEqual(["pull_request_ref"]);
    expect(suggestion.warnings[0]!.text).toContain("refs/pull/*/merge");
  });

  it("names the enterprise of a token from an enterprise's issuer, which only such a relationship accepts", async () => {
    const slug = `ent-${uuid().slice(0, 8)}`;
    const issuer = `${ISSUERS.github}/${slug}`;
    const claims = githubClaims({ iss: issuer, enterprise: slug });
    const { projectId, suggestion, fresh } = await suggestedProject(claims);
    expect(suggestion.trust_relationship).toMatchObject({ enterprise: slug });
    await expectExchanged(await fresh(), { audience: projectId });
  });
});

describe("suggest: CircleCI", () => {
  it("suggests the UUIDs, the vcs-origin and the ref; POSTed as is, it admits the token and refuses a fork build and another ref", async () => {
    const org = uuid();
    const project = uuid();
    const claims = circleciClaims(org, project);
    const { projectId, suggestion, fresh } = await suggestedProject(claims);
    expect(suggestion.trust_relationship).toMatchObject({
      provider: "circleci",
      organization_uuid: org,
      project_uuid: project,
      conditions: { "oidc.circleci.com/vcs-origin": "github.com/acme/app", "oidc.circleci.com/vcs-ref": "refs/heads/main" },
    });
    expect(suggestion.trust_relationship).not.toHaveProperty("accept_default_audience");
    await expectExchanged(await fresh(), { audience: projectId });
    await expectNearMissesRefused(projectId, {
      "a fork build": fresh({ "oidc.circleci.com/vcs-origin": "github.com/mallory/app" }),
      "another ref": fresh({ "oidc.circleci.com/vcs-ref": "refs/heads/dev" }),
      "another project": fresh({ "oidc.circleci.com/project-id": uuid() }),
      "the default audience": fresh({ aud: org }),
    });
  });

  it("sets accept_default_audience only for a token with the default audience, with a warning", async () => {
    const org = uuid();
    const claims = circleciClaims(org, uuid(), { aud: org });
    const { projectId, suggestion, fresh } = await suggestedProject(claims);
    expect(suggestion.trust_relationship).toMatchObject({ accept_default_audience: true });
    expect(suggestion.warnings.map((w) => w.code)).toEqual(["default_audience"]);
    expect(suggestion.warnings[0]!.text).toContain(`circleci run oidc get --claims '{"aud":"${AUDIENCE}"}'`);
    await expectExchanged(await fresh(), { audience: projectId });
  });

  it("fetches the keys of an organization no relationship names yet: that relationship is what is asked for", async () => {
    const org = uuid();
    const token = await sign(circleciClaims(org, uuid()));
    const { projectId } = await createProject();
    // The exchange (and so explain) does not open that fetch; suggest does.
    await expectRefused(await exchangeToken(token, { audience: projectId }), "target_invalid");
    expect(await issuerRequests(`${ISSUERS.circleci}/org/${org}`)).toBe(0);
    const suggestion = await suggest(projectId, token);
    expect(suggestion.trust_relationship).toMatchObject({ organization_uuid: org });
    expect(await issuerRequests(`${ISSUERS.circleci}/org/${org}`)).toBe(2);
  });
});

describe("suggest: Buildkite", () => {
  it("suggests the pinned UUIDs, the branch and the step; POSTed as is, it admits the token and refuses its near misses", async () => {
    const ids = { organization_id: uuid(), pipeline_id: uuid() };
    const claims = buildkiteClaims(ids);
    const { projectId, suggestion, fresh } = await suggestedProject(claims);
    expect(suggestion.trust_relationship).toMatchObject({
      provider: "buildkite",
      organization_slug: claims.organization_slug,
      pipeline_slug: claims.pipeline_slug,
      organization_uuid: ids.organization_id,
      pipeline_uuid: ids.pipeline_id,
      conditions: { build_branch: "main", step_key: "build" },
    });
    expect(suggestion.warnings.map((w) => w.code)).toEqual(["fork_builds"]);
    await expectExchanged(await fresh(), { audience: projectId });
    await expectNearMissesRefused(projectId, {
      "another branch": fresh({ build_branch: "dev" }),
      "another step": fresh({ step_key: "deploy" }),
      "a re-created pipeline": fresh({ pipeline_id: uuid() }),
      "no UUID claims": fresh({ organization_id: undefined, pipeline_id: undefined }),
      "another pipeline": fresh({ pipeline_slug: "other" }),
    });
  });

  it("says how to get the UUIDs when the token lacks them", async () => {
    const claims = buildkiteClaims();
    const { projectId, suggestion, fresh } = await suggestedProject(claims);
    expect(suggestion.trust_relationship).not.toHaveProperty("organization_uuid");
    const missing = suggestion.warnings.find((w) => w.code === "ids_missing")!;
    expect(missing.text).toContain(`buildkite-agent oidc request-token --audience ${AUDIENCE} --claim organization_id,pipeline_id`);
    await expectExchanged(await fresh(), { audience: projectId });
  });
});

describe("suggest: RWX", () => {
  it("suggests the exact vault subject; POSTed as is, it admits the token and refuses another vault", async () => {
    const claims = rwxClaims();
    const { projectId, suggestion, fresh } = await suggestedProject(claims);
    expect(suggestion.trust_relationship).toMatchObject({ provider: "rwx", subject: claims.sub });
    expect(suggestion.trust_relationship).not.toHaveProperty("conditions");
    expect(suggestion.warnings.map((w) => w.code)).toEqual(["locked_vault"]);
    await expectExchanged(await fresh(), { audience: projectId });
    await expectNearMissesRefused(projectId, {
      "another vault": fresh({ sub: `${claims.sub}-other` }),
      "the subject in upper case": fresh({ sub: String(claims.sub).toUpperCase() }),
    });
  });
});

describe("suggest: tokens that did not pass", () => {
  it("still suggests from an expired but validly signed token, with a warning, and a fresh token of the job is admitted", async () => {
    const t = now();
    const claims = githubClaims({ iat: t - 1000, nbf: t - 1600, exp: t - 700 });
    const { projectId, suggestion, fresh } = await suggestedProject(claims);
    expect(suggestion.warnings.map((w) => w.code)).toEqual(["token_expired"]);
    await expectExchanged(await fresh({ iat: t, nbf: t - 600, exp: t + 300 }), { audience: projectId });
  });

  it("still suggests from a token for another audience, with the line to change", async () => {
    const { suggestion } = await suggestedProject(buildkiteClaims({ aud: "https://buildkite.com/acme" }));
    const warning = suggestion.warnings.find((w) => w.code === "audience_mismatch")!;
    expect(warning.text).toContain(`buildkite-agent oidc request-token --audience ${AUDIENCE}`);
  });

  it("refuses a badly signed token, an unknown issuer and a malformed token with the exchange's refusals, writing nothing", async () => {
    const { projectId } = await createProject();
    const claims = githubClaims();
    const [h, , s] = (await sign(claims)).split(".");
    const tampered = `${h}.${(await sign({ ...claims, ref: "refs/heads/x" })).split(".")[1]}.${s}`;
    const issuer = "https://ci.example.com";
    const before = await snapshotDb();
    const path = `/v1/projects/${projectId}/trust-relationships/suggest`;
    await expectRefused(await post(path, { subject_token: tampered }), "signature_invalid");
    await expectRefused(await post(path, { subject_token: await signToken(issuer, { ...claims, iss: issuer }) }), "issuer_unknown");
    await expectRefused(await post(path, { subject_token: "a.b" }), "token_malformed");
    await expectRefused(await post(path, { subject_token: await sign({ ...claims, repository_id: 17 }) }), "claims_invalid");
    expect(await snapshotDb()).toEqual(before);
  });

  it("writes nothing for a token it suggests from, and spends no jti", async () => {
    const { projectId } = await createProject();
    const claims = githubClaims();
    const token = await sign(claims);
    const before = await snapshotDb();
    await suggest(projectId, token);
    expect(await snapshotDb()).toEqual(before);
    await createRelationship(projectId, (await suggest(projectId, token)).trust_relationship);
    await expectExchanged(token, { audience: projectId });
  });
});
