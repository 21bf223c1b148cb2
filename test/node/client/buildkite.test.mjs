/**
 * `edge-sts` in a Buildkite step: a fake `buildkite-agent` first on PATH that, like the real
 * agent, needs BUILDKITE_AGENT_ACCESS_TOKEN in its environment and adds the UUID claims
 * only when asked with --claim.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installFakeCiTools, runCli, scratch, toolInvocations } from "./support/ci.mjs";
import { startStack } from "./support/stack.mjs";

let stack;
let projectId;
let dir;
const job = { org: "acme", pipeline: "deploy", organizationId: randomUUID(), pipelineId: randomUUID() };
const agentToken = `bkua_${randomUUID().replace(/-/g, "")}`;
const buildkiteEnv = { BUILDKITE: "true", CI: "true", BUILDKITE_JOB_ID: randomUUID(), BUILDKITE_AGENT_ACCESS_TOKEN: agentToken, BUILDKITE_PIPELINE_SLUG: job.pipeline };

beforeAll(async () => {
  stack = await startStack();
  ({ projectId } = await stack.createProject());
  await stack.createRelationship(projectId, { provider: "buildkite", organization_slug: job.org, pipeline_slug: job.pipeline, conditions: { build_branch: "main" } });
  dir = scratch();
  installFakeCiTools(dir, stack, { buildkite: job });
});
afterAll(() => stack?.stop());

describe("edge-sts in Buildkite", () => {
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
