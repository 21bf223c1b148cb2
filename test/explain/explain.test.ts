/**
 * Explain (issue 10 §1) at the wire, on real tokens from the fake issuer: every verification
 * stage, every check of every relationship with expected vs actual, the hints for each
 * provider's pitfalls, the answer the exchange would give, and that explaining changes
 * nothing stored.
 */
import { describe, expect, it } from "vitest";
import { toWire } from "../../src/errors";
import { createProject, createRelationship, decodeJwt, exchangeToken } from "../support/api";
import { exchangeWithEnv, expectRefused, replayRecorded } from "../support/exchange-forge";
import { expectExchanged, listedRelationship, seedBuildkite, seedCircleci, seedGithub, seedRwx } from "../support/exchange-seed";
import { circleciClaims, ISSUERS, issuerRequests, now, setFault, signToken, uuid } from "../support/issuer";
import { isolatedIssuers, snapshotDb } from "../robustness/support";
import { check, explain, hintCodes, relationship, stage, stageResults } from "./support";

const AUDIENCE = "https://sts.test";
const sign = (claims: { iss: string } & Record<string, unknown>) => signToken(claims.iss, claims);
const wire = (reason: Parameters<typeof toWire>[0]) => {
  const w = toWire(reason);
  return { status: w.status, error: w.error, error_description: w.description };
};

describe("explain: the trace", () => {
  it("reports every check of every relationship with expected and actual, not only the first failing one", async () => {
    const s = await seedGithub({ ref: "refs/heads/dev" }, { repository_id: "1", conditions: { ref: "refs/heads/main", event_name: "push" } });
    const second = await createRelationship(s.projectId, { provider: "github", owner: s.owner, repository: s.repository, mode: "shadow", description: "tighter" });
    const other = await createRelationship(s.projectId, { provider: "rwx", subject: "mint:acme:vault" });
    const e = await explain(s.projectId, await sign(s.claims));

    expect(e.project_id).toBe(s.projectId);
    expect(e.token).toMatchObject({ provider: "github", signature_verified: true, claims: { repository: s.claims.repository, ref: "refs/heads/dev" } });
    expect(Object.values(stageResults(e))).toEqual(Array(9).fill("pass"));

    const first = relationship(e, s.relationshipId);
    expect(first).toMatchObject({ mode: "enforce", result: "refuses", failed_check: "pinned_id" });
    // The failing pin does not hide the conditions after it.
    expect(first.checks.map((c) => [c.check, c.field, c.pass])).toEqual([
      ["provider", "provider", true],
      ["identity", "owner/repository", true],
      ["pinned_id", "repository_id", false],
      ["conditions", "conditions.ref", false],
      ["conditions", "conditions.event_name", true],
    ]);
    expect(check(first.checks, "pinned_id")).toMatchObject({ claim: "repository_id", expected: "1", actual: s.claims.repository_id });
    expect(check(first.checks, "conditions", "conditions.ref")).toMatchObject({ claim: "ref", expected: "refs/heads/main", actual: "refs/heads/dev" });

    expect(relationship(e, String(second.id))).toMatchObject({ mode: "shadow", description: "tighter", result: "admits", failed_check: null });
    expect(relationship(e, String(second.id)).would_pin).toEqual({ owner_id: s.claims.repository_owner_id, repository_id: s.claims.repository_id });
    expect(relationship(e, String(other.id))).toMatchObject({ result: "refuses", failed_check: "provider", checks: [{ check: "provider", expected: "rwx", actual: "github", pass: false }] });

    // The shadow relationship admits, but only enforce relationships decide.
    expect(e.exchange).toMatchObject({ ...wire("target_invalid"), relationship_id: null });
    expect(e.exchange.shadow).toEqual([{ relationship_id: second.id, result: "would_admit", reason: null }]);
    await expectRefused(await exchangeToken(await sign({ ...s.claims, jti: uuid() }), { audience: s.projectId }), "target_invalid");
  });

  it("predicts a 200 with the relationship that would mint and the IDs it would pin, then changes nothing: the same token exchanges afterwards", async () => {
    const s = await seedGithub();
    const token = await sign(s.claims);
    const before = await snapshotDb();
    const e = await explain(s.projectId, token);
    expect(e.exchange).toEqual({
      status: 200,
      error: null,
      error_description: null,
      relationship_id: s.relationshipId,
      would_pin: { owner_id: s.claims.repository_owner_id, repository_id: s.claims.repository_id },
      shadow: [],
      retry_after: null,
    });
    expect(check(stage(e, "replay").checks, "unused")).toMatchObject({ actual: "not exchanged before", pass: true });
    // Nothing minted, no jti spent, nothing pinned, nothing written at all.
    expect(await snapshotDb()).toEqual(before);
    expect(await replayRecorded(ISSUERS.github, String(s.claims.jti))).toBe(false);
    expect(await listedRelationship(s.projectId, s.relationshipId)).not.toHaveProperty("repository_id");

    const body = await expectExchanged(token, { audience: s.projectId });
    expect(decodeJwt(body.access_token).trust_relationship_id).toBe(s.relationshipId);
    expect(await listedRelationship(s.projectId, s.relationshipId)).toMatchObject({ repository_id: s.claims.repository_id });
  });

  it("reports a token already exchanged as a replay, read and not written, with the shadow verdicts the exchange records before refusing it", async () => {
    const s = await seedGithub();
    const shadow = await createRelationship(s.projectId, { provider: "github", owner: s.owner, repository: s.repository, mode: "shadow", conditions: { ref: "refs/tags/*" } });
    const token = await sign(s.claims);
    await expectExchanged(token, { audience: s.projectId });
    const before = await snapshotDb();
    const e = await explain(s.projectId, token);
    expect(stage(e, "replay")).toMatchObject({ result: "fail", refusal: wire("token_replayed") });
    expect(hintCodes(check(stage(e, "replay").checks, "unused"))).toEqual(["token_replayed"]);
    expect(relationship(e, s.relationshipId).result).toBe("admits");
    expect(e.exchange).toMatchObject(wire("token_replayed"));
    expect(e.exchange.shadow).toEqual([{ relationship_id: shadow.id, result: "would_refuse", reason: "conditions: ref" }]);
    expect(await snapshotDb()).toEqual(before);
    // A refusal before the relationships are read (here, a jti of the wrong form) records none.
    const early = await explain(s.projectId, await sign({ ...s.claims, jti: "j".repeat(300) }));
    expect(early.exchange).toMatchObject({ ...wire("claims_invalid"), shadow: [] });
  });

  it("shows only this project's relationships, and no routing question, when another tenant names the same repository", async () => {
    const s = await seedGithub();
    const foreign = await createProject();
    const squatter = await createRelationship(foreign.projectId, { provider: "github", owner: s.owner, repository: s.repository });
    const e = await explain(s.projectId, await sign(s.claims));
    expect(e.relationships.map((r) => r.id)).toEqual([s.relationshipId]);
    expect(e.exchange).toMatchObject({ status: 200, relationship_id: s.relationshipId });
    const text = JSON.stringify(e);
    for (const secret of [String(squatter.id), foreign.projectId, foreign.orgId]) expect(text).not.toContain(secret);
  });

  it("never echoes the token itself or its signature", async () => {
    const s = await seedRwx();
    const token = await sign(s.claims);
    const text = JSON.stringify(await explain(s.projectId, token));
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.split(".")[2]!);
  });
});

describe("explain: verification failures", () => {
  it("reports an expired token's expiry and still evaluates the stages and relationships after it", async () => {
    const t = now();
    const s = await seedGithub({ iat: t - 900, nbf: t - 1500, exp: t - 600 }, { conditions: { ref: "refs/heads/dev" } });
    const e = await explain(s.projectId, await sign(s.claims));
    expect(stageResults(e)).toEqual({ format: "pass", header: "pass", issuer: "pass", key: "pass", signature: "pass", times: "fail", claims: "pass", audience: "pass", replay: "pass" });
    expect(stage(e, "times").refusal).toEqual(wire("token_expired"));
    const exp = check(stage(e, "times").checks, "exp");
    expect(exp).toMatchObject({ actual: t - 600, pass: false });
    expect(exp.hints[0]).toMatchObject({ code: "token_expired" });
    expect(exp.hints[0]!.message).toMatch(/expired 6\d\d s ago/);
    // Only exp failed; the other time checks are reported too.
    expect(stage(e, "times").checks.filter((c) => !c.pass).map((c) => c.check)).toEqual(["exp"]);
    expect(relationship(e, s.relationshipId)).toMatchObject({ result: "refuses", failed_check: "conditions" });
    expect(e.exchange).toMatchObject(wire("token_expired"));
  });

  it("stops at a bad signature: unverified claims prove nothing, so no relationship is evaluated", async () => {
    const s = await seedGithub();
    const [h, , sig] = (await sign(s.claims)).split(".");
    const forged = `${h}.${(await sign({ ...s.claims, ref: "refs/heads/evil" })).split(".")[1]}.${sig}`;
    const e = await explain(s.projectId, forged);
    expect(stageResults(e)).toEqual({ format: "pass", header: "pass", issuer: "pass", key: "pass", signature: "fail", times: "skipped", claims: "skipped", audience: "skipped", replay: "skipped" });
    expect(hintCodes(check(stage(e, "signature").checks, "rs256"))).toEqual(["signature_invalid"]);
    expect(e.token).toMatchObject({ signature_verified: false, claims: { ref: "refs/heads/evil" } });
    expect(relationship(e, s.relationshipId)).toMatchObject({ result: "not_evaluated", checks: [], failed_check: null });
    expect(e.exchange).toMatchObject(wire("signature_invalid"));
  });

  it("stops at an unknown issuer, before any key is looked for", async () => {
    const s = await seedGithub();
    const issuer = "https://token.actions.example.com";
    const e = await explain(s.projectId, await signToken(issuer, { ...s.claims, iss: issuer }));
    expect(stageResults(e)).toMatchObject({ format: "pass", header: "pass", issuer: "fail", key: "skipped", signature: "skipped", times: "skipped" });
    expect(check(stage(e, "issuer").checks, "iss")).toMatchObject({ actual: issuer, pass: false });
    expect(e.token.provider).toBeNull();
    expect(e.exchange).toMatchObject(wire("issuer_unknown"));
    expect(await issuerRequests(issuer)).toBe(0);
  });

  it("points out a per-tenant issuer spelled in upper case", async () => {
    const org = uuid();
    const { projectId } = await createProject();
    const issuer = `${ISSUERS.circleci}/org/${org.toUpperCase()}`;
    const e = await explain(projectId, await signToken(issuer, circleciClaims(org, uuid(), { iss: issuer })));
    expect(hintCodes(check(stage(e, "issuer").checks, "iss"))).toEqual(["case_differs"]);
  });

  it("reports a malformed token and one over 16 KiB at the format stage, with the exchange's 400 and 413", async () => {
    const { projectId } = await createProject();
    const malformed = await explain(projectId, "not.a.jwt!");
    expect(stageResults(malformed)).toMatchObject({ format: "fail", header: "skipped" });
    expect(malformed.token).toEqual({ header: null, claims: null, provider: null, signature_verified: false });
    expect(malformed.exchange).toMatchObject(wire("token_malformed"));
    const huge = await explain(projectId, `${"a".repeat(17 * 1024)}.b.c`);
    expect(check(stage(huge, "format").checks, "size")).toMatchObject({ actual: 17 * 1024 + 4, pass: false });
    expect(huge.exchange).toMatchObject({ status: 413, error: "invalid_request" });
  });

  it("reports a header that names its own key and stops there", async () => {
    const s = await seedGithub();
    const e = await explain(s.projectId, await signToken(ISSUERS.github, s.claims, { jku: "https://attacker.example/jwks" }));
    expect(check(stage(e, "header").checks, "forbidden_headers")).toMatchObject({ actual: ["jku"], pass: false });
    expect(stageResults(e)).toMatchObject({ header: "fail", issuer: "skipped" });
    expect(e.exchange).toMatchObject(wire("token_header_forbidden"));
  });

  it("reports keys that cannot be had as the exchange's retryable 503", async () => {
    const issuers = isolatedIssuers("explain-keys");
    const s = await seedGithub({ iss: issuers.GITHUB_ISSUER });
    await setFault(issuers.GITHUB_ISSUER!, "down");
    const e = await explain(s.projectId, await signToken(issuers.GITHUB_ISSUER!, s.claims), issuers);
    expect(stage(e, "key")).toMatchObject({ result: "fail", refusal: { status: 503, error: "temporarily_unavailable" } });
    expect(hintCodes(check(stage(e, "key").checks, "kid"))).toEqual(["keys_unavailable"]);
    expect(e.exchange).toMatchObject({ status: 503, error: "temporarily_unavailable" });
    expect(e.exchange.retry_after).toBeGreaterThan(0);
  });

  it("says the exchange answers 500 when the signing keys are not configured, as it does before looking at the token", async () => {
    const s = await seedRwx();
    const e = await explain(s.projectId, await sign(s.claims), { SIGNING_KEYS: "" });
    expect(relationship(e, s.relationshipId).result).toBe("admits");
    expect(e.exchange).toMatchObject({ status: 500, error: "server_error", error_description: "server error: signing keys are not configured" });
  });
});

describe("explain: GitHub pitfalls", () => {
  it("hints that letter case differs in a condition", async () => {
    const s = await seedGithub({}, { conditions: { ref: "refs/heads/Main" } });
    const e = await explain(s.projectId, await sign(s.claims));
    const ref = check(relationship(e, s.relationshipId).checks, "conditions", "conditions.ref");
    expect(ref).toMatchObject({ expected: "refs/heads/Main", actual: "refs/heads/main", pass: false });
    expect(hintCodes(ref)).toEqual(["case_differs"]);
  });

  it("hints caller vs called workflow when the condition is on workflow_ref but matches job_workflow_ref", async () => {
    const called = "acme/shared-workflows/.github/workflows/deploy.yml@refs/heads/main";
    const s = await seedGithub({ job_workflow_ref: called }, { conditions: { workflow_ref: called } });
    const e = await explain(s.projectId, await sign(s.claims));
    const c = check(relationship(e, s.relationshipId).checks, "conditions", "conditions.workflow_ref");
    expect(c.pass).toBe(false);
    expect(hintCodes(c)).toEqual(["caller_vs_called_workflow"]);
    expect(c.hints[0]!.fix).toBe(`"conditions": { "job_workflow_ref": ${JSON.stringify(called)} }`);
  });

  it("hints caller vs called workflow the other way round", async () => {
    const s = await seedGithub({ job_workflow_ref: "acme/shared/.github/workflows/deploy.yml@refs/heads/main" });
    const caller = String(s.claims.workflow_ref);
    await createRelationship(s.projectId, { provider: "github", owner: s.owner, repository: s.repository, conditions: { job_workflow_ref: caller } });
    const e = await explain(s.projectId, await sign(s.claims));
    const refused = e.relationships.find((r) => r.result === "refuses")!;
    const c = check(refused.checks, "conditions", "conditions.job_workflow_ref");
    expect(hintCodes(c)).toEqual(["caller_vs_called_workflow"]);
    expect(c.hints[0]!.fix).toContain('"workflow_ref"');
  });

  it("hints that a pinned ID differs when the repository was re-created under the same name", async () => {
    const s = await seedGithub();
    await expectExchanged(await sign(s.claims), { audience: s.projectId }); // pins the IDs
    const recreated = await sign({ ...s.claims, jti: uuid(), repository_id: "424242" });
    const e = await explain(s.projectId, recreated);
    const pinned = check(relationship(e, s.relationshipId).checks, "pinned_id", "repository_id");
    expect(pinned).toMatchObject({ expected: s.claims.repository_id, actual: "424242", pass: false });
    expect(hintCodes(pinned)).toEqual(["pinned_id_differs"]);
    expect(pinned.hints[0]!.message).toContain("deleted and created again");
    expect(e.exchange).toMatchObject(wire("target_invalid"));
  });

  it("hints that an owner ID differs when the owner was re-registered", async () => {
    const s = await seedGithub({}, { owner_id: "7" });
    const e = await explain(s.projectId, await sign(s.claims));
    const pinned = check(relationship(e, s.relationshipId).checks, "pinned_id", "owner_id");
    expect(hintCodes(pinned)).toEqual(["pinned_id_differs"]);
  });

  it("hints that pull_request_target is denied by default, with the exact condition that lifts it", async () => {
    const s = await seedGithub({ event_name: "pull_request_target" });
    const e = await explain(s.projectId, await sign(s.claims));
    const denial = check(relationship(e, s.relationshipId).checks, "default_denial");
    expect(denial).toMatchObject({ field: "conditions.event_name", expected: null, actual: "pull_request_target", pass: false });
    expect(hintCodes(denial)).toEqual(["default_denied_event"]);
    expect(denial.hints[0]!.fix).toBe('"conditions": { "event_name": "pull_request_target" }');
    expect(e.exchange).toMatchObject(wire("event_denied"));
  });

  it("says a pattern that happens to match does not lift a default denial", async () => {
    const s = await seedGithub({ event_name: "workflow_run" }, { conditions: { event_name: "*" } });
    const e = await explain(s.projectId, await sign(s.claims));
    const denial = check(relationship(e, s.relationshipId).checks, "default_denial");
    expect(denial).toMatchObject({ expected: "*", actual: "workflow_run", pass: false });
    expect(denial.hints[0]!.message).toContain("a pattern never lifts a default denial");
  });

  it("hints the audience= line of the ID-token request when the token has GitHub's default audience", async () => {
    const s = await seedGithub();
    const e = await explain(s.projectId, await sign({ ...s.claims, aud: `https://github.com/${s.owner}` }));
    expect(stage(e, "audience")).toMatchObject({ result: "fail", refusal: wire("audience_mismatch") });
    const aud = check(stage(e, "audience").checks, "aud");
    expect(aud).toMatchObject({ expected: AUDIENCE, actual: `https://github.com/${s.owner}` });
    expect(hintCodes(aud)).toEqual(["audience_mismatch"]);
    expect(aud.hints[0]!.fix).toContain(`$ACTIONS_ID_TOKEN_REQUEST_URL&audience=${AUDIENCE}`);
    // A foreign audience is reported, and the relationships still say what they would do.
    expect(relationship(e, s.relationshipId).result).toBe("admits");
    expect(e.exchange).toMatchObject(wire("audience_mismatch"));
  });

  it("hints that a claim the condition needs is absent (GitHub's environment)", async () => {
    const s = await seedGithub({}, { conditions: { environment: "production" } });
    const e = await explain(s.projectId, await sign(s.claims));
    const c = check(relationship(e, s.relationshipId).checks, "conditions", "conditions.environment");
    expect(c).toMatchObject({ actual: null, pass: false });
    expect(hintCodes(c)).toEqual(["claim_absent"]);
  });

  it("hints that an enterprise's issuer needs a relationship naming the enterprise", async () => {
    const slug = `ent-${uuid().slice(0, 8)}`;
    const issuer = `${ISSUERS.github}/${slug}`;
    const s = await seedGithub({ iss: issuer, enterprise: slug }, { enterprise: slug });
    await createRelationship(s.projectId, { provider: "github", owner: s.owner, repository: s.repository });
    const e = await explain(s.projectId, await signToken(issuer, s.claims));
    const refused = e.relationships.find((r) => r.id !== s.relationshipId)!;
    expect(refused.failed_check).toBe("enterprise");
    expect(hintCodes(check(refused.checks, "enterprise"))).toEqual(["enterprise_issuer"]);
    expect(relationship(e, s.relationshipId).result).toBe("admits");
  });
});

describe("explain: CircleCI pitfalls", () => {
  it("hints at the default audience without accept_default_audience, and how to ask for ours", async () => {
    const s = await seedCircleci();
    const e = await explain(s.projectId, await sign({ ...s.claims, aud: s.org }));
    expect(stage(e, "audience").result).toBe("pass");
    expect(check(stage(e, "audience").checks, "aud")).toMatchObject({ expected: [AUDIENCE, s.org], actual: s.org });
    const rel = relationship(e, s.relationshipId);
    expect(rel.failed_check).toBe("default_audience");
    const c = check(rel.checks, "default_audience");
    expect(c).toMatchObject({ field: "accept_default_audience", expected: false, actual: s.org, pass: false });
    expect(hintCodes(c)).toEqual(["default_audience_not_accepted"]);
    expect(c.hints[0]!.fix).toBe(`circleci run oidc get --claims '{"aud":"${AUDIENCE}"}'`);
    expect(e.exchange).toMatchObject(wire("target_invalid"));
  });

  it("hints the circleci run oidc get line for any other audience", async () => {
    const s = await seedCircleci({ aud: "https://depot.dev" });
    const e = await explain(s.projectId, await sign(s.claims));
    const aud = check(stage(e, "audience").checks, "aud");
    expect(aud.hints[0]).toMatchObject({ code: "audience_mismatch", fix: `circleci run oidc get --claims '{"aud":"${AUDIENCE}"}'` });
  });

  it("hints that an SSH rerun is denied by default, with the condition that lifts it", async () => {
    const s = await seedCircleci({ "oidc.circleci.com/ssh-rerun": true });
    const e = await explain(s.projectId, await sign(s.claims));
    const denial = check(relationship(e, s.relationshipId).checks, "default_denial");
    expect(denial.hints[0]).toMatchObject({ code: "default_denied_event", fix: '"conditions": { "oidc.circleci.com/ssh-rerun": "true" }' });
    expect(e.exchange).toMatchObject(wire("event_denied"));
  });

  it("shows a fork build's vcs-origin against the condition", async () => {
    const s = await seedCircleci({ "oidc.circleci.com/vcs-origin": "github.com/mallory/app" }, { conditions: { "oidc.circleci.com/vcs-origin": "github.com/acme/app" } });
    const e = await explain(s.projectId, await sign(s.claims));
    expect(check(relationship(e, s.relationshipId).checks, "conditions")).toMatchObject({ expected: "github.com/acme/app", actual: "github.com/mallory/app", pass: false });
  });

  it("says why an organization's keys were not fetched when no relationship of this project names it, and fetches nothing", async () => {
    const org = uuid();
    const { projectId } = await createProject();
    const e = await explain(projectId, await sign(circleciClaims(org, uuid())));
    expect(stageResults(e)).toMatchObject({ issuer: "pass", key: "fail", signature: "skipped", times: "skipped" });
    expect(hintCodes(check(stage(e, "key").checks, "kid"))).toEqual(["issuer_not_named"]);
    expect(e.exchange).toMatchObject(wire("target_invalid"));
    expect(await issuerRequests(`${ISSUERS.circleci}/org/${org}`)).toBe(0);
  });
});

describe("explain: Buildkite pitfalls", () => {
  it("hints --claim organization_id,pipeline_id when the token lacks the pinned UUID claims", async () => {
    const s = await seedBuildkite({}, { organization_uuid: uuid(), pipeline_uuid: uuid() });
    const e = await explain(s.projectId, await sign(s.claims));
    const rel = relationship(e, s.relationshipId);
    expect(rel.failed_check).toBe("pinned_id");
    for (const field of ["organization_uuid", "pipeline_uuid"]) {
      const c = check(rel.checks, "pinned_id", field);
      expect(c).toMatchObject({ actual: null, pass: false });
      expect(hintCodes(c)).toEqual(["buildkite_uuid_claims_missing"]);
      expect(c.hints[0]!.fix).toBe(`buildkite-agent oidc request-token --audience ${AUDIENCE} --claim organization_id,pipeline_id`);
    }
  });

  it("hints that a pinned UUID differs when the pipeline was re-created", async () => {
    const s = await seedBuildkite({ organization_id: uuid(), pipeline_id: uuid() });
    await expectExchanged(await sign(s.claims), { audience: s.projectId }); // pins the UUIDs
    const e = await explain(s.projectId, await sign({ ...s.claims, jti: uuid(), pipeline_id: uuid() }));
    const c = check(relationship(e, s.relationshipId).checks, "pinned_id", "pipeline_uuid");
    expect(c.pass).toBe(false);
    expect(hintCodes(c)).toEqual(["pinned_id_differs"]);
  });

  it("hints the --audience flag for a token with Buildkite's default audience", async () => {
    const s = await seedBuildkite();
    const e = await explain(s.projectId, await sign({ ...s.claims, aud: `https://buildkite.com/${s.claims.organization_slug}` }));
    expect(check(stage(e, "audience").checks, "aud").hints[0]).toMatchObject({ code: "audience_mismatch", fix: `buildkite-agent oidc request-token --audience ${AUDIENCE}` });
  });
});

describe("explain: RWX pitfalls", () => {
  it("hints that the vault subject differs only in letter case", async () => {
    const s = await seedRwx();
    const upper = await createRelationship(s.projectId, { provider: "rwx", subject: String(s.claims.sub).toUpperCase() });
    const e = await explain(s.projectId, await sign(s.claims));
    const c = check(relationship(e, String(upper.id)).checks, "identity");
    expect(c).toMatchObject({ field: "subject", pass: false });
    expect(hintCodes(c)).toEqual(["case_differs"]);
  });

  it("hints that the audience is set on the vault's token", async () => {
    const s = await seedRwx({ aud: "https://cloud.rwx.com" });
    const e = await explain(s.projectId, await sign(s.claims));
    const hint = check(stage(e, "audience").checks, "aud").hints[0]!;
    expect(hint).toMatchObject({ code: "audience_mismatch", fix: `audience: ${AUDIENCE}` });
    expect(hint.message).toContain("vault");
  });
});

describe("explain agrees with the exchange", () => {
  it("predicts /token's status, error and description for every kind of verification refusal, and for admitted tokens", async () => {
    const t = now();
    const s = await seedGithub();
    await expectExchanged(await sign({ ...s.claims, jti: uuid() }), { audience: s.projectId }); // keys cached, IDs pinned
    const [h, p] = (await sign(s.claims)).split(".");
    const variants: Record<string, () => Promise<string>> = {
      admitted: () => sign({ ...s.claims, jti: uuid() }),
      expired: () => sign({ ...s.claims, jti: uuid(), iat: t - 900, nbf: t - 1500, exp: t - 600 }),
      "issued in the future": () => sign({ ...s.claims, jti: uuid(), iat: t + 600, nbf: t, exp: t + 900 }),
      "not yet valid": () => sign({ ...s.claims, jti: uuid(), nbf: t + 600 }),
      "too long-lived": () => sign({ ...s.claims, jti: uuid(), exp: t + 7200 }),
      "too old": () => sign({ ...s.claims, jti: uuid(), iat: t - 4000, nbf: t - 4000, exp: t + 100 }),
      "exp not a number": () => sign({ ...s.claims, jti: uuid(), exp: "soon" }),
      "exp before iat": () => sign({ ...s.claims, jti: uuid(), iat: t, exp: t - 1 }),
      "another audience": () => sign({ ...s.claims, jti: uuid(), aud: "https://elsewhere.example" }),
      "two audiences": () => sign({ ...s.claims, jti: uuid(), aud: [AUDIENCE, "https://elsewhere.example"] }),
      "a jti too long": () => sign({ ...s.claims, jti: "j".repeat(300) }),
      "a missing claim": () => sign({ ...s.claims, jti: uuid(), repository_owner_id: undefined }),
      "expired and for another audience": () => sign({ ...s.claims, jti: uuid(), iat: t - 900, nbf: t - 1500, exp: t - 600, aud: "x" }),
      "a pinned ID differing": () => sign({ ...s.claims, jti: uuid(), repository_id: "1" }),
      "a denied event": () => sign({ ...s.claims, jti: uuid(), event_name: "workflow_run" }),
      "a bad signature": async () => `${h}.${p}.${(await sign({ ...s.claims, jti: uuid() })).split(".")[2]}`,
      "alg none": async () => `${btoa(JSON.stringify({ alg: "none", kid: "k" })).replace(/=+$/, "")}.${p}.`,
    };
    for (const [name, make] of Object.entries(variants)) {
      const token = await make();
      const predicted = (await explain(s.projectId, token)).exchange;
      const response = await exchangeWithEnv({}, token, { audience: s.projectId });
      const body = (await response.json()) as { error?: string; error_description?: string };
      expect({ status: response.status, error: body.error ?? null, error_description: body.error_description ?? null }, name).toEqual({
        status: predicted.status,
        error: predicted.error,
        error_description: predicted.error_description,
      });
    }
  });

  it("predicts the exchange's answer for each provider's admitted and refused tokens", async () => {
    const cases = [
      await (async () => { const s = await seedGithub({ ref: "refs/heads/x" }, { conditions: { ref: "refs/heads/main" } }); return { s, token: await sign(s.claims) }; })(),
      await (async () => { const s = await seedGithub(); return { s, token: await sign(s.claims) }; })(),
      await (async () => { const s = await seedCircleci(); return { s, token: await sign({ ...s.claims, aud: s.org }) }; })(),
      await (async () => { const s = await seedBuildkite({}, { conditions: { build_branch: "main" } }); return { s, token: await sign(s.claims) }; })(),
      await (async () => { const s = await seedRwx({ exp: now() - 300 }); return { s, token: await sign(s.claims) }; })(),
    ];
    for (const { s, token } of cases) {
      const predicted = (await explain(s.projectId, token)).exchange;
      const response = await exchangeWithEnv({}, token, { audience: s.projectId });
      const body = (await response.json()) as { error?: string; error_description?: string };
      expect({ status: response.status, error: body.error ?? null, error_description: body.error_description ?? null }).toEqual({
        status: predicted.status,
        error: predicted.error,
        error_description: predicted.error_description,
      });
    }
  });
});
