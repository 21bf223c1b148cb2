/**
 * `edge-sts` in CircleCI, Buildkite and RWX jobs, one stack for the three:
 * - CircleCI: a fake `circleci` first on PATH behaving like `circleci run oidc get`, and
 *   `$CIRCLE_OIDC_TOKEN_V2` only when asked for;
 * - Buildkite: a fake `buildkite-agent` that, like the real agent, needs
 *   BUILDKITE_AGENT_ACCESS_TOKEN in its environment and adds the UUID claims only when asked
 *   with --claim;
 * - RWX (or any CI): the vault's OIDC token in EDGE_STS_OIDC_TOKEN, whose audience the vault
 *   sets, so refusals say what to set there.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installFakeCiTools, runCli, rwxIdToken, scratch, toolInvocations } from "./support/ci.mjs";
import { startStack } from "./support/stack.mjs";
import { circleciClaims } from "../../support/ci-claims.mjs";

let stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

describe("edge-sts in CircleCI", () => {
  let projectId;
  let dir;
  const org = randomUUID();
  const project = randomUUID();
  const circleEnv = { CIRCLECI: "true", CI: "true", CIRCLE_JOB: "publish", CIRCLE_OIDC_TOKEN: "", CIRCLE_BUILD_NUM: "12" };

  beforeAll(async () => {
    ({ projectId } = await stack.createProject());
    await stack.createRelationship(projectId, { provider: "circleci", organization_uuid: org, project_uuid: project });
    dir = scratch();
    installFakeCiTools(dir, stack, { circleci: { org, project } });
  });

  /** CircleCI's own default token: audience = the organization UUID. */
  const defaultToken = (audience = org) =>
    stack.sign(`${stack.issuers.circleci}/org/${org}`, circleciClaims(audience, org, project, { iss: `${stack.issuers.circleci}/org/${org}` }));

  it("runs `circleci run oidc get --claims` for the published audience, exchanges it, and puts no secret in argv", async () => {
    const before = toolInvocations(dir).length;
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { env: { ...circleEnv, EDGE_STS_OIDC_TOKEN: "" }, dir });
    expect(result.code, result.stderr).toBe(0);
    const token = result.stdout.trim();
    expect(await stack.introspect(token)).toMatchObject({ active: true, project_id: projectId });
    const calls = toolInvocations(dir).slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0].tool).toBe("circleci");
    expect(calls[0].argv).toEqual(["run", "oidc", "get", "--claims", JSON.stringify({ aud: stack.audience })]);
    expect(calls[0].argv.join(" ")).not.toMatch(/eyJ|sts_/);
    expect(calls[0].env).not.toContain("EDGE_STS_TOKEN");
  });

  it("exec runs the command with the token and revokes it afterwards", async () => {
    const result = await runCli(["exec", "--url", stack.url, "--project", projectId, "--", process.execPath, "-e", "process.stdout.write(process.env.EDGE_STS_TOKEN)"], {
      env: circleEnv,
      dir,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^eyJ/);
    expect(await stack.introspect(result.stdout)).toEqual({ active: false });
  });

  it("--circleci-default-token forwards $CIRCLE_OIDC_TOKEN_V2 as it is and never runs circleci", async () => {
    const relationshipProject = await stack.createProject();
    // The relationship must opt in to CircleCI's default audience; a server that predates
    // the field refuses it as unknown, and then accepts that audience for every relationship.
    const opted = await stack.request("POST", `/v1/projects/${relationshipProject.projectId}/trust-relationships`, {
      provider: "circleci",
      organization_uuid: org,
      project_uuid: project,
      accept_default_audience: true,
    });
    if (opted.status !== 201) {
      expect(opted.status).toBe(400);
      await stack.createRelationship(relationshipProject.projectId, { provider: "circleci", organization_uuid: org, project_uuid: project });
    }
    const before = toolInvocations(dir).length;
    const result = await runCli(["token", "--url", stack.url, "--project", relationshipProject.projectId, "--circleci-default-token"], {
      env: { ...circleEnv, CIRCLE_OIDC_TOKEN_V2: await defaultToken() },
      dir,
    });
    expect(result.code, result.stderr).toBe(0);
    expect((await stack.introspect(result.stdout.trim())).project_id).toBe(relationshipProject.projectId);
    expect(toolInvocations(dir).length).toBe(before);
  });

  it("a default token the server refuses for its audience gets a hint naming accept_default_audience", async () => {
    const result = await runCli(["token", "--url", stack.url, "--project", projectId, "--circleci-default-token"], {
      env: { ...circleEnv, CIRCLE_OIDC_TOKEN_V2: await defaultToken(randomUUID()) },
      dir,
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("server says: subject token audience is not this service");
    expect(result.stderr).toContain("accept_default_audience");
  });

  it("--circleci-default-token without $CIRCLE_OIDC_TOKEN_V2 says so (exit 3)", async () => {
    const result = await runCli(["token", "--url", stack.url, "--project", projectId, "--circleci-default-token"], { env: circleEnv, dir });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("CIRCLE_OIDC_TOKEN_V2 is not set");
  });

  it("without the circleci CLI on PATH: exit 3, naming the CLI and the alternative", async () => {
    const bare = scratch();
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { env: { ...circleEnv, PATH: "/nonexistent" }, dir: bare });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("`circleci` is not on PATH");
    expect(result.stderr).toContain("--circleci-default-token");
  });

  it("when `circleci run oidc get` fails, shows its message (redacted) and a hint", async () => {
    // The fake refuses outside a CircleCI job, like the real CLI without a job's OIDC context.
    const result = await runCli(["token", "--url", stack.url, "--project", projectId, "--ci", "circleci"], { env: { CI: "true" }, dir });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("`circleci run oidc get` exited with status 1: Error: not running in a CircleCI job");
    expect(result.stderr).toContain("hint:");
  });

  it("an SSH rerun's token is refused with the event hint", async () => {
    const sshDir = scratch();
    installFakeCiTools(sshDir, stack, { circleci: { org, project, overrides: { "oidc.circleci.com/ssh-rerun": true } } });
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { env: circleEnv, dir: sshDir });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/hint: .*ssh-rerun/);
  });
});

describe("edge-sts in Buildkite", () => {
  let projectId;
  let dir;
  const job = { org: "acme", pipeline: "deploy", organizationId: randomUUID(), pipelineId: randomUUID() };
  const agentToken = `bkua_${randomUUID().replace(/-/g, "")}`;
  const buildkiteEnv = { BUILDKITE: "true", CI: "true", BUILDKITE_JOB_ID: randomUUID(), BUILDKITE_AGENT_ACCESS_TOKEN: agentToken, BUILDKITE_PIPELINE_SLUG: job.pipeline };

  beforeAll(async () => {
    ({ projectId } = await stack.createProject());
    await stack.createRelationship(projectId, { provider: "buildkite", organization_slug: job.org, pipeline_slug: job.pipeline, conditions: { build_branch: "main" } });
    dir = scratch();
    installFakeCiTools(dir, stack, { buildkite: job });
  });

  it("asks the agent for the published audience with organization_id,pipeline_id, keeping its credential out of argv", async () => {
    const before = toolInvocations(dir).length;
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { env: buildkiteEnv, dir });
    expect(result.code, result.stderr).toBe(0);
    expect(await stack.introspect(result.stdout.trim())).toMatchObject({ active: true, project_id: projectId });
    const [call] = toolInvocations(dir).slice(before);
    expect(call.tool).toBe("buildkite-agent");
    expect(call.argv).toEqual(["oidc", "request-token", "--audience", stack.audience, "--claim", "organization_id,pipeline_id"]);
    expect(call.argv.join(" ")).not.toContain(agentToken);
    expect(call.env).toContain("BUILDKITE_AGENT_ACCESS_TOKEN");
  });

  it("so the relationship pins the organization's and pipeline's immutable UUIDs", async () => {
    const listed = await runCli(["trust", "list", "--url", stack.url, "--project", projectId, "--json"], { env: { EDGE_STS_TOKEN: stack.adminToken }, dir });
    expect(listed.code, listed.stderr).toBe(0);
    const [relationship] = JSON.parse(listed.stdout).trust_relationships;
    expect(relationship).toMatchObject({ organization_uuid: job.organizationId, pipeline_uuid: job.pipelineId });
  });

  it("exec revokes the token when the step's command fails, and exits with its status", async () => {
    const result = await runCli(
      ["exec", "--url", stack.url, "--project", projectId, "--", process.execPath, "-e", "process.stdout.write(process.env.EDGE_STS_TOKEN); process.exit(3)"],
      { env: buildkiteEnv, dir },
    );
    expect(result.code).toBe(3);
    expect(await stack.introspect(result.stdout)).toEqual({ active: false });
  });

  it("when the agent fails, shows its message and a hint (exit 3)", async () => {
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { env: { ...buildkiteEnv, BUILDKITE_AGENT_ACCESS_TOKEN: "" }, dir });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("`buildkite-agent oidc request-token` exited with status 1: fatal: BUILDKITE_AGENT_ACCESS_TOKEN and BUILDKITE_JOB_ID are required");
    expect(result.stderr).toContain("hint: run this in a Buildkite step");
  });

  it("a build of another branch is refused with the Buildkite hint", async () => {
    const other = await stack.createProject();
    await stack.createRelationship(other.projectId, { provider: "buildkite", organization_slug: job.org, pipeline_slug: job.pipeline, conditions: { build_branch: "release" } });
    const result = await runCli(["token", "--url", stack.url, "--project", other.projectId], { env: buildkiteEnv, dir });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/hint: check --project, and that project's Buildkite relationship/);
  });
});

describe("edge-sts with EDGE_STS_OIDC_TOKEN (RWX)", () => {
  let projectId;
  let dir;
  const subject = `mint:${randomUUID()}:production`;

  beforeAll(async () => {
    ({ projectId } = await stack.createProject());
    await stack.createRelationship(projectId, { provider: "rwx", subject });
    dir = scratch();
  });

  it("exchanges the token the run put in EDGE_STS_OIDC_TOKEN", async () => {
    const idToken = await rwxIdToken(stack, subject);
    const result = await runCli(["token", "--url", stack.url, "--project", projectId, "--json"], { env: { EDGE_STS_OIDC_TOKEN: idToken }, dir });
    expect(result.code, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body).toMatchObject({ source: "oidc", ci: "rwx" });
    // Outside GitHub Actions there is no runner to tell: stderr stays empty.
    expect(result.stderr).toBe("");
    expect(await stack.introspect(body.token)).toMatchObject({ active: true, project_id: projectId });
  });

  it("prefers EDGE_STS_OIDC_TOKEN over the CI it detects", async () => {
    const idToken = await rwxIdToken(stack, subject);
    const result = await runCli(["token", "--url", stack.url, "--project", projectId, "--json"], { env: { EDGE_STS_OIDC_TOKEN: idToken, GITHUB_ACTIONS: "true" }, dir });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).ci).toBe("rwx");
  });

  it("a vault token for another audience: refused, and the hint names the audience to set on the vault token", async () => {
    const idToken = await rwxIdToken(stack, subject, { aud: "https://somewhere.else" });
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { env: { EDGE_STS_OIDC_TOKEN: idToken }, dir });
    expect(result.code).toBe(4);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`hint: the ID token's audience must be ${stack.audience}: on RWX, set it on the vault's OIDC token`);
    expect(result.stderr).not.toContain(idToken);
  });

  it("an expired vault token: refused with the server's words and a hint", async () => {
    const now = Math.floor(Date.now() / 1000);
    const idToken = await rwxIdToken(stack, subject, { iat: now - 1000, exp: now - 500 });
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { env: { EDGE_STS_OIDC_TOKEN: idToken }, dir });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("server says: subject token has expired");
    expect(result.stderr).toContain("hint: EDGE_STS_OIDC_TOKEN holds an old token");
  });

  it("another vault's token: refused with the RWX hint about the subject", async () => {
    const idToken = await rwxIdToken(stack, `mint:${randomUUID()}:staging`);
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { env: { EDGE_STS_OIDC_TOKEN: idToken }, dir });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("its subject must equal the vault's OIDC subject exactly");
  });

  it("something that is not a JWT in EDGE_STS_OIDC_TOKEN is refused locally (exit 3), without echoing it", async () => {
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { env: { EDGE_STS_OIDC_TOKEN: "not-a-token-secret-value" }, dir });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("EDGE_STS_OIDC_TOKEN does not hold a JWT");
    expect(result.stderr).not.toContain("not-a-token-secret-value");
  });
});
