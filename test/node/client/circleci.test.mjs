/**
 * `edge-sts` in a CircleCI job: a fake `circleci` first on PATH that behaves like the real
 * `circleci run oidc get`, and `$CIRCLE_OIDC_TOKEN_V2` only when asked for.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installFakeCiTools, runCli, scratch, toolInvocations } from "./support/ci.mjs";
import { startStack } from "./support/stack.mjs";
import { circleciClaims } from "../../support/ci-claims.mjs";

let stack;
let projectId;
let dir;
const org = randomUUID();
const project = randomUUID();
const circleEnv = { CIRCLECI: "true", CI: "true", CIRCLE_JOB: "publish", CIRCLE_OIDC_TOKEN: "", CIRCLE_BUILD_NUM: "12" };

beforeAll(async () => {
  stack = await startStack();
  ({ projectId } = await stack.createProject());
  await stack.createRelationship(projectId, { provider: "circleci", organization_uuid: org, project_uuid: project });
  dir = scratch();
  installFakeCiTools(dir, stack, { circleci: { org, project } });
});
afterAll(() => stack?.stop());

/** CircleCI's own default token: audience = the organization UUID. */
const defaultToken = (audience = org) =>
  stack.sign(`${stack.issuers.circleci}/org/${org}`, circleciClaims(audience, org, project, { iss: `${stack.issuers.circleci}/org/${org}` }));

describe("edge-sts in CircleCI", () => {
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
