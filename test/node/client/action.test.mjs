/**
 * The GitHub Action as a runner runs it: `node action/dist/main.js` and `post.js` with the
 * INPUT_* variables, GITHUB_OUTPUT / GITHUB_ENV / GITHUB_STATE files and STATE_* variables
 * a runner provides, against the real worker; revocation seen at /introspect.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMask, error as errorCommand, escapeData, fileCommandEntry, getBooleanInput, getInput } from "../../../action/src/runner.js";
import { githubIdTokenEndpoint, runCli, scratch } from "./support/ci.mjs";
import { ACTION_YML, inputVariable, parseFileCommands, runActionStep } from "./support/runner.mjs";
import { startStack } from "./support/stack.mjs";

let stack;
let github;
let projectId;
const job = { owner: "acme", repository: "rockets", ownerId: "7001", repositoryId: "8001" };

beforeAll(async () => {
  stack = await startStack();
  ({ projectId } = await stack.createProject());
  await stack.createRelationship(projectId, { provider: "github", owner: job.owner, repository: job.repository });
  github = await githubIdTokenEndpoint(stack, job);
});
afterAll(async () => {
  await github?.close();
  await stack?.stop();
});

const main = (dir, inputs = {}, env = github.env(true)) => runActionStep("main", { dir, inputs: { url: stack.url, project: projectId, ...inputs }, env });

describe("action.yml", () => {
  it("runs on node24 with a main and an always-run post step, and declares the contract's inputs and outputs", () => {
    expect(ACTION_YML.runs).toEqual({ using: "node24", main: "dist/main.js", post: "dist/post.js", "post-if": "always()" });
    expect(Object.keys(ACTION_YML.inputs)).toEqual(["url", "project", "scope", "revoke", "export-env"]);
    expect(ACTION_YML.inputs.revoke.default).toBe("true");
    expect(Object.keys(ACTION_YML.outputs)).toEqual(["token", "expires-at"]);
  });
});

describe("main and post", () => {
  it("masks the token before anything else is printed, sets token and expires-at, and post revokes it", async () => {
    const dir = scratch();
    const before = github.requests.length;
    const step = await main(dir);
    expect(step.code, step.stdout + step.stderr).toBe(0);
    const token = step.outputs.token;
    expect(token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(Number(step.outputs["expires-at"])).toBeGreaterThan(Date.now() / 1000 + 3500);
    // Every stdout line that contains the token is the mask command itself, and it comes first.
    const lines = step.stdout.split("\n");
    const withToken = lines.filter((line) => line.includes(token));
    expect(withToken).toEqual([`::add-mask::${token}`]);
    const idToken = github.requests[before].issued;
    expect(lines.indexOf(`::add-mask::${idToken}`)).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf(`::add-mask::${idToken}`)).toBeLessThan(lines.indexOf(`::add-mask::${token}`));
    expect(step.stderr).not.toContain(token);
    expect(github.requests[before].audience).toBe(stack.audience);
    expect(step.env).toEqual({});
    expect(await stack.introspect(token)).toMatchObject({ active: true, project_id: projectId, token_use: "oidc" });

    const post = await runActionStep("post", { dir, state: step.state, env: github.env(true) });
    expect(post.code, post.stdout + post.stderr).toBe(0);
    expect(post.stdout).toContain("token revoked");
    expect(post.stdout).not.toContain(token);
    expect(await stack.introspect(token)).toEqual({ active: false });
  });

  it("writes outputs and state with heredoc delimiters the value cannot forge", async () => {
    const step = await main(scratch());
    expect(step.code).toBe(0);
    const raw = (await import("node:fs")).readFileSync(step.files.GITHUB_OUTPUT, "utf8");
    expect(raw).toMatch(/^token<<ghadelimiter_[0-9a-f-]{36}\neyJ[\w.-]+\nghadelimiter_[0-9a-f-]{36}\nexpires-at<<ghadelimiter_[0-9a-f-]{36}\n\d+\nghadelimiter_[0-9a-f-]{36}\n$/);
    expect(Object.keys(step.state).sort()).toEqual(["revocation_endpoint", "token"]);
  });

  it("scope narrows the token", async () => {
    const step = await main(scratch(), { scope: "registry:pull" });
    expect(step.code, step.stdout).toBe(0);
    expect((await stack.introspect(step.outputs.token)).scope).toBe("registry:pull");
  });

  it("export-env: later steps get EDGE_STS_TOKEN, EDGE_STS_URL and EDGE_STS_PROJECT, enough for edge-sts pull-token", async () => {
    const dir = scratch();
    const step = await main(dir, { "export-env": "true" });
    expect(step.code, step.stdout).toBe(0);
    expect(step.env).toEqual({ EDGE_STS_TOKEN: step.outputs.token, EDGE_STS_URL: stack.url, EDGE_STS_PROJECT: projectId });
    const before = github.requests.length;
    const later = await runCli(["pull-token"], { env: { ...github.env(true), ...step.env }, dir });
    expect(later.code, later.stderr).toBe(0);
    expect((await stack.introspect(later.stdout.trim())).token_use).toBe("pull");
    expect(github.requests.length).toBe(before);
  });

  it("revoke: false saves no state, so the post step revokes nothing", async () => {
    const dir = scratch();
    const step = await main(dir, { revoke: "false" });
    expect(step.code).toBe(0);
    expect(step.state).toEqual({});
    const post = await runActionStep("post", { dir, state: step.state });
    expect(post.code).toBe(0);
    expect(post.stdout).toContain("nothing to revoke");
    expect((await stack.introspect(step.outputs.token)).active).toBe(true);
  });

  it("takes url and project from EDGE_STS_URL and EDGE_STS_PROJECT when the inputs are empty", async () => {
    const step = await runActionStep("main", { dir: scratch(), env: { ...github.env(true), EDGE_STS_URL: stack.url, EDGE_STS_PROJECT: projectId } });
    expect(step.code, step.stdout).toBe(0);
    expect((await stack.introspect(step.outputs.token)).project_id).toBe(projectId);
  });

  it("given only url and project (no defaults applied by whoever runs it), revokes by default and exports nothing", async () => {
    const dir = scratch();
    const step = await runActionStep("main", { dir, inputs: { url: stack.url, project: projectId }, env: github.env(true), applyDefaults: false });
    expect(step.code, step.stdout).toBe(0);
    expect(step.env).toEqual({});
    const post = await runActionStep("post", { dir, state: step.state, applyDefaults: false });
    expect(post.code).toBe(0);
    expect(await stack.introspect(step.outputs.token)).toEqual({ active: false });
  });

  it("without permissions: id-token: write, fails the step with an ::error:: saying so and sets nothing", async () => {
    const step = await main(scratch(), {}, github.env(false));
    expect(step.code).toBe(1);
    expect(step.stdout).toMatch(/^::error title=edge-sts::.*permissions: id-token: write/m);
    expect(step.outputs).toEqual({});
    expect(step.state).toEqual({});
  });

  it("a refused exchange fails the step with the server's error_description and a hint", async () => {
    const other = await stack.createProject();
    const step = await runActionStep("main", { dir: scratch(), inputs: { url: stack.url, project: other.projectId }, env: github.env(true) });
    expect(step.code).toBe(1);
    const error = step.stdout.split("\n").find((line) => line.startsWith("::error"));
    expect(error).toContain("server says: no trust relationship of this project admits this token");
    expect(error).toContain("%0Ahint: check --project");
    expect(step.outputs).toEqual({});
  });

  it("refuses an input revoke that is not a boolean", async () => {
    const step = await main(scratch(), { revoke: "yes" });
    expect(step.code).toBe(1);
    expect(step.stdout).toContain("input revoke must be true or false");
  });

  it("post with a failing server warns but does not fail the job", async () => {
    const post = await runActionStep("post", { dir: scratch(), state: { token: "eyJx.eyJy.z", revocation_endpoint: `${stack.url}/no-such-endpoint` } });
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/^::warning title=edge-sts::could not revoke the token/m);
  });
});

describe("the runner protocol (action/src/runner.js)", () => {
  it("reads inputs the way the runner names them: upper-cased, spaces as underscores, hyphens kept", () => {
    const env = { "INPUT_EXPORT-ENV": " true ", INPUT_SOME_NAME: "x" };
    expect(inputVariable("export-env")).toBe("INPUT_EXPORT-ENV");
    expect(getInput("export-env", env)).toBe("true");
    expect(getInput("some name", env)).toBe("x");
    expect(getBooleanInput("export-env", false, env)).toBe(true);
    expect(() => getBooleanInput("some name", false, env)).toThrow(/true or false/);
    // Defaults as action.yml declares them, for an environment that does not pass them.
    expect(getBooleanInput("revoke", true, {})).toBe(true);
    expect(getInput("export-env", { INPUT_EXPORT_ENV: "true" })).toBe("true");
  });

  it("writes file commands that round-trip multi-line values and refuse a name that could inject a line", () => {
    const entry = fileCommandEntry("token", "line one\nline two");
    expect(parseFileCommands(entry)).toEqual({ token: "line one\nline two" });
    expect(() => fileCommandEntry("a\nb", "x")).toThrow();
    expect(() => fileCommandEntry("a=b", "x")).toThrow();
  });

  it("escapes workflow command data so a message cannot start another command", () => {
    expect(escapeData("50%\r\n::add-mask::x")).toBe("50%25%0D%0A::add-mask::x");
    const writes = [];
    const write = process.stdout.write;
    process.stdout.write = (chunk) => writes.push(String(chunk)) > 0;
    try {
      addMask("secret-value");
      errorCommand("bad\n::set-output name=x::y");
    } finally {
      process.stdout.write = write;
    }
    expect(writes).toEqual(["::add-mask::secret-value\n", "::error title=edge-sts::bad%0A::set-output name=x::y\n"]);
  });
});
