/**
 * Every snippet in docs/ci/*.md is parsed and run: the setup commands create the documented
 * relationship on the real worker (and the JSON block is what was created), and the job
 * definition runs in a simulated job of its CI, through `npx edge-sts` from the packed
 * package. The job's script must have received an active token of the project, and the
 * token must be revoked once the job is over.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubIdTokenEndpoint, installFakeCiTools, scratch, toolInvocations } from "./support/ci.mjs";
import {
  fillIn,
  installFakeNpx,
  installPublishScript,
  packClient,
  parseYaml,
  published,
  runBuildkitePipeline,
  runCircleciConfig,
  runGithubWorkflow,
  runRwxDefinition,
  runShell,
  snippets,
} from "./support/snippets.mjs";
import { startStack } from "./support/stack.mjs";
import { rwxClaims } from "../../support/ci-claims.mjs";
import { README, readmeSection, shBlocks } from "../support/readme.mjs";

let stack;
let pack;

beforeAll(async () => {
  stack = await startStack();
  pack = packClient();
});
afterAll(() => stack?.stop());

/** A fresh project, an org token to administer it, and a job directory with the fake npx and ./publish.sh. */
async function setUp() {
  const { orgId, projectId } = await stack.createProject();
  const orgToken = (await stack.request("POST", `/v1/orgs/${orgId}/tokens`, { description: "docs" })).body.token;
  const dir = scratch();
  mkdirSync(join(dir, "workspace"));
  installFakeNpx(join(dir, "bin"), pack.dir, pack.packed.version);
  installPublishScript(join(dir, "workspace"), stack.introspectionEndpoint);
  return { projectId, orgToken, dir };
}

/** Runs the doc's `sh` block and checks the relationship created is the doc's JSON block. */
async function createDocumentedRelationship(doc, { projectId, orgToken, dir }) {
  const blocks = snippets(doc);
  const sh = blocks.filter((b) => b.lang === "sh");
  const json = blocks.filter((b) => b.lang === "json");
  expect(sh).toHaveLength(1);
  expect(json).toHaveLength(1);
  const result = await runShell(fillIn(sh[0].code, stack, projectId), { dir, env: { EDGE_STS_TOKEN: orgToken } });
  expect(result.code, result.stderr).toBe(0);
  const body = JSON.parse(json[0].code);
  const listed = await stack.request("GET", `/v1/projects/${projectId}/trust-relationships`);
  expect(listed.body.trust_relationships).toHaveLength(1);
  expect(listed.body.trust_relationships[0]).toMatchObject(body);
  return { body, yaml: blocks.filter((b) => b.lang === "yaml").map((b) => parseYaml(fillIn(b.code, stack, projectId))) };
}

/** The job's script got an active token of the project, which is revoked now. */
async function expectPublishedAndRevoked(dir, projectId, count = 1) {
  const records = published(join(dir, "workspace"));
  expect(records).toHaveLength(count);
  for (const record of records) {
    expect(record.introspection).toMatchObject({ active: true, token_use: "oidc", project_id: projectId });
    expect(await stack.introspect(record.token)).toEqual({ active: false });
  }
}

describe("docs/ci/github.md", () => {
  it("the relationship snippet creates its JSON, and both workflows (Action and CLI) publish with a token revoked at job end", async () => {
    const ctx = await setUp();
    const { body, yaml } = await createDocumentedRelationship("docs/ci/github.md", ctx);
    expect(yaml).toHaveLength(2);
    const job = { owner: body.owner, repository: body.repository, ownerId: "31337", repositoryId: "42424242" };
    const github = await githubIdTokenEndpoint(stack, job);
    try {
      for (const workflow of yaml) {
        const jobs = Object.values(workflow.jobs);
        expect(jobs.every((j) => (j.permissions ?? workflow.permissions)?.["id-token"] === "write")).toBe(true);
        const log = await runGithubWorkflow(workflow, { dir: ctx.dir, github });
        const actionLog = log.find((entry) => entry.step?.includes("/edge-sts/action@v1"));
        if (actionLog) expect(actionLog.stdout.split("\n").some((line) => line.startsWith("::add-mask::"))).toBe(true);
      }
      await expectPublishedAndRevoked(ctx.dir, ctx.projectId, 2);
    } finally {
      await github.close();
    }
  });
});

describe("docs/ci/circleci.md", () => {
  it("the relationship snippet creates its JSON, and the config's job publishes with a token revoked when the command ends", async () => {
    const ctx = await setUp();
    const { body, yaml } = await createDocumentedRelationship("docs/ci/circleci.md", ctx);
    expect(yaml).toHaveLength(1);
    installFakeCiTools(ctx.dir, stack, { circleci: { org: body.organization_uuid, project: body.project_uuid } });
    await runCircleciConfig(yaml[0], { dir: ctx.dir, env: {} });
    expect(toolInvocations(ctx.dir).map((c) => c.tool)).toEqual(["circleci"]);
    await expectPublishedAndRevoked(ctx.dir, ctx.projectId);
  });
});

describe("docs/ci/buildkite.md", () => {
  it("the relationship snippet creates its JSON, and the pipeline's step publishes with a token revoked when the command ends", async () => {
    const ctx = await setUp();
    const { body, yaml } = await createDocumentedRelationship("docs/ci/buildkite.md", ctx);
    expect(yaml).toHaveLength(1);
    const job = { org: body.organization_slug, pipeline: body.pipeline_slug, organizationId: crypto.randomUUID(), pipelineId: crypto.randomUUID() };
    installFakeCiTools(ctx.dir, stack, { buildkite: job });
    await runBuildkitePipeline(yaml[0], { dir: ctx.dir, env: { BUILDKITE_AGENT_ACCESS_TOKEN: "bkua_agent", BUILDKITE_JOB_ID: crypto.randomUUID() } });
    await expectPublishedAndRevoked(ctx.dir, ctx.projectId);
    // The first exchange pinned the immutable IDs the agent was asked for.
    const listed = await stack.request("GET", `/v1/projects/${ctx.projectId}/trust-relationships`);
    expect(listed.body.trust_relationships[0]).toMatchObject({ organization_uuid: job.organizationId, pipeline_uuid: job.pipelineId });
  });
});

describe("docs/ci/rwx.md", () => {
  it("the relationship snippet creates its JSON, and the run definition's task publishes with a token revoked when the command ends", async () => {
    const ctx = await setUp();
    const { body, yaml } = await createDocumentedRelationship("docs/ci/rwx.md", ctx);
    expect(yaml).toHaveLength(1);
    const vaults = [];
    await runRwxDefinition(yaml[0], {
      dir: ctx.dir,
      env: {},
      // The vault's token, with the audience the doc tells the reader to set: subject_token_audience.
      vaultToken: async (vault, name) => {
        vaults.push(`${vault}.${name}`);
        return stack.sign(stack.issuers.rwx, rwxClaims(stack.audience, body.subject, { iss: stack.issuers.rwx }));
      },
    });
    expect(vaults).toEqual(["production.edge-sts"]);
    await expectPublishedAndRevoked(ctx.dir, ctx.projectId);
  });
});

describe("README", () => {
  it("the Client section's examples parse, and its exit codes are the CLI's", async () => {
    const section = README.slice(README.indexOf("\n## Client\n"));
    expect(section.length).toBeGreaterThan(100);
    const { EXIT } = await import("../../../client/cli/exit-codes.js");
    for (const code of Object.values(EXIT)) expect(section).toMatch(new RegExp(`\\| ${code} \\|`));
    for (const m of section.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)) expect(() => parseYaml(m[1])).not.toThrow();
  });

  it("the Client section's `sh` example runs as written: with the ID token in EDGE_STS_OIDC_TOKEN, ./publish.sh gets a token revoked when it ends", async () => {
    const sh = shBlocks(readmeSection("Client"));
    expect(sh).toHaveLength(1);
    const ctx = await setUp();
    // "Anywhere": the run puts an ID token in EDGE_STS_OIDC_TOKEN (here RWX's, for a relationship naming its vault).
    const subject = `mint:${crypto.randomUUID()}:production`;
    expect((await stack.request("POST", `/v1/projects/${ctx.projectId}/trust-relationships`, { provider: "rwx", subject })).status).toBe(201);
    const idToken = await stack.sign(stack.issuers.rwx, rwxClaims(stack.audience, subject, { iss: stack.issuers.rwx }));
    const result = await runShell(fillIn(sh[0], stack, ctx.projectId), { dir: ctx.dir, env: { EDGE_STS_OIDC_TOKEN: idToken } });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    await expectPublishedAndRevoked(ctx.dir, ctx.projectId);
  });
});
