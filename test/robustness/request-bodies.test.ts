/**
 * Request bodies at every route that reads one (src/routes/body.ts), in-process:
 * - one meaning per body: a JSON body that repeats a member, at any depth, is refused like a
 *   repeated form parameter (400 `invalid_request`) and changes nothing;
 * - a Content-Length that is not a number of bytes is a malformed request (400), not a large one;
 * - no content type and an empty body mean no parameters, whether the runtime hands the
 *   worker a null body (Miniflare, the edge) or an empty stream (`wrangler dev`);
 * - a refused body is never cancelled: one read in part is read to its end, one not read is
 *   left alone (what keeps the client's connection usable behind `wrangler dev`; the same
 *   through `npm start` is in test/node/npm-start.test.ts).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, BASE, call, createProject, decodeJwt, expectError } from "../support/api";
import { callWorker, replayRecorded } from "../support/exchange-forge";
import { seedGithub } from "../support/exchange-seed";
import { githubClaims, ISSUERS, signToken } from "../support/issuer";
import { introspect, mintJobToken } from "../tenancy/helpers";
import { SAME_ORIGIN, UiBrowser } from "../ui/support";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";

/** A raw JSON text (duplicates cannot be built with JSON.stringify). */
const postJson = (path: string, text: string, bearer?: string) =>
  call(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: text,
  });

/** What `wrangler dev` hands the worker for a POST without a body: a stream with nothing in it. */
const emptyStream = () =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.close();
    },
  });

async function rowCount(table: string): Promise<number> {
  return (await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first<{ n: number }>())!.n;
}

describe("one meaning per JSON body", () => {
  it("refuses a repeated member at POST /token and spends nothing", async () => {
    const seeded = await seedGithub();
    const token = await signToken(ISSUERS.github, seeded.claims);
    const other = await createProject();
    // JSON.parse would keep the last audience: the project that admits the token.
    const text = `{"grant_type":"${TOKEN_EXCHANGE}","subject_token_type":"${ID_TOKEN}","subject_token":"${token}","audience":"${other.projectId}","audience":"${seeded.projectId}"}`;
    const body = await expectError(await postJson("/token", text), 400, "invalid_request");
    expect(body.error_description).toBe("audience: must not be repeated");
    expect(await replayRecorded(ISSUERS.github, String(seeded.claims.jti))).toBe(false);
  });

  it("compares names decoded: an escaped spelling of subject_token is the same member", async () => {
    const seeded = await seedGithub();
    const token = await signToken(ISSUERS.github, seeded.claims);
    const text = `{"grant_type":"${TOKEN_EXCHANGE}","subject_token_type":"${ID_TOKEN}","subject_token":"junk","\\u0073ubject_token":"${token}"}`;
    const body = await expectError(await postJson("/token", text), 400, "invalid_request");
    expect(body.error_description).toBe("subject_token: must not be repeated");
    expect(await replayRecorded(ISSUERS.github, String(seeded.claims.jti))).toBe(false);
  });

  it("refuses a repeated token at POST /introspect", async () => {
    const { projectId } = await createProject();
    const { token } = await mintJobToken(projectId);
    const body = await expectError(await postJson("/introspect", `{"token":"junk","token":"${token}"}`, env.INTROSPECTION_TOKEN), 400, "invalid_request");
    expect(body.error_description).toBe("token: must not be repeated");
  });

  it("refuses a repeated token at POST /revoke and revokes neither", async () => {
    const { projectId } = await createProject();
    const first = await mintJobToken(projectId);
    const second = await mintJobToken(projectId);
    await expectError(await postJson("/revoke", `{"token":"${first.token}","token":"${second.token}"}`), 400, "invalid_request");
    expect((await introspect(first.token)).active).toBe(true);
    expect((await introspect(second.token)).active).toBe(true);
  });

  it("refuses a repeated member in the admin API and creates nothing", async () => {
    const before = await rowCount("organizations");
    const body = await expectError(await postJson("/v1/orgs", '{"name":"acme","name":"evil"}', env.ADMIN_TOKEN), 400, "invalid_request");
    expect(body.error_description).toBe("name: must not be repeated");
    expect(await rowCount("organizations")).toBe(before);
  });

  it("refuses a relationship whose conditions repeat a claim, naming where, and stores no relationship", async () => {
    const { projectId } = await createProject();
    const claims = githubClaims();
    const [owner, repository] = String(claims.repository).split("/");
    // Read as its last value, this relationship would admit any branch.
    const text = `{"provider":"github","owner":"${owner}","repository":"${repository}","conditions":{"ref":"refs/heads/main","r\\u0065f":"*"}}`;
    const body = await expectError(await postJson(`/v1/projects/${projectId}/trust-relationships`, text, env.ADMIN_TOKEN), 400, "invalid_request");
    expect(body.error_description).toBe("conditions.ref: must not be repeated");
    const list = (await (await admin("GET", `/v1/projects/${projectId}/trust-relationships`)).json()) as { trust_relationships: unknown[] };
    expect(list.trust_relationships).toEqual([]);
  });

  it("refuses a repeat inside an array of objects, even in a member the route would ignore", async () => {
    const body = await expectError(await postJson("/introspect", '{"token":"x","extra":[{"a":1},{"a":1,"a":2}]}', env.INTROSPECTION_TOKEN), 400, "invalid_request");
    expect(body.error_description).toBe("extra.1.a: must not be repeated");
  });

  it("accepts the same name in different objects", async () => {
    const { projectId } = await createProject();
    const claims = githubClaims();
    const [owner, repository] = String(claims.repository).split("/");
    const text = `{"provider":"github","owner":"${owner}","repository":"${repository}","description":"ref","conditions":{"ref":"refs/heads/main","workflow":"ref"}}`;
    expect((await postJson(`/v1/projects/${projectId}/trust-relationships`, text, env.ADMIN_TOKEN)).status).toBe(201);
  });

  it("refuses JSON nested deeper than 32 levels as malformed", async () => {
    // 5,000 levels is as deep as 32 KiB allows.
    for (const depth of [33, 5_000]) {
      const text = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
      const body = await expectError(await postJson("/v1/orgs", text, env.ADMIN_TOKEN), 400, "invalid_request");
      expect(body.error_description).toBe("request body could not be parsed");
    }
  });

  it("never echoes a repeated name that is not printable ASCII", async () => {
    const body = await expectError(await postJson("/v1/orgs", `{"name":"a","\\u0000${"x".repeat(200)}":1,"\\u0000${"x".repeat(200)}":2}`, env.ADMIN_TOKEN), 400, "invalid_request");
    expect(body.error_description).toMatch(/^[\x20-\x7e…]+$/);
    expect(body.error_description.length).toBeLessThan(120);
  });
});

describe("Content-Length", () => {
  const send = (length: string) =>
    callWorker(
      new Request(`${BASE}/v1/orgs`, {
        method: "POST",
        headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json", "content-length": length },
        body: '{"name":"acme"}',
      }),
      {},
    );

  // (Surrounding spaces are not on the list: HTTP strips them from every header value.)
  for (const length of ["abc", "-1", "+15", "1e3", "0x10", "15.0", "1 5", "15, 15", ""]) {
    it(`answers 400, not 413, to Content-Length ${JSON.stringify(length)}`, async () => {
      const before = await rowCount("organizations");
      const body = await expectError(await send(length), 400, "invalid_request");
      expect(body.error_description).toBe("request body could not be parsed");
      expect(await rowCount("organizations")).toBe(before);
    });
  }

  it("answers 413 to a well-formed Content-Length over 32 KiB, however many digits it has", async () => {
    for (const length of ["32769", "99999999999999999999999"]) await expectError(await send(length), 413, "invalid_request");
  });

  it("reads the body when the Content-Length is well-formed and small", async () => {
    const response = await send("15");
    expect(response.status).toBe(201);
  });
});

describe("no content type and an empty body: no parameters", () => {
  for (const [label, body] of [
    ["a null body", () => undefined],
    ["an empty stream (wrangler dev)", emptyStream],
  ] as const) {
    it(`revokes the bearer token at POST /revoke with ${label} (the README's end-of-job command)`, async () => {
      const { projectId } = await createProject();
      const { token } = await mintJobToken(projectId);
      const response = await call("/revoke", { method: "POST", headers: { authorization: `Bearer ${token}` }, body: body() });
      expect(response.status).toBe(200);
      expect(await introspect(token)).toEqual({ active: false });
    });

    it(`creates a project token and a pull token with defaults from ${label}`, async () => {
      const { projectId } = await createProject();
      const auth = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
      const created = await call(`/v1/projects/${projectId}/tokens`, { method: "POST", headers: auth, body: body() });
      expect(created.status).toBe(201);
      expect(((await created.json()) as { description: string }).description).toBe("");
      const pull = await call(`/v1/projects/${projectId}/pull-tokens`, { method: "POST", headers: auth, body: body() });
      expect(pull.status).toBe(201);
      const { token, expires_at } = (await pull.json()) as { token: string; expires_at: number };
      expect(expires_at - Number(decodeJwt(token).iat)).toBe(3600);
    });

    it(`names the missing field, not the media type, with ${label} where fields are required`, async () => {
      const auth = { authorization: `Bearer ${env.INTROSPECTION_TOKEN}` };
      const introspected = await expectError(await call("/introspect", { method: "POST", headers: auth, body: body() }), 400, "invalid_request");
      expect(introspected.error_description).toBe("token: is required");
      const exchanged = await expectError(await call("/token", { method: "POST", body: body() }), 400, "invalid_request");
      expect(exchanged.error_description).toBe("grant_type: is required");
      const org = await expectError(await call("/v1/orgs", { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` }, body: body() }), 400, "invalid_request");
      expect(org.error_description).toBe("name: is required");
    });
  }

  it("still answers 415 to content without a content type", async () => {
    const { projectId } = await createProject();
    const response = await call(`/v1/projects/${projectId}/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` },
      body: new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"description":"x"}'));
          controller.close();
        },
      }),
    });
    await expectError(response, 415, "invalid_request");
  });

  it("keeps a declared JSON body to JSON's rules: empty is malformed", async () => {
    const { projectId } = await createProject();
    await expectError(await postJson(`/v1/projects/${projectId}/tokens`, "", env.ADMIN_TOKEN), 400, "invalid_request");
  });
});

/** A request body that records how it was consumed. */
function observedBody(chunks: number, chunkBytes = 8 * 1024) {
  const seen = { pulled: 0, cancelled: false, finished: false };
  const chunk = new TextEncoder().encode("a".repeat(chunkBytes));
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled === chunks) {
        seen.finished = true;
        controller.close();
        return;
      }
      seen.pulled++;
      controller.enqueue(chunk);
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

describe("a refused body is never cancelled", () => {
  const post = (path: string, headers: Record<string, string>, body: ReadableStream<Uint8Array>) =>
    callWorker(new Request(`${BASE}${path}`, { method: "POST", headers, body }), {});

  it("reads a streamed body that runs past 32 KiB to its end before answering 413", async () => {
    const { stream, seen } = observedBody(64);
    await expectError(await post("/token", { "content-type": "application/x-www-form-urlencoded" }, stream), 413, "invalid_request");
    expect(seen).toEqual({ pulled: 64, cancelled: false, finished: true });
  });

  it("reads a body that is not UTF-8 to its end before answering 400", async () => {
    const seen = { cancelled: false };
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([0x7b, 0xff, 0xfe]));
        controller.enqueue(new Uint8Array(1024));
        controller.close();
      },
      cancel() {
        seen.cancelled = true;
      },
    });
    await expectError(await post("/v1/orgs", { "content-type": "application/json", authorization: `Bearer ${env.ADMIN_TOKEN}` }, stream), 400, "invalid_request");
    expect(seen.cancelled).toBe(false);
    expect(stream.locked).toBe(false);
  });

  it("reads the settings page's form post that runs past 32 KiB to its end too", async () => {
    const browser = new UiBrowser();
    const { stream, seen } = observedBody(64);
    const response = await browser.fetch("/settings/sign-in", {
      method: "POST",
      headers: { ...SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
      body: stream,
    });
    expect(response.status).toBe(413);
    expect(seen).toEqual({ pulled: 64, cancelled: false, finished: true });
  });

  for (const [label, path, headers, status] of [
    ["a declared length over 32 KiB (413)", "/token", { "content-type": "application/x-www-form-urlencoded", "content-length": "65536" }, 413],
    ["an unsupported content type (415)", "/token", { "content-type": "text/plain" }, 415],
    ["no credential (401)", "/v1/orgs", { "content-type": "application/json" }, 401],
  ] as const) {
    it(`leaves the body alone for the runtime to drain on ${label}`, async () => {
      const { stream, seen } = observedBody(8);
      const response = await post(path, headers, stream);
      expect(response.status).toBe(status);
      expect(seen.cancelled).toBe(false);
      expect(stream.locked).toBe(false);
    });
  }
});
