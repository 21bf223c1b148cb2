/**
 * The CLI for people and configuration as code: help and exit codes, the credential
 * resolution order, login/logout and the stored file, trust/tokens/projects against the
 * real admin API, and explain.
 */
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, rwxIdToken, scratch } from "./support/ci.mjs";
import { ROOT, startStack } from "./support/stack.mjs";

let stack;
let orgId;
let projectId;
let user;
let userToken;
let projectToken;
const subject = `mint:${randomUUID()}:cli`;

async function created(method, path, body, token) {
  const result = await stack.request(method, path, body, token);
  if (result.status !== 201) throw new Error(`${path}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

beforeAll(async () => {
  stack = await startStack();
  ({ orgId, projectId } = await stack.createProject());
  await stack.createRelationship(projectId, { provider: "rwx", subject });
  user = await created("POST", "/v1/users", { name: "Ada", email: `ada-${randomUUID()}@example.com` });
  await created("POST", `/v1/orgs/${orgId}/members`, { user_id: user.id, role: "admin" });
  userToken = (await created("POST", `/v1/users/${user.id}/tokens`, { description: "laptop" })).token;
  projectToken = (await created("POST", `/v1/projects/${projectId}/tokens`, { description: "ci" })).token;
});
afterAll(() => stack?.stop());

const login = (dir, token = userToken, extra = []) => runCli(["login", "--url", stack.url, "--user", user.id, ...extra], { dir, input: `${token}\n` });

describe("help, version and usage", () => {
  it("--help lists the commands and the exit codes", async () => {
    const result = await runCli(["--help"]);
    expect(result.code).toBe(0);
    for (const command of ["token", "exec", "revoke", "pull-token", "login", "logout", "explain", "trust", "tokens"]) expect(result.stdout).toContain(`  ${command} `);
    expect(result.stdout).toContain("Exit codes:");
    expect(result.stdout).toMatch(/^\s+4\s+refused by the server/m);
  });

  it("every command has its own --help", async () => {
    for (const command of ["token", "exec", "revoke", "pull-token", "login", "logout", "explain", "trust", "tokens", "projects"]) {
      const result = await runCli([command, "--help"]);
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).toMatch(/^Usage:/);
    }
  });

  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "client", "package.json"), "utf8"));
    expect((await runCli(["--version"])).stdout).toBe(`${version}\n`);
  });

  it("an unknown command or option is a usage error (exit 2) and never echoes a --token value", async () => {
    expect((await runCli(["tokn"])).code).toBe(2);
    const result = await runCli(["token", "--projct", "prj_x", "--token=sts_prj_secretsecretsecret"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--projct");
    expect(result.stderr).not.toContain("secretsecret");
  });
});

describe("credential resolution: --token, then EDGE_STS_TOKEN, then the stored login, then OIDC", () => {
  it("takes each source in order when the ones before it are absent", async () => {
    const dir = scratch();
    expect((await login(dir)).code).toBe(0);
    const idToken = await rwxIdToken(stack, subject);
    const ask = async (args, env) => JSON.parse((await runCli(["token", "--url", stack.url, "--project", projectId, "--json", ...args], { env, dir })).stdout);
    const flag = await ask(["--token", projectToken], { EDGE_STS_TOKEN: "sts_prj_fromenvironment", EDGE_STS_OIDC_TOKEN: idToken });
    expect({ source: flag.source, token: flag.token }).toEqual({ source: "flag", token: projectToken });
    const env = await ask([], { EDGE_STS_TOKEN: projectToken, EDGE_STS_OIDC_TOKEN: idToken });
    expect({ source: env.source, token: env.token }).toEqual({ source: "env", token: projectToken });
    const stored = await ask([], { EDGE_STS_OIDC_TOKEN: idToken });
    expect({ source: stored.source, token: stored.token }).toEqual({ source: "login", token: userToken });
    expect((await runCli(["logout"], { dir })).code).toBe(0);
    const oidc = await ask([], { EDGE_STS_OIDC_TOKEN: idToken });
    expect(oidc.source).toBe("oidc");
    expect((await stack.introspect(oidc.token)).token_use).toBe("oidc");
  });

  it("with nothing at all: exit 3, saying what would work", async () => {
    const result = await runCli(["token", "--url", stack.url, "--project", projectId], { dir: scratch() });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("no credential");
    expect(result.stderr).toContain("edge-sts login");
  });
});

describe("login and logout", () => {
  it("checks the token against the API, then stores it mode 0600 in a 0700 directory under XDG_CONFIG_HOME", async () => {
    const dir = scratch();
    const result = await login(dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`as Ada (${user.id})`);
    expect(result.stdout + result.stderr).not.toContain(userToken);
    const configDir = join(dir, "home", ".config", "edge-sts");
    const file = join(configDir, "credentials.json");
    expect(statSync(configDir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8")).logins[stack.url]).toMatchObject({ user_id: user.id, token: userToken });
  });

  it("without XDG_CONFIG_HOME, stores it in ~/.config/edge-sts", async () => {
    const dir = scratch();
    const result = await runCli(["login", "--url", stack.url, "--user", user.id], { dir, input: userToken, env: { XDG_CONFIG_HOME: "" } });
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(join(dir, "home", ".config", "edge-sts", "credentials.json"))).toBe(true);
  });

  it("tightens a directory and file that were readable by others", async () => {
    const dir = scratch();
    const configDir = join(dir, "home", ".config", "edge-sts");
    mkdirSync(configDir, { recursive: true, mode: 0o755 });
    chmodSync(configDir, 0o755);
    writeFileSync(join(configDir, "credentials.json"), JSON.stringify({ version: 1, logins: {} }), { mode: 0o644 });
    expect((await login(dir)).code).toBe(0);
    expect(statSync(configDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(configDir, "credentials.json")).mode & 0o777).toBe(0o600);
  });

  it("refuses another user's token (the API answers 404) and stores nothing", async () => {
    const other = await created("POST", "/v1/users", { name: "Bob", email: `bob-${randomUUID()}@example.com` });
    const otherToken = (await created("POST", `/v1/users/${other.id}/tokens`, {})).token;
    const dir = scratch();
    const result = await login(dir, otherToken);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`this token does not belong to ${user.id}`);
    expect(existsSync(join(dir, "home", ".config", "edge-sts", "credentials.json"))).toBe(false);
  });

  it("refuses a token the service does not know (401) and stores nothing", async () => {
    const dir = scratch();
    const result = await login(dir, "sts_usr_000000000000000000000000000000aaaaaa");
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("the service does not accept this token");
    expect(existsSync(join(dir, "home", ".config", "edge-sts"))).toBe(false);
  });

  it("refuses anything but a user token before contacting the service (exit 2)", async () => {
    const result = await login(scratch(), projectToken);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("login stores a user token");
    expect(result.stderr).not.toContain(projectToken);
  });

  it("then admin commands use the login; logout removes it and they ask for a credential again", async () => {
    const dir = scratch();
    expect((await login(dir)).code).toBe(0);
    const listed = await runCli(["tokens", "list", "--user", "me", "--json"], { dir });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).tokens.map((t) => t.description)).toContain("laptop");
    const out = await runCli(["logout"], { dir });
    expect(out.code).toBe(0);
    expect(existsSync(join(dir, "home", ".config", "edge-sts", "credentials.json"))).toBe(false);
    const again = await runCli(["trust", "list", "--url", stack.url, "--project", projectId], { dir });
    expect(again.code).toBe(3);
    expect(again.stderr).toContain("edge-sts login");
  });
});

describe("trust", () => {
  const admin = (args) => runCli(["trust", ...args, "--url", stack.url], { env: { EDGE_STS_TOKEN: userToken }, dir: scratch() });

  it("adds one relationship per provider, lists them with their fields, and removes one", async () => {
    const { projectId: project } = await stack.createProject();
    await created("POST", `/v1/orgs/${(await stack.request("GET", `/v1/projects/${project}`)).body.org_id}/members`, { user_id: user.id, role: "admin" });
    const adds = [
      ["add", "github", "--project", project, "--owner", "acme", "--repository", "widgets", "--condition", "ref=refs/heads/main", "--condition", "event_name=push", "--ttl", "900"],
      ["add", "circleci", "--project", project, "--organization-uuid", randomUUID(), "--project-uuid", randomUUID()],
      ["add", "buildkite", "--project", project, "--organization-slug", "acme", "--pipeline-slug", "deploy", "--description", "deploys"],
      ["add", "rwx", "--project", project, "--subject", `mint:${randomUUID()}:production`],
    ];
    const ids = [];
    for (const args of adds) {
      const result = await admin([...args, "--json"]);
      expect(result.code, result.stderr).toBe(0);
      ids.push(JSON.parse(result.stdout).id);
    }
    const listed = await admin(["list", "--project", project]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+PROVIDER\s+IDENTITY\s+DETAILS$/m);
    expect(listed.stdout).toContain("acme/widgets");
    expect(listed.stdout).toContain("conditions ref=refs/heads/main event_name=push; ttl 900s");
    const json = JSON.parse((await admin(["list", "--project", project, "--json"])).stdout);
    expect(json.trust_relationships.map((r) => r.provider).sort()).toEqual(["buildkite", "circleci", "github", "rwx"]);
    expect(json.trust_relationships.find((r) => r.provider === "github").conditions).toEqual({ ref: "refs/heads/main", event_name: "push" });
    const removed = await admin(["rm", "--project", project, ids[0]]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse((await admin(["list", "--project", project, "--json"])).stdout).trust_relationships).toHaveLength(3);
  });

  it("adds a relationship from a JSON file, flags overriding it", async () => {
    const dir = scratch();
    const file = join(dir, "relationship.json");
    writeFileSync(file, JSON.stringify({ provider: "github", owner: "acme", repository: "from-file", conditions: { ref: "refs/heads/main" } }));
    const result = await runCli(["trust", "add", "--project", projectId, "--file", file, "--repository", "overridden", "--json", "--url", stack.url], { env: { EDGE_STS_TOKEN: userToken }, dir });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ provider: "github", owner: "acme", repository: "overridden", conditions: { ref: "refs/heads/main" } });
  });

  it("refuses a flag of another provider before sending anything (exit 2)", async () => {
    const result = await admin(["add", "github", "--project", projectId, "--owner", "acme", "--repository", "w", "--subject", "x"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--subject is not a github field");
  });

  it("shows the API's validation error, naming the field (exit 4)", async () => {
    const result = await admin(["add", "circleci", "--project", projectId, "--organization-uuid", "acme", "--project-uuid", randomUUID()]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/server says: .*organization_uuid/);
  });

  it("a project token may not administer: 403 with a hint (exit 4)", async () => {
    const result = await runCli(["trust", "list", "--project", projectId, "--url", stack.url], { env: { EDGE_STS_TOKEN: projectToken } });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("403 insufficient_scope");
    expect(result.stderr).toContain("hint: this credential may not do that");
  });

  it("another organization's project looks like no project at all (404, exit 4)", async () => {
    const foreign = await stack.createProject();
    const result = await admin(["list", "--project", foreign.projectId]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("404 not_found");
  });
});

describe("revoke", () => {
  it("of a static token says it is deleted instead, and never echoes it (exit 4)", async () => {
    const result = await runCli(["revoke", "--url", stack.url], { env: { EDGE_STS_TOKEN: projectToken } });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("unsupported_token_type");
    expect(result.stderr).toContain("edge-sts tokens rm");
    expect(result.stderr).not.toContain(projectToken);
    expect((await stack.introspect(projectToken)).active).toBe(true);
  });

  it("without a token is a usage error (exit 2)", async () => {
    expect((await runCli(["revoke", "--url", stack.url])).code).toBe(2);
  });
});

describe("tokens and projects", () => {
  const run = (args, token = userToken) => runCli([...args, "--url", stack.url], { env: { EDGE_STS_TOKEN: token } });

  for (const owner of ["project", "org", "user"]) {
    it(`creates, lists and deletes ${owner} tokens; create prints only the token on stdout, once`, async () => {
      const ownerArgs = { project: ["--project", projectId], org: ["--org", orgId], user: ["--user", user.id] }[owner];
      const create = await run(["tokens", "create", ...ownerArgs, "--description", `cli ${owner}`]);
      expect(create.code, create.stderr).toBe(0);
      const token = create.stdout.trim();
      expect(token).toMatch(new RegExp(`^sts_${{ project: "prj", org: "org", user: "usr" }[owner]}_\\w+$`));
      expect(create.stderr).toMatch(/created tok_[0-9a-f]{24} \(sts_\w+_\.\.\.\w{4}\)/);
      expect(create.stderr).not.toContain(token);
      expect((await stack.introspect(token)).active).toBe(true);
      const list = await run(["tokens", "list", ...ownerArgs, "--json"]);
      const entry = JSON.parse(list.stdout).tokens.find((t) => t.description === `cli ${owner}`);
      expect(entry.preview).toMatch(/\.\.\./);
      expect(list.stdout).not.toContain(token);
      const human = await run(["tokens", "list", ...ownerArgs]);
      expect(human.stdout).toMatch(/^ID\s+PREVIEW\s+CREATED\s+LAST USED\s+DESCRIPTION$/m);
      const removed = await run(["tokens", "rm", ...ownerArgs, entry.id]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(await stack.introspect(token)).toEqual({ active: false });
    });
  }

  it("needs exactly one owner", async () => {
    const result = await run(["tokens", "list", "--project", projectId, "--org", orgId]);
    expect(result.code).toBe(2);
  });

  it("creates and lists projects of an organization", async () => {
    const create = await run(["projects", "create", "--org", orgId, "--name", "from-cli"]);
    expect(create.code, create.stderr).toBe(0);
    const id = create.stdout.trim();
    expect(id).toMatch(/^prj_[0-9a-f]{24}$/);
    const list = await run(["projects", "list", "--org", orgId, "--json"]);
    expect(JSON.parse(list.stdout).projects.map((p) => p.id)).toContain(id);
  });
});

describe("explain", () => {
  it("prints the server's explanation of the job's token: every stage, every relationship, the exchange's answer (exit 0)", async () => {
    const result = await runCli(["explain", "--url", stack.url, "--project", projectId], {
      env: { EDGE_STS_TOKEN: userToken, EDGE_STS_OIDC_TOKEN: await rwxIdToken(stack, subject) },
    });
    expect(result.code, result.stderr).toBe(0);
    const explanation = JSON.parse(result.stdout);
    expect(explanation).toMatchObject({ project_id: projectId, token: { provider: "rwx", signature_verified: true }, exchange: { status: 200 } });
    expect(explanation.verification.map((s) => s.result)).toEqual(Array(9).fill("pass"));
    // Earlier tests add relationships of other providers to the project: each is shown with its own verdict.
    expect(explanation.relationships.find((r) => r.provider === "rwx")).toMatchObject({ mode: "enforce", result: "admits", failed_check: null });
    expect(explanation.relationships.filter((r) => r.provider !== "rwx").every((r) => r.failed_check === "provider")).toBe(true);
  });

  it("is refused for a credential that does not administer the project (exit 4)", async () => {
    const idToken = await rwxIdToken(stack, subject);
    const result = await runCli(["explain", "--url", stack.url, "--project", projectId, "--json"], { env: { EDGE_STS_TOKEN: projectToken, EDGE_STS_OIDC_TOKEN: idToken } });
    expect(result.code).toBe(4);
    expect(JSON.parse(result.stderr)).toMatchObject({ status: 403, server_error: "insufficient_scope" });
  });

  it("needs an admin credential, not the job's OIDC token (exit 3)", async () => {
    const result = await runCli(["explain", "--url", stack.url, "--project", projectId], { env: { EDGE_STS_OIDC_TOKEN: await rwxIdToken(stack, subject) }, dir: scratch() });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("needs a user, organization or operator token");
  });
});
