/**
 * `edge-sts exec`: the command runs with EDGE_STS_TOKEN, and the token is revoked at exit
 * whatever the exit — success, failure, a missing command, SIGTERM or SIGINT forwarded to
 * the command. The ID token comes from RWX's variable (the simplest CI to simulate); the
 * exec path is the same for every CI.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, rwxIdToken, scratch } from "./support/ci.mjs";
import { startStack } from "./support/stack.mjs";

let stack;
let projectId;
const subject = `mint:${randomUUID()}:deploy`;

beforeAll(async () => {
  stack = await startStack();
  ({ projectId } = await stack.createProject());
  await stack.createRelationship(projectId, { provider: "rwx", subject });
});
afterAll(() => stack?.stop());

/**
 * The command the job runs: records what it sees (its token, whether the token is active
 * right now at /introspect, whether the ID token leaked into its environment), then
 * behaves as `mode` says.
 */
const CHILD = `
const { writeFileSync } = require("node:fs");
const [record, mode, introspectUrl, introspectToken] = process.argv.slice(1);
(async () => {
  const token = process.env.EDGE_STS_TOKEN;
  const response = await fetch(introspectUrl, { method: "POST", headers: { authorization: "Bearer " + introspectToken, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token }) });
  const seen = { token, active: (await response.json()).active, url: process.env.EDGE_STS_URL, project: process.env.EDGE_STS_PROJECT, idTokenVisible: "EDGE_STS_OIDC_TOKEN" in process.env };
  writeFileSync(record, JSON.stringify(seen));
  if (mode === "fail") process.exit(7);
  if (mode === "wait") {
    process.on("SIGTERM", () => { writeFileSync(record + ".signal", "SIGTERM"); process.removeAllListeners("SIGTERM"); process.kill(process.pid, "SIGTERM"); });
    process.on("SIGINT", () => { writeFileSync(record + ".signal", "SIGINT"); process.removeAllListeners("SIGINT"); process.kill(process.pid, "SIGINT"); });
    writeFileSync(record + ".ready", "");
    // Bounded, so a broken exec can never leave this process behind.
    setTimeout(() => process.exit(99), 20000);
  }
})();
`;

async function exec(mode, { signal } = {}) {
  const dir = scratch();
  const record = join(dir, "seen.json");
  const env = { EDGE_STS_OIDC_TOKEN: await rwxIdToken(stack, subject) };
  const introspection = stack.introspectionEndpoint;
  let sent = false;
  const result = await runCli(
    ["exec", "--url", stack.url, "--project", projectId, "--", process.execPath, "-e", CHILD, record, mode, introspection.url, introspection.token],
    {
      env,
      dir,
      onSpawn: signal
        ? (child) => {
            const poll = setInterval(() => {
              if (!sent && existsSync(`${record}.ready`)) {
                sent = true;
                clearInterval(poll);
                child.kill(signal);
              }
            }, 20);
            child.on("close", () => clearInterval(poll));
          }
        : undefined,
    },
  );
  const seen = existsSync(record) ? JSON.parse(readFileSync(record, "utf8")) : undefined;
  const receivedSignal = existsSync(`${record}.signal`) ? readFileSync(`${record}.signal`, "utf8") : undefined;
  return { ...result, seen, receivedSignal };
}

describe("edge-sts exec", () => {
  it("runs the command with an active EDGE_STS_TOKEN (not the ID token) and revokes it when the command succeeds", async () => {
    const result = await exec("ok");
    expect(result.code, result.stderr).toBe(0);
    expect(result.seen).toMatchObject({ active: true, url: stack.url, project: projectId, idTokenVisible: false });
    expect(result.stderr).toContain("token revoked");
    expect(await stack.introspect(result.seen.token)).toEqual({ active: false });
  });

  it("exits with the command's status and still revokes when the command fails", async () => {
    const result = await exec("fail");
    expect(result.code).toBe(7);
    expect(result.seen.active).toBe(true);
    expect(await stack.introspect(result.seen.token)).toEqual({ active: false });
  });

  it("on SIGTERM: forwards it to the command, revokes, and exits 128+15", async () => {
    const result = await exec("wait", { signal: "SIGTERM" });
    expect(result.receivedSignal).toBe("SIGTERM");
    expect(result.code).toBe(143);
    expect(result.seen.active).toBe(true);
    expect(await stack.introspect(result.seen.token)).toEqual({ active: false });
  });

  it("on SIGINT: forwards it to the command, revokes, and exits 128+2", async () => {
    const result = await exec("wait", { signal: "SIGINT" });
    expect(result.receivedSignal).toBe("SIGINT");
    expect(result.code).toBe(130);
    expect(await stack.introspect(result.seen.token)).toEqual({ active: false });
  });

  it("a command that does not exist exits 127, and the minted token is revoked all the same", async () => {
    const dir = scratch();
    const before = stack.countRequests("/revoke");
    const result = await runCli(["exec", "--url", stack.url, "--project", projectId, "--", "no-such-command-here"], {
      env: { EDGE_STS_OIDC_TOKEN: await rwxIdToken(stack, subject) },
      dir,
    });
    expect(result.code).toBe(127);
    expect(result.stderr).toContain("command not found");
    expect(stack.countRequests("/revoke")).toBe(before + 1);
  });

  it("a credential it was given (EDGE_STS_TOKEN) is passed through and not revoked", async () => {
    const given = JSON.parse((await runCli(["token", "--url", stack.url, "--project", projectId, "--json"], { env: { EDGE_STS_OIDC_TOKEN: await rwxIdToken(stack, subject) } })).stdout).token;
    const result = await runCli(["exec", "--url", stack.url, "--project", projectId, "--", process.execPath, "-e", "process.stdout.write(process.env.EDGE_STS_TOKEN)"], {
      env: { EDGE_STS_TOKEN: given },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(given);
    expect(result.stderr).toContain("not revoked at exit");
    expect((await stack.introspect(given)).active).toBe(true);
  });

  it("is a usage error (exit 2) without -- or without a command, before minting anything", async () => {
    const before = stack.countRequests("/token");
    const noSeparator = await runCli(["exec", "--url", stack.url, "--project", projectId, "make"], { env: { EDGE_STS_OIDC_TOKEN: "x.y.z" } });
    expect(noSeparator.code).toBe(2);
    expect(noSeparator.stderr).toContain("put -- before the command");
    const noCommand = await runCli(["exec", "--url", stack.url, "--project", projectId, "--"], { env: { EDGE_STS_OIDC_TOKEN: "x.y.z" } });
    expect(noCommand.code).toBe(2);
    expect(stack.countRequests("/token")).toBe(before);
  });

  it("when the exchange is refused, the command does not run (exit 4)", async () => {
    const dir = scratch();
    const result = await runCli(["exec", "--url", stack.url, "--project", projectId, "--", process.execPath, "-e", "require('fs').writeFileSync('ran', '')"], {
      env: { EDGE_STS_OIDC_TOKEN: await rwxIdToken(stack, `mint:${randomUUID()}:other`) },
      dir,
    });
    expect(result.code).toBe(4);
    expect(existsSync(join(dir, "ran"))).toBe(false);
  });
});
