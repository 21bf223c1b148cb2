/**
 * `edge-sts` in an RWX task (or any CI): the vault's OIDC token in EDGE_STS_OIDC_TOKEN, whose
 * audience the vault sets, so refusals say what to set there.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, rwxIdToken, scratch } from "./support/ci.mjs";
import { startStack } from "./support/stack.mjs";

let stack;
let projectId;
let dir;
const subject = `mint:${randomUUID()}:production`;

beforeAll(async () => {
  stack = await startStack();
  ({ projectId } = await stack.createProject());
  await stack.createRelationship(projectId, { provider: "rwx", subject });
  dir = scratch();
});
afterAll(() => stack?.stop());

describe("edge-sts with EDGE_STS_OIDC_TOKEN (RWX)", () => {
  it("exchanges the token the run put in EDGE_STS_OIDC_TOKEN", async () => {
    const idToken = await rwxIdToken(stack, subject);
    const result = await runCli(["token", "--url", stack.url, "--project", projectId, "--json"], { env: { EDGE_STS_OIDC_TOKEN: idToken }, dir });
    expect(result.code, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body).toMatchObject({ source: "oidc", ci: "rwx" });
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
