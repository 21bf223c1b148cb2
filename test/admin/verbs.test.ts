/**
 * The admin verbs as a door other than HTTP calls them (the settings page will): a
 * principal identified from a presented secret, a context of narrow dependencies, typed
 * input validated with the verb's own schema. Boundary tests against real D1: the verbs
 * decide access themselves, read their input only once the principal may act, change
 * nothing when they refuse, and report what each change was, never a secret.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { identifyPrincipal, type Principal } from "../../src/access/principal";
import type { AdminChange } from "../../src/admin/changes";
import type { AdminContext } from "../../src/admin/context";
import { createOrganization } from "../../src/admin/organizations";
import { createProject, deleteProject, listProjects, NewProject } from "../../src/admin/projects";
import { createPullToken, NewPullToken } from "../../src/admin/pull-tokens";
import { createStaticToken, deleteStaticToken, listStaticTokens, NewStaticToken } from "../../src/admin/static-tokens";
import { createTrustRelationship, deleteTrustRelationship, listTrustRelationships, parseRelationship } from "../../src/admin/trust-relationships";
import { addMember, createUser, NewMember, NewUser, removeMember } from "../../src/admin/users";
import { configFrom } from "../../src/config";
import { StsError, toWire, type Reason } from "../../src/errors";
import { hashStaticToken } from "../../src/tokens/static-tokens";
import { validate } from "../../src/validate";
import { admin, createProject as seedProject, expectError } from "../support/api";
import { expectExchanged, listedRelationship, seedGithub } from "../support/exchange-seed";
import { signToken, ISSUERS } from "../support/issuer";
import * as seed from "../tenancy/helpers";

const now = () => Math.floor(Date.now() / 1000);

/** A context as a door builds it, for a principal it has identified. */
function contextFor(principal: Principal, noteTarget?: AdminContext["noteTarget"]): AdminContext {
  return { db: env.DB, config: configFrom(env), principal, now: now(), waitUntil: () => undefined, noteTarget };
}

/** Identifies a presented secret the way every door does, then builds the context. */
async function contextOf(secret: string, noteTarget?: AdminContext["noteTarget"]): Promise<AdminContext> {
  const principal = await identifyPrincipal({ db: env.DB, config: configFrom(env), now: now() }, secret);
  if (typeof principal === "string") throw new Error(`not a principal: ${principal}`);
  return contextFor(principal, noteTarget);
}

async function refusal(promise: Promise<unknown>): Promise<Reason> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StsError);
  return (error as StsError).reason;
}

/** An organization with an admin member and a plain member, each holding a user token. */
async function seedOrgWithPeople() {
  const { orgId, projectId } = await seedProject();
  const adminUser = await seed.createUser();
  const memberUser = await seed.createUser();
  await seed.addMember(orgId, adminUser, "admin");
  await seed.addMember(orgId, memberUser, "member");
  const adminToken = (await seed.createStaticToken(`/v1/users/${adminUser}/tokens`)).token;
  const memberToken = (await seed.createStaticToken(`/v1/users/${memberUser}/tokens`)).token;
  return { orgId, projectId, adminToken, memberToken };
}

describe("admin verbs, called without HTTP", () => {
  it("creates through the domain what the HTTP API then lists, for the principal a secret identified", async () => {
    const { orgId, adminToken } = await seedOrgWithPeople();
    const ctx = await contextOf(adminToken);

    const { result: project } = await createProject(ctx, orgId, validate(NewProject, { name: "from a form" }));
    const { result: relationship } = await createTrustRelationship(
      ctx,
      project.id,
      parseRelationship({ provider: "github", owner: "acme", repository: "app", description: "deploys" }),
    );
    const { result: token } = await createStaticToken(ctx, { kind: "project", projectId: project.id }, validate(NewStaticToken, {}));

    const projects = await seed.json<{ projects: { id: string }[] }>(await admin("GET", `/v1/orgs/${orgId}/projects`, undefined, adminToken), 200);
    expect(projects.projects.map((p) => p.id)).toContain(project.id);
    expect(await listedRelationship(project.id, relationship.id)).toEqual(relationship);
    const tokens = await seed.json<{ tokens: unknown[] }>(await admin("GET", `/v1/projects/${project.id}/tokens`, undefined, adminToken), 200);
    expect(tokens.tokens).toEqual([{ id: token.id, preview: token.preview, description: "", created_at: token.created_at, last_used_at: null }]);
    // The plaintext the domain returned is a working credential of that project.
    expect((await admin("POST", `/v1/projects/${project.id}/pull-tokens`, undefined, token.token)).status).toBe(201);
  });

  it("refuses a member's change with insufficient_scope, never reads its input, and writes nothing", async () => {
    const { orgId, projectId, memberToken } = await seedOrgWithPeople();
    const ctx = await contextOf(memberToken);
    const read = vi.fn(async (): Promise<never> => {
      throw new Error("input read");
    });
    const before = await listProjects(ctx, orgId);

    expect(await refusal(createProject(ctx, orgId, read))).toBe("insufficient_scope");
    expect(await refusal(createTrustRelationship(ctx, projectId, read))).toBe("insufficient_scope");
    expect(await refusal(createStaticToken(ctx, { kind: "organization", orgId }, read))).toBe("insufficient_scope");
    expect(await refusal(deleteProject(ctx, projectId))).toBe("insufficient_scope");

    expect(read).not.toHaveBeenCalled();
    expect(await listProjects(ctx, orgId)).toEqual(before);
    expect(await listTrustRelationships(ctx, projectId)).toEqual([]);
  });

  it("answers another organization's resources as not found, and names no target for them", async () => {
    const mine = await seedOrgWithPeople();
    const theirs = await seedProject();
    const noteTarget = vi.fn();
    const ctx = await contextOf(mine.adminToken, noteTarget);

    expect(await refusal(listProjects(ctx, theirs.orgId))).toBe("not_found");
    expect(await refusal(listTrustRelationships(ctx, theirs.projectId))).toBe("not_found");
    expect(await refusal(createPullToken(ctx, theirs.projectId, validate(NewPullToken, {})))).toBe("not_found");
    expect(await refusal(listProjects(ctx, "not-an-id"))).toBe("not_found");
    expect(noteTarget).not.toHaveBeenCalled();

    await listTrustRelationships(ctx, mine.projectId);
    expect(noteTarget).toHaveBeenCalledWith({ orgId: mine.orgId, projectId: mine.projectId });
  });

  it("refuses operator-only verbs to everyone else before reading anything", async () => {
    const { adminToken } = await seedOrgWithPeople();
    const ctx = await contextOf(adminToken);
    const read = vi.fn(async (): Promise<never> => {
      throw new Error("input read");
    });
    expect(await refusal(createOrganization(ctx, read))).toBe("insufficient_scope");
    expect(await refusal(createUser(ctx, read))).toBe("insufficient_scope");
    expect(read).not.toHaveBeenCalled();
  });
});

describe("what admin verbs changed", () => {
  it("reports every mutating verb's change, naming its organization, and never a token's plaintext or hash", async () => {
    const ctx = await contextOf(env.ADMIN_TOKEN);
    const changes: AdminChange[] = [];
    const keep = async <T>(done: Promise<{ result: T; change: AdminChange }>): Promise<T> => {
      const { result, change } = await done;
      changes.push(change);
      return result;
    };

    const org = await keep(createOrganization(ctx, { name: "audited" }));
    const project = await keep(createProject(ctx, org.id, { name: "app" }));
    const user = await keep(createUser(ctx, validate(NewUser, { name: "Ada", email: `Ada-${crypto.randomUUID()}@Example.com` })));
    await keep(addMember(ctx, org.id, validate(NewMember, { user_id: user.id, role: "admin" })));
    const relationship = await keep(createTrustRelationship(ctx, project.id, parseRelationship({ provider: "rwx", subject: "mint:x:vault" })));
    const token = await keep(createStaticToken(ctx, { kind: "organization", orgId: org.id }, { description: "ci" }));
    const pull = await keep(createPullToken(ctx, project.id, { expires_in: 600 }));
    await keep(deleteStaticToken(ctx, { kind: "organization", orgId: org.id }, token.id));
    await keep(deleteTrustRelationship(ctx, project.id, relationship.id));
    await keep(removeMember(ctx, org.id, user.id));
    await keep(deleteProject(ctx, project.id));

    expect(changes.map((c) => c.action)).toEqual([
      "organization.create",
      "project.create",
      "user.create",
      "member.add",
      "trust_relationship.create",
      "static_token.create",
      "pull_token.create",
      "static_token.delete",
      "trust_relationship.delete",
      "member.remove",
      "project.delete",
    ]);
    for (const change of changes) if (change.action !== "user.create") expect(change).toMatchObject({ orgId: org.id });
    expect(changes[1]).toEqual({ action: "project.create", orgId: org.id, projectId: project.id, after: project });
    expect(changes[2]).toMatchObject({ action: "user.create", userId: user.id, after: { email: user.email } });
    expect(changes[5]).toEqual({ action: "static_token.create", owner: "organization", orgId: org.id, tokenId: token.id, description: "ci" });
    expect(changes[10]).toEqual({ action: "project.delete", orgId: org.id, projectId: project.id, before: project });

    const recorded = JSON.stringify(changes);
    expect(recorded).not.toContain(token.token);
    expect(recorded).not.toContain(await hashStaticToken(token.token, env.TOKEN_HASH_SALT));
    expect(recorded).not.toContain(pull.token);
  });

  it("records a created relationship as the API renders it, and a deleted one as it was stored, pinned IDs included", async () => {
    const seeded = await seedGithub();
    await expectExchanged(await signToken(ISSUERS.github, seeded.claims), { audience: seeded.projectId });
    const pinned = await listedRelationship(seeded.projectId, seeded.relationshipId);
    expect(pinned).toMatchObject({ owner_id: expect.any(String), repository_id: expect.any(String) });

    const ctx = await contextOf(env.ADMIN_TOKEN);
    const { change } = await deleteTrustRelationship(ctx, seeded.projectId, seeded.relationshipId);
    expect(change).toEqual({
      action: "trust_relationship.delete",
      orgId: seeded.orgId,
      projectId: seeded.projectId,
      trustRelationshipId: seeded.relationshipId,
      before: pinned,
    });
    expect(await refusal(deleteTrustRelationship(ctx, seeded.projectId, seeded.relationshipId))).toBe("not_found");

    const { result, change: created } = await createTrustRelationship(ctx, seeded.projectId, parseRelationship({ provider: "github", owner: "a", repository: "b" }));
    expect(created).toEqual({ action: "trust_relationship.create", orgId: seeded.orgId, projectId: seeded.projectId, trustRelationshipId: result.id, after: result });
  });
});

describe("one schema at every door", () => {
  const bodies: [string, unknown][] = [
    ["a body that is not an object", ["github"]],
    ["an unknown provider", { provider: "gitlab" }],
    ["a missing provider field", { provider: "github", owner: "acme" }],
    ["an unknown field", { provider: "rwx", subject: "s", extra: 1 }],
    ["a condition on a claim the provider does not issue", { provider: "github", owner: "a", repository: "b", conditions: { nope: "x" } }],
    ["a lifetime out of range", { provider: "rwx", subject: "s", token_ttl_seconds: 59 }],
  ];

  for (const [what, body] of bodies) {
    it(`refuses ${what} with the same words through parseRelationship as over HTTP`, async () => {
      const { projectId } = await seedProject();
      const wire = await expectError(await admin("POST", `/v1/projects/${projectId}/trust-relationships`, body), 400, "invalid_request");
      let thrown: unknown;
      try {
        parseRelationship(body);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(StsError);
      const { reason, detail } = thrown as StsError;
      expect(toWire(reason, detail).description).toBe(wire.error_description);
    });
  }

  it("says what a refused field must be, in plain words", async () => {
    const { projectId } = await seedProject();
    for (const [body, words] of [
      [["github"], "body: must be an object"],
      [{ provider: "gitlab" }, 'provider: must be one of "github", "circleci", "buildkite", "rwx"'],
      [{ provider: "rwx", subject: 5 }, "subject: must be a string"],
      [{ provider: "rwx", subject: "s", token_ttl_seconds: 59 }, "token_ttl_seconds: must be at least 60"],
      [{ provider: "rwx", subject: "s", token_ttl_seconds: 60.5 }, "token_ttl_seconds: must be an integer"],
      [{ provider: "rwx", subject: "s", mode: "watch" }, 'mode: must be one of "enforce", "shadow"'],
      [{ provider: "rwx", subject: "s", description: "x".repeat(1000) }, "description: must be at most 500 characters long"],
    ] as const) {
      const wire = await expectError(await admin("POST", `/v1/projects/${projectId}/trust-relationships`, body), 400, "invalid_request");
      expect(wire.error_description).toContain(words);
    }
  });
});
