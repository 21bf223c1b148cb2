/**
 * Admin-change events (issue 10 §4): every mutating verb of the admin API records who (the
 * operator, or a credential by its public ID), what (action, resource ID, a relationship's
 * whole state before or after) and when, in the changed resource's organization; a user's
 * own resources belong to none. Never a token's plaintext, hash or preview. A refused
 * request records nothing.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashStaticToken } from "../../src/tokens/static-tokens";
import { admin, expectError } from "../support/api";
import { githubClaims, ISSUERS, signToken } from "../support/issuer";
import { addMember, createStaticToken, createUser, json, mintJobToken } from "../tenancy/helpers";
import { client } from "../robustness/support";
import { recordingQueue, waitForAudit } from "./support";
import { expectExchanged, listedRelationship, seedGithub } from "../support/exchange-seed";
import { post as explainPost } from "../explain/support";

const storedWithoutOrg = async (requestId: string) =>
  (await env.DB.prepare("SELECT org_id, body FROM audit_events WHERE json_extract(body, '$.request_id') = ?").bind(requestId).all<{ org_id: string | null; body: string }>()).results;

/** Waits for the event of one request, and returns it. */
async function eventOf(orgId: string, response: Response) {
  const requestId = response.headers.get("x-request-id")!;
  const events = await waitForAudit(orgId, (e) => e.some((x) => x.request_id === requestId));
  return events.find((e) => e.request_id === requestId)!;
}

describe("admin changes", () => {
  it("records every mutating verb with its actor, resource, before/after, in its organization", async () => {
    // organization.create, by the operator
    const orgResponse = await admin("POST", "/v1/orgs", { name: "audited" });
    const org = await json<{ id: string; name: string; created_at: number }>(orgResponse.clone(), 201);
    expect(await eventOf(org.id, orgResponse)).toMatchObject({
      kind: "admin",
      action: "organization.create",
      actor: { type: "operator" },
      org_id: org.id,
      project_id: null,
      resource_id: org.id,
      before: null,
      after: org,
    });

    // project.create, by the operator
    const projectResponse = await admin("POST", `/v1/orgs/${org.id}/projects`, { name: "app" });
    const project = await json<{ id: string }>(projectResponse.clone(), 201);
    expect(await eventOf(org.id, projectResponse)).toMatchObject({ action: "project.create", project_id: project.id, resource_id: project.id, after: project });

    // user.create (no organization), member.add, a user token (no organization)
    const userResponse = await admin("POST", "/v1/users", { name: "Ada", email: `ada-${crypto.randomUUID()}@example.com` });
    const user = await json<{ id: string }>(userResponse.clone(), 201);
    const memberResponse = await admin("POST", `/v1/orgs/${org.id}/members`, { user_id: user.id, role: "admin" });
    expect(memberResponse.status).toBe(201);
    expect(await eventOf(org.id, memberResponse)).toMatchObject({ action: "member.add", actor: { type: "operator" }, resource_id: user.id, after: { org_id: org.id, user_id: user.id, role: "admin" } });
    const userToken = await createStaticToken(`/v1/users/${user.id}/tokens`, env.ADMIN_TOKEN, "laptop");

    // trust_relationship.create by the admin member's user token
    const claims = githubClaims();
    const [owner, repository] = String(claims.repository).split("/");
    const relResponse = await admin("POST", `/v1/projects/${project.id}/trust-relationships`, { provider: "github", owner, repository }, userToken.token);
    const rel = await json<{ id: string }>(relResponse.clone(), 201);
    expect(await eventOf(org.id, relResponse)).toMatchObject({
      action: "trust_relationship.create",
      actor: { type: "user", user_id: user.id, token_id: userToken.id },
      project_id: project.id,
      resource_id: rel.id,
      before: null,
      after: rel,
    });

    // static_token.create / .delete of the organization and the project
    const orgTokenResponse = await admin("POST", `/v1/orgs/${org.id}/tokens`, { description: "deploys" });
    const orgToken = await json<{ id: string; token: string; preview: string }>(orgTokenResponse.clone(), 201);
    expect(await eventOf(org.id, orgTokenResponse)).toMatchObject({
      action: "static_token.create",
      resource_id: orgToken.id,
      project_id: null,
      after: { id: orgToken.id, owner: "organization", description: "deploys" },
    });
    const projectTokenResponse = await admin("POST", `/v1/projects/${project.id}/tokens`, { description: "ci" }, orgToken.token);
    const projectToken = await json<{ id: string; token: string; preview: string }>(projectTokenResponse.clone(), 201);
    expect(await eventOf(org.id, projectTokenResponse)).toMatchObject({
      action: "static_token.create",
      actor: { type: "organization", token_id: orgToken.id },
      project_id: project.id,
      after: { id: projectToken.id, owner: "project", description: "ci" },
    });

    // pull_token.create by the project token and by a job token
    const pullResponse = await admin("POST", `/v1/projects/${project.id}/pull-tokens`, undefined, projectToken.token);
    const pull = await json<{ token: string; expires_at: number }>(pullResponse.clone(), 201);
    const pullEvent = await eventOf(org.id, pullResponse);
    expect(pullEvent).toMatchObject({ action: "pull_token.create", actor: { type: "project", token_id: projectToken.id }, after: { expires_at: pull.expires_at } });
    expect(pullEvent.resource_id).toBe(JSON.parse(atob(pull.token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).jti);
    const job = await mintJobToken(project.id);
    const jobPull = await admin("POST", `/v1/projects/${project.id}/pull-tokens`, undefined, job.token);
    expect(jobPull.status).toBe(201);
    const jobJti = JSON.parse(atob(job.token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).jti;
    expect((await eventOf(org.id, jobPull)).actor).toEqual({ type: "oidc", jti: jobJti });

    // trust_relationship.delete by the organization token: `before` is the relationship as it was, pinned IDs included
    await expectExchanged(await signToken(ISSUERS.github, claims), { audience: project.id });
    const pinned = await listedRelationship(project.id, rel.id);
    expect(pinned.repository_id).toBe(claims.repository_id);
    const relDelete = await admin("DELETE", `/v1/projects/${project.id}/trust-relationships/${rel.id}`, undefined, orgToken.token);
    expect(relDelete.status).toBe(204);
    expect(await eventOf(org.id, relDelete)).toMatchObject({ action: "trust_relationship.delete", resource_id: rel.id, before: pinned, after: null });

    const tokenDelete = await admin("DELETE", `/v1/projects/${project.id}/tokens/${projectToken.id}`);
    expect(tokenDelete.status).toBe(204);
    expect(await eventOf(org.id, tokenDelete)).toMatchObject({ action: "static_token.delete", resource_id: projectToken.id, before: { id: projectToken.id, owner: "project" } });

    const memberDelete = await admin("DELETE", `/v1/orgs/${org.id}/members/${user.id}`, undefined, orgToken.token);
    expect(memberDelete.status).toBe(204);
    expect(await eventOf(org.id, memberDelete)).toMatchObject({ action: "member.remove", resource_id: user.id, actor: { type: "organization", token_id: orgToken.id } });

    const projectDelete = await admin("DELETE", `/v1/projects/${project.id}`);
    expect(projectDelete.status).toBe(204);
    expect(await eventOf(org.id, projectDelete)).toMatchObject({ action: "project.delete", project_id: project.id, before: project, after: null });

    // A user's own resources belong to no organization: stored for the operator, in no listing.
    const userTokenDelete = await admin("DELETE", `/v1/users/${user.id}/tokens/${userToken.id}`, undefined, userToken.token);
    expect(userTokenDelete.status).toBe(204);
    for (const response of [userResponse, userTokenDelete]) {
      const requestId = response.headers.get("x-request-id")!;
      await waitFor(async () => (await storedWithoutOrg(requestId)).length === 1);
      expect((await storedWithoutOrg(requestId))[0]!.org_id).toBeNull();
    }
    // (mintJobToken made a relationship of its own and exchanged through it.)
    const listing = await waitForAudit(org.id, (e) => e.length >= 15);
    expect(listing.map((e) => e.action ?? e.outcome).sort()).toEqual(
      [
        "organization.create", "project.create", "member.add", "trust_relationship.create", "trust_relationship.create",
        "static_token.create", "static_token.create",
        "pull_token.create", "pull_token.create", "minted", "minted", "trust_relationship.delete", "static_token.delete", "member.remove",
        "project.delete",
      ].sort(),
    );

    // Never a token's plaintext, hash or preview, anywhere in the log.
    const { results } = await env.DB.prepare("SELECT body FROM audit_events").all<{ body: string }>();
    const text = results.map((r) => r.body).join("\n");
    for (const t of [userToken, orgToken, projectToken]) {
      for (const secret of [t.token, await hashStaticToken(t.token, env.TOKEN_HASH_SALT), t.preview]) expect(text).not.toContain(secret);
    }
    for (const token of [pull.token, job.token]) expect(text).not.toContain(token.split(".")[2]!);
  }, 60_000);

  it("records nothing for a refused admin request", async () => {
    const queue = recordingQueue();
    const api = client({ AUDIT_QUEUE: queue });
    const orgId = ((await (await api.admin("POST", "/v1/orgs", { name: "x" })).json()) as { id: string }).id;
    expect(queue.sent.map((e) => e.action)).toEqual(["organization.create"]);
    const memberUser = await createUser();
    await addMember(orgId, memberUser, "member");
    const memberToken = await createStaticToken(`/v1/users/${memberUser}/tokens`);
    await expectError(await api.admin("POST", `/v1/orgs/${orgId}/projects`, { name: "nope" }, memberToken.token), 403, "insufficient_scope");
    await expectError(await api.admin("POST", `/v1/orgs/${orgId}/projects`, { name: "" }), 400, "invalid_request");
    await expectError(await api.admin("DELETE", `/v1/projects/prj_${"0".repeat(24)}`), 404, "not_found");
    await expectError(await api.admin("POST", "/v1/users", { name: "x", email: "x@example.com" }, memberToken.token), 403, "insufficient_scope");
    expect(queue.sent.map((e) => e.action)).toEqual(["organization.create"]);
  });

  it("records each explanation (who asked, what the exchange would answer), never the token or its claims", async () => {
    const s = await seedGithub({ ref: "refs/heads/dev" }, { conditions: { ref: "refs/heads/main" } });
    const token = await signToken(s.claims.iss, s.claims);
    const response = await explainPost(`/v1/projects/${s.projectId}/explain`, { subject_token: token });
    expect(response.status).toBe(200);
    const event = await eventOf(s.orgId, response);
    expect(event).toEqual({
      id: expect.any(String),
      time: expect.any(Number),
      request_id: response.headers.get("x-request-id"),
      kind: "admin",
      org_id: s.orgId,
      project_id: s.projectId,
      actor: { type: "operator" },
      action: "project.explain",
      resource_id: s.projectId,
      before: null,
      after: { provider: "github", signature_verified: true, status: 400, error: "invalid_target", relationship_id: null },
    });
    const stored = JSON.stringify(await storedWithoutOrg(event.request_id));
    for (const secret of [token, token.split(".")[2]!, String(s.claims.ref), String(s.claims.sha)]) expect(stored).not.toContain(secret);
    // A refused explain (a member of the organization is not its admin) records nothing.
    const queue = recordingQueue();
    const member = await createUser();
    await addMember(s.orgId, member, "member");
    const memberToken = await createStaticToken(`/v1/users/${member}/tokens`);
    const refused = await explainPost(`/v1/projects/${s.projectId}/explain`, { subject_token: token }, memberToken.token, { AUDIT_QUEUE: queue });
    await expectError(refused, 403, "insufficient_scope");
    expect(queue.sent).toEqual([]);
  });

  it("does not fail an admin change when the queue does", async () => {
    const response = await client({ AUDIT_QUEUE: recordingQueue("reject") }).admin("POST", "/v1/orgs", { name: "still-created" });
    const org = await json<{ id: string }>(response, 201);
    expect((await admin("GET", `/v1/orgs/${org.id}`)).status).toBe(200);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition never held");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
