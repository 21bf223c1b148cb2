/**
 * A pull token dies with the credential it was made from (SPEC §4), at once: at
 * `/introspect` (`{"active":false}`) and at the admin API (401 where a live pull token
 * gets its usual 403). One case per parent kind and per way of ending that parent, each
 * with a sibling that must stay alive.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { client, faultyDb } from "../robustness/support";
import { admin, call, createProject, decodeJwt, expectError } from "../support/api";
import { addMember, createStaticToken, createUser, introspect, mintJobToken, mintPullToken } from "./helpers";

/** A live pull token reads as active and gets 403 on an `api` route (it holds only `registry:pull`). */
async function expectAlive(pullToken: string, projectId: string) {
  expect((await introspect(pullToken)).active).toBe(true);
  await expectError(await admin("GET", `/v1/projects/${projectId}`, undefined, pullToken), 403, "insufficient_scope");
}

async function expectDead(pullToken: string, projectId: string) {
  expect(await introspect(pullToken)).toEqual({ active: false });
  const refused = await admin("GET", `/v1/projects/${projectId}`, undefined, pullToken);
  expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer/);
  await expectError(refused, 401, "invalid_token");
}

const revoke = (token: string) => call("/revoke", { method: "POST", headers: { authorization: `Bearer ${token}` } });

describe("a pull token made from a job token", () => {
  async function seed() {
    const { orgId, projectId } = await createProject();
    const job = await mintJobToken(projectId);
    const sibling = await mintJobToken(projectId); // another job, through another relationship
    const pull = await mintPullToken(projectId, job.token);
    const siblingPull = await mintPullToken(projectId, sibling.token);
    await expectAlive(pull.token, projectId);
    return { orgId, projectId, job, sibling, pull: pull.token, siblingPull: siblingPull.token };
  }

  it("names its parent: client_id is the job's relationship, parent_jti the job token's jti", async () => {
    const { job, pull } = await seed();
    const claims = decodeJwt(pull);
    expect(claims.client_id).toBe(job.relationshipId);
    expect(claims.parent_jti).toBe(decodeJwt(job.token).jti);
    expect(claims.trust_relationship_id).toBeUndefined();
  });

  it("is inactive once the job token is revoked", async () => {
    const { projectId, job, pull, siblingPull } = await seed();
    expect((await revoke(job.token)).status).toBe(200);
    await expectDead(pull, projectId);
    await expectAlive(siblingPull, projectId);
  });

  it("is inactive once the job's trust relationship is deleted", async () => {
    const { projectId, job, pull, siblingPull } = await seed();
    expect((await admin("DELETE", `/v1/projects/${projectId}/trust-relationships/${job.relationshipId}`)).status).toBe(204);
    await expectDead(pull, projectId);
    await expectAlive(siblingPull, projectId);
  });

  it("is inactive once the job's project is deleted", async () => {
    const { projectId, pull, siblingPull } = await seed();
    const other = await createProject();
    const otherPull = await mintPullToken(other.projectId, (await mintJobToken(other.projectId)).token);
    expect((await admin("DELETE", `/v1/projects/${projectId}`)).status).toBe(204);
    expect(await introspect(pull)).toEqual({ active: false });
    expect(await introspect(siblingPull)).toEqual({ active: false });
    // The project is gone, so its path is 404 to anyone: the dead token is refused before that.
    await expectError(await admin("GET", `/v1/projects/${other.projectId}`, undefined, pull), 401, "invalid_token");
    await expectAlive(otherPull.token, other.projectId);
  });
});

describe("a pull token made from a static token", () => {
  it("made from a project token is inactive once that token is deleted", async () => {
    const { projectId } = await createProject();
    const parent = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    const sibling = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    const pull = (await mintPullToken(projectId, parent.token)).token;
    const siblingPull = (await mintPullToken(projectId, sibling.token)).token;
    expect(decodeJwt(pull).client_id).toBe(parent.id);
    await expectAlive(pull, projectId);
    expect((await admin("DELETE", `/v1/projects/${projectId}/tokens/${parent.id}`)).status).toBe(204);
    await expectDead(pull, projectId);
    await expectAlive(siblingPull, projectId);
  });

  it("made from a project token is inactive once the project is deleted", async () => {
    const { orgId, projectId } = await createProject();
    const parent = await createStaticToken(`/v1/projects/${projectId}/tokens`);
    const pull = (await mintPullToken(projectId, parent.token)).token;
    const other = await createProject(orgId);
    const otherPull = (await mintPullToken(other.projectId, (await createStaticToken(`/v1/projects/${other.projectId}/tokens`)).token)).token;
    expect((await admin("DELETE", `/v1/projects/${projectId}`)).status).toBe(204);
    expect(await introspect(pull)).toEqual({ active: false });
    await expectError(await admin("GET", `/v1/projects/${other.projectId}`, undefined, pull), 401, "invalid_token");
    await expectAlive(otherPull, other.projectId);
  });

  it("made from an organization token is inactive once that token is deleted", async () => {
    const { orgId, projectId } = await createProject();
    const parent = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    const sibling = await createStaticToken(`/v1/orgs/${orgId}/tokens`);
    const pull = (await mintPullToken(projectId, parent.token)).token;
    const siblingPull = (await mintPullToken(projectId, sibling.token)).token;
    expect(decodeJwt(pull).client_id).toBe(parent.id);
    await expectAlive(pull, projectId);
    expect((await admin("DELETE", `/v1/orgs/${orgId}/tokens/${parent.id}`)).status).toBe(204);
    await expectDead(pull, projectId);
    await expectAlive(siblingPull, projectId);
  });

  async function member(orgId: string, role: "admin" | "member" = "member") {
    const userId = await createUser();
    await addMember(orgId, userId, role);
    const token = await createStaticToken(`/v1/users/${userId}/tokens`);
    return { userId, token };
  }

  it("made from a user token is inactive once that token is deleted", async () => {
    const { orgId, projectId } = await createProject();
    const { userId, token: parent } = await member(orgId);
    const sibling = await createStaticToken(`/v1/users/${userId}/tokens`);
    const pull = (await mintPullToken(projectId, parent.token)).token;
    const siblingPull = (await mintPullToken(projectId, sibling.token)).token;
    expect(decodeJwt(pull)).toMatchObject({ client_id: parent.id, act: { sub: `user:${userId}` } });
    await expectAlive(pull, projectId);
    expect((await admin("DELETE", `/v1/users/${userId}/tokens/${parent.id}`)).status).toBe(204);
    await expectDead(pull, projectId);
    await expectAlive(siblingPull, projectId);
  });

  it("made from a user token is inactive once the user is removed from the project's organization", async () => {
    const { orgId, projectId } = await createProject();
    const leaving = await member(orgId, "admin");
    const staying = await member(orgId);
    const pull = (await mintPullToken(projectId, leaving.token.token)).token;
    const siblingPull = (await mintPullToken(projectId, staying.token.token)).token;
    await expectAlive(pull, projectId);
    expect((await admin("DELETE", `/v1/orgs/${orgId}/members/${leaving.userId}`)).status).toBe(204);
    await expectDead(pull, projectId);
    await expectAlive(siblingPull, projectId);
  });

  it("made from a user token stays dead when the user is added back to the organization", async () => {
    const { orgId, projectId } = await createProject();
    const { userId, token } = await member(orgId);
    const pull = (await mintPullToken(projectId, token.token)).token;
    expect((await admin("DELETE", `/v1/orgs/${orgId}/members/${userId}`)).status).toBe(204);
    // A membership is stamped in whole seconds: re-adding it in the same second as the mint
    // could not be told apart from the original one, so wait for the clock to move on.
    const minted = Number(decodeJwt(pull).iat);
    while (Math.floor(Date.now() / 1000) <= minted) await new Promise((resolve) => setTimeout(resolve, 50));
    await addMember(orgId, userId, "member");
    await expectDead(pull, projectId);
    // The user's token itself works again, and so does a pull token made now.
    await expectAlive((await mintPullToken(projectId, token.token)).token, projectId);
  });

  it("made from a user token is not held to the user's membership of another organization", async () => {
    const { orgId, projectId } = await createProject();
    const other = await createProject();
    const { userId, token } = await member(orgId);
    await addMember(other.orgId, userId, "member");
    const pull = (await mintPullToken(projectId, token.token)).token;
    expect((await admin("DELETE", `/v1/orgs/${other.orgId}/members/${userId}`)).status).toBe(204);
    await expectAlive(pull, projectId);
  });
});

describe("a pull token made by the operator", () => {
  it("names the operator as client_id, and dies with its project only", async () => {
    const { projectId } = await createProject();
    const pull = (await mintPullToken(projectId, env.ADMIN_TOKEN)).token;
    expect(decodeJwt(pull)).toMatchObject({ client_id: "operator", act: { sub: "operator" } });
    await expectAlive(pull, projectId);
    expect((await admin("DELETE", `/v1/projects/${projectId}`)).status).toBe(204);
    expect(await introspect(pull)).toEqual({ active: false });
  });
});

describe("the cost of the parent check", () => {
  it("is nothing extra: introspecting or presenting a pull token of any parent is one D1 query", async () => {
    const { orgId, projectId } = await createProject();
    const userId = await createUser();
    await addMember(orgId, userId, "member");
    const parents = [
      (await mintJobToken(projectId)).token,
      (await createStaticToken(`/v1/projects/${projectId}/tokens`)).token,
      (await createStaticToken(`/v1/orgs/${orgId}/tokens`)).token,
      (await createStaticToken(`/v1/users/${userId}/tokens`)).token,
      env.ADMIN_TOKEN,
    ];
    let statements = 0;
    const api = client({ DB: faultyDb(env.DB, () => (statements++, false)) });
    for (const parent of parents) {
      const pull = (await mintPullToken(projectId, parent)).token;
      statements = 0;
      const response = await api.fetch("/introspect", {
        method: "POST",
        headers: { authorization: `Bearer ${env.INTROSPECTION_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: pull }),
      });
      expect(((await response.json()) as { active: boolean }).active).toBe(true);
      expect(statements).toBe(1);
      statements = 0;
      // At the admin API: the standing query, then nothing else before the 403.
      await expectError(await api.admin("GET", `/v1/projects/${projectId}`, undefined, pull), 403, "insufficient_scope");
      expect(statements).toBe(1);
    }
  });
});
