/**
 * `edge-sts` in a GitHub Actions job: the runner's ID-token endpoint (with and without
 * `permissions: id-token: write`), the real worker, revocation seen at /introspect.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubIdTokenEndpoint, runCli, scratch } from "./support/ci.mjs";
import { startStack } from "./support/stack.mjs";

const JWT = /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/;
let stack;
let github;
let projectId;
let dir;
const job = { owner: "acme", repository: "widgets", ownerId: "5001", repositoryId: "6001" };

beforeAll(async () => {
  stack = await startStack();
  ({ projectId } = await stack.createProject());
  await stack.createRelationship(projectId, { provider: "github", owner: job.owner, repository: job.repository, conditions: { ref: "refs/heads/main" } });
  github = await githubIdTokenEndpoint(stack, job);
  dir = scratch();
});
afterAll(async () => {
  await github?.close();
  await stack?.stop();
});

const token = (args = [], env = github.env(true)) => runCli(["token", "--url", stack.url, "--project", projectId, ...args], { env, dir });

describe("edge-sts token in GitHub Actions", () => {
  it("prints only the minted token on stdout, asking GitHub for the audience the server publishes", async () => {
    const before = github.requests.length;
    const result = await token();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    // In GitHub Actions the runner is told to mask it first; nothing else on stderr.
    expect(result.stderr).toBe(`::add-mask::${result.stdout.trim()}\n`);
    const request = github.requests[before];
    // The published subject_token_audience, which differs from the server's URL here.
    expect(request.audience).toBe(stack.audience);
    expect(request.audience).not.toBe(stack.url);
    expect(request.apiVersion).toBe("2.0");
    const introspection = await stack.introspect(result.stdout.trim());
    expect(introspection).toMatchObject({ active: true, token_use: "oidc", project_id: projectId, scope: "builds registry:pull registry:push" });
  });

  it("always sends audience = --project: a second project trusting the same repository does not make the exchange ambiguous", async () => {
    const other = await stack.createProject();
    await stack.createRelationship(other.projectId, { provider: "github", owner: job.owner, repository: job.repository });
    const result = await token();
    expect(result.code, result.stderr).toBe(0);
    expect((await stack.introspect(result.stdout.trim())).project_id).toBe(projectId);
    const forOther = await runCli(["token", "--url", stack.url, "--project", other.projectId], { env: github.env(true), dir });
    expect(forOther.code, forOther.stderr).toBe(0);
    expect((await stack.introspect(forOther.stdout.trim())).project_id).toBe(other.projectId);
  });

  it("without permissions: id-token: write, says so, exits 3 and contacts neither GitHub nor the server", async () => {
    const before = { github: github.requests.length, token: stack.countRequests("/token") };
    const result = await token([], github.env(false));
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("permissions: id-token: write");
    expect(github.requests.length).toBe(before.github);
    expect(stack.countRequests("/token")).toBe(before.token);
  });

  it("when GitHub refuses the request token, points at the id-token permission", async () => {
    const env = { ...github.env(true), ACTIONS_ID_TOKEN_REQUEST_TOKEN: "ghs_wrong" };
    const result = await token([], env);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("401");
    expect(result.stderr).toContain("id-token: write");
    expect(result.stderr).not.toContain("ghs_wrong");
  });

  it("retries GitHub's ID-token endpoint after a transient 502 (a GET that spends nothing)", async () => {
    const before = github.requests.length;
    github.failNext(502);
    const result = await token();
    expect(result.code, result.stderr).toBe(0);
    expect(github.requests.length).toBe(before + 2);
    expect(result.stderr).toContain("answered 502; retrying");
  });

  it("a refused exchange prints the server's error_description and a GitHub hint, exits 4, and is not retried", async () => {
    const denied = await stack.createProject();
    await stack.createRelationship(denied.projectId, { provider: "github", owner: job.owner, repository: job.repository, conditions: { ref: "refs/heads/release" } });
    const before = stack.countRequests("/token");
    const result = await runCli(["token", "--url", stack.url, "--project", denied.projectId], { env: github.env(true), dir });
    expect(result.code).toBe(4);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("server says: no trust relationship of this project admits this token");
    expect(result.stderr).toMatch(/hint: check --project, and that project.s GitHub trust relationship.*edge-sts explain/);
    expect(result.stderr).not.toMatch(/eyJ[\w-]+\./);
    expect(stack.countRequests("/token")).toBe(before + 1);
  });

  it("--scope narrows the minted token", async () => {
    const result = await token(["--scope", "registry:pull"]);
    expect(result.code, result.stderr).toBe(0);
    expect((await stack.introspect(result.stdout.trim())).scope).toBe("registry:pull");
  });

  it("--scope asking for more than the relationship grants is refused with invalid_scope and a hint", async () => {
    const result = await token(["--scope", "api"]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("invalid_scope");
    expect(result.stderr).toContain("--scope may only narrow");
  });

  it("--format json gives the token with its expiry, scope and provenance", async () => {
    const result = await token(["--format", "json"]);
    expect(result.code, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body).toMatchObject({ token_type: "Bearer", project: projectId, source: "oidc", ci: "github", scope: "builds registry:pull registry:push", expires_in: 3600 });
    expect(body.token).toMatch(JWT);
    expect(body.expires_at).toBeGreaterThan(Date.now() / 1000 + 3500);
  });

  it("--format env prints export lines a shell can eval", async () => {
    const result = await token(["--format", "env"]);
    expect(result.code, result.stderr).toBe(0);
    const [line, expiry] = result.stdout.trim().split("\n");
    expect(line).toMatch(/^export EDGE_STS_TOKEN='eyJ[\w.-]+'$/);
    expect(expiry).toMatch(/^export EDGE_STS_TOKEN_EXPIRES_AT=\d+$/);
  });

  it("takes the project from EDGE_STS_PROJECT and the URL from EDGE_STS_URL", async () => {
    const result = await runCli(["token"], { env: { ...github.env(true), EDGE_STS_URL: stack.url, EDGE_STS_PROJECT: projectId }, dir });
    expect(result.code, result.stderr).toBe(0);
    expect((await stack.introspect(result.stdout.trim())).project_id).toBe(projectId);
  });

  it("refuses a --project that is not a project ID before contacting anything (exit 2)", async () => {
    const result = await runCli(["token", "--url", stack.url, "--project", "../v1/orgs"], { env: github.env(true), dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--project must be an ID like prj_");
  });
});

describe("edge-sts revoke and pull-token in GitHub Actions", () => {
  it("revoke makes the token inactive at /introspect", async () => {
    const minted = (await token()).stdout.trim();
    expect((await stack.introspect(minted)).active).toBe(true);
    const result = await runCli(["revoke", "--url", stack.url], { env: { EDGE_STS_TOKEN: minted }, dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(await stack.introspect(minted)).toEqual({ active: false });
  });

  it("revoke --token-stdin reads the token from stdin", async () => {
    const minted = (await token()).stdout.trim();
    const result = await runCli(["revoke", "--url", stack.url, "--token-stdin"], { input: `${minted}\n`, dir });
    expect(result.code, result.stderr).toBe(0);
    expect(await stack.introspect(minted)).toEqual({ active: false });
  });

  it("pull-token mints a registry pull token from the job's ID token", async () => {
    const result = await runCli(["pull-token", "--url", stack.url, "--project", projectId], { env: github.env(true), dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toMatch(JWT);
    expect(await stack.introspect(result.stdout.trim())).toMatchObject({ active: true, token_use: "pull", scope: "registry:pull", project_id: projectId });
  });

  it("pull-token with the job token in EDGE_STS_TOKEN uses it instead of a new ID token", async () => {
    const minted = (await token()).stdout.trim();
    const before = github.requests.length;
    const result = await runCli(["pull-token", "--url", stack.url, "--project", projectId, "--json", "--expires-in", "600"], { env: { ...github.env(true), EDGE_STS_TOKEN: minted }, dir });
    expect(result.code, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body.expires_at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 601);
    expect(github.requests.length).toBe(before);
  });
});
