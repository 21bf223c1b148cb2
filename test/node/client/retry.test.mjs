/**
 * Retries: 429 and 503 are retried honouring Retry-After, within bounds; a 4xx never.
 * A stand-in in front of the real worker answers as a busy server would, then lets
 * requests through. PUBLIC_URL is the stand-in's URL, so the discovery document sends the
 * client's exchange and revocation through it.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli, rwxIdToken, scratch } from "./support/ci.mjs";
import { startStack } from "./support/stack.mjs";

let stack;
let projectId;
const subject = `mint:${randomUUID()}:retries`;
/** What the stand-in does with the next requests to a path: `{ status, retryAfter }` answers, anything else forwards. */
const plan = { path: "/token", answers: [] };
const seen = [];
let target;
const proxy = createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const path = new URL(req.url, "http://x").pathname;
  seen.push(path);
  if (path === plan.path && plan.answers.length > 0) {
    const answer = plan.answers[0].forever ? plan.answers[0] : plan.answers.shift();
    const error = answer.status === 429 ? "rate_limited" : "temporarily_unavailable";
    res.writeHead(answer.status, { "content-type": "application/json", ...(answer.retryAfter !== undefined ? { "retry-after": String(answer.retryAfter) } : {}) });
    res.end(JSON.stringify({ error, error_description: `stand-in says ${answer.status}` }));
    return;
  }
  const headers = { ...req.headers };
  delete headers.host;
  const response = await fetch(`${target}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
  // fetch has decoded the body: pass the headers on without the encoding it no longer has.
  const passed = Object.fromEntries([...response.headers].filter(([name]) => name !== "content-encoding" && name !== "content-length"));
  res.writeHead(response.status, passed);
  res.end(Buffer.from(await response.arrayBuffer()));
});

beforeAll(async () => {
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
  stack = await startStack({
    publicUrl: async (workerUrl) => {
      target = workerUrl;
      return proxyUrl;
    },
  });
  stack.proxyUrl = proxyUrl;
  ({ projectId } = await stack.createProject());
  await stack.createRelationship(projectId, { provider: "rwx", subject });
});
afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => proxy.close(resolve));
});
beforeEach(() => {
  plan.path = "/token";
  plan.answers = [];
  seen.length = 0;
});

async function token() {
  const started = Date.now();
  const result = await runCli(["token", "--url", stack.proxyUrl, "--project", projectId], { env: { EDGE_STS_OIDC_TOKEN: await rwxIdToken(stack, subject) }, dir: scratch() });
  return { ...result, elapsedMs: Date.now() - started, tokenRequests: seen.filter((p) => p === "/token").length };
}

describe("retries", () => {
  it("waits out a 503's Retry-After, then succeeds", async () => {
    plan.answers = [{ status: 503, retryAfter: 1 }];
    const result = await token();
    expect(result.code, result.stderr).toBe(0);
    expect(result.tokenRequests).toBe(2);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(1000);
    expect(result.stderr).toContain("answered 503; retrying in 1 s (attempt 2 of 5)");
    expect((await stack.introspect(result.stdout.trim())).active).toBe(true);
  });

  it("waits out a 429's Retry-After, then succeeds", async () => {
    plan.answers = [{ status: 429, retryAfter: 1 }, { status: 429, retryAfter: 0 }];
    const result = await token();
    expect(result.code, result.stderr).toBe(0);
    expect(result.tokenRequests).toBe(3);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(1000);
  });

  it("retries a 503 on the discovery document too", async () => {
    plan.path = "/.well-known/oauth-authorization-server";
    plan.answers = [{ status: 503, retryAfter: 0 }];
    const result = await token();
    expect(result.code, result.stderr).toBe(0);
    expect(seen.filter((p) => p === plan.path)).toHaveLength(2);
  });

  it("gives up after 5 attempts (exit 5), with the server's words and its Retry-After", async () => {
    plan.answers = [{ status: 503, retryAfter: 0, forever: true }];
    const result = await token();
    expect(result.code).toBe(5);
    expect(result.tokenRequests).toBe(5);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("server says: stand-in says 503");
    expect(result.stderr).toContain("the server asked to retry after 0 s");
  });

  it("does not wait for a Retry-After longer than 30 s: exit 5 at once", async () => {
    plan.answers = [{ status: 503, retryAfter: 120 }];
    const result = await token();
    expect(result.code).toBe(5);
    expect(result.tokenRequests).toBe(1);
    expect(result.elapsedMs).toBeLessThan(20_000);
    expect(result.stderr).toContain("retry after 120 s");
  });

  it("never retries a 4xx", async () => {
    const result = await runCli(["token", "--url", stack.proxyUrl, "--project", projectId], {
      env: { EDGE_STS_OIDC_TOKEN: await rwxIdToken(stack, `mint:${randomUUID()}:other`) },
      dir: scratch(),
    });
    expect(result.code).toBe(4);
    expect(seen.filter((p) => p === "/token")).toHaveLength(1);
  });

  it("exec's revocation at exit goes through a 503", async () => {
    plan.path = "/revoke";
    plan.answers = [{ status: 503, retryAfter: 0 }];
    const result = await runCli(["exec", "--url", stack.proxyUrl, "--project", projectId, "--", process.execPath, "-e", "process.stdout.write(process.env.EDGE_STS_TOKEN)"], {
      env: { EDGE_STS_OIDC_TOKEN: await rwxIdToken(stack, subject) },
      dir: scratch(),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(seen.filter((p) => p === "/revoke")).toHaveLength(2);
    expect(await stack.introspect(result.stdout)).toEqual({ active: false });
  });
});

describe("the retry bounds (client/core/http.js, with a recorded sleep)", () => {
  /** A server that always answers `status` with `retryAfter`, counting requests. */
  async function busyServer(status, retryAfter) {
    const server = createServer((req, res) => {
      server.requests++;
      res.writeHead(status, retryAfter === undefined ? {} : { "retry-after": retryAfter }).end("{}");
    });
    server.requests = 0;
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    return server;
  }

  it("stops before the total wait would exceed 60 s", async () => {
    const { send } = await import("../../../client/core/http.js");
    const server = await busyServer(503, "20");
    const waits = [];
    try {
      const response = await send(`http://127.0.0.1:${server.address().port}/`, { sleep: async (ms) => void waits.push(ms) });
      expect(response.status).toBe(503);
      expect(waits).toEqual([20_000, 20_000, 20_000]);
      expect(server.requests).toBe(4);
    } finally {
      server.close();
    }
  });

  it("backs off 1, 2, 4, 8 s without Retry-After, and reads an HTTP-date Retry-After", async () => {
    const { send, parseRetryAfter } = await import("../../../client/core/http.js");
    const server = await busyServer(429);
    const waits = [];
    try {
      await send(`http://127.0.0.1:${server.address().port}/`, { sleep: async (ms) => void waits.push(ms) });
      expect(waits).toEqual([1000, 2000, 4000, 8000]);
      expect(server.requests).toBe(5);
    } finally {
      server.close();
    }
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30);
    expect(parseRetryAfter("soon")).toBeUndefined();
  });

  it("returns any other status at once", async () => {
    const { send } = await import("../../../client/core/http.js");
    for (const status of [400, 401, 403, 404, 409, 500, 502]) {
      const server = await busyServer(status, "1");
      const waits = [];
      try {
        expect((await send(`http://127.0.0.1:${server.address().port}/`, { sleep: async (ms) => void waits.push(ms) })).status).toBe(status);
        expect({ status, requests: server.requests, waits }).toEqual({ status, requests: 1, waits: [] });
      } finally {
        server.close();
      }
    }
  });
});
