/**
 * The service as users meet it: `npm start` (scripts/dev.mjs → `wrangler dev`, whose proxy
 * worker sits between the client and ours), driven over real sockets. In-process tests
 * cannot see what that proxy does to request bodies and connections; these can.
 *
 * - The README's end-of-job command, `curl -X POST -H "Authorization: Bearer $STS_TOKEN"
 *   …/revoke` (no body, no content type), revokes the token; body-less POSTs of
 *   …/tokens and …/pull-tokens create with defaults.
 * - After a refusal that does not read the whole body (413 declared or streamed, 415, 401
 *   before reading), the next request on the same keep-alive connection gets its answer.
 * - A JSON body that repeats a member is refused through the proxy too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubClaims } from "../support/ci-claims.mjs";
import { startDevServer, type DevServer } from "./support/dev-server.js";
import { chunkedBody, RawConnection, rawRequest, type RawResponse } from "./support/raw-http.js";

let sts: DevServer;

beforeAll(async () => {
  sts = await startDevServer();
}, 180_000);

afterAll(async () => {
  await sts?.stop();
});

const json = (response: RawResponse) => JSON.parse(response.body) as Record<string, unknown>;

async function created(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await sts.api(method, path, body);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

/** A project with a GitHub relationship, and a job token minted for it through POST /token. */
async function jobToken(): Promise<{ projectId: string; token: string }> {
  const org = await created("POST", "/v1/orgs", { name: "acme" });
  const project = await created("POST", `/v1/orgs/${String(org.id)}/projects`, { name: "app" });
  const claims = githubClaims(sts.audience, {}, { iss: sts.issuers.github });
  const [owner, repository] = claims.repository.split("/");
  await created("POST", `/v1/projects/${String(project.id)}/trust-relationships`, { provider: "github", owner, repository });
  const response = await fetch(`${sts.url}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
      subject_token: await sts.signIdToken(claims),
      audience: String(project.id),
    }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  expect(response.status, JSON.stringify(body)).toBe(200);
  return { projectId: String(project.id), token: String(body.access_token) };
}

/** Exactly what `curl -X POST -H "Authorization: Bearer …" <url>` sends: no body, no Content-Length, no Content-Type. */
const curlPost = (path: string, bearer: string) =>
  rawRequest("POST", `${sts.url}${path}`, { "user-agent": "curl/8.5.0", accept: "*/*", authorization: `Bearer ${bearer}` });

async function once(bytes: Buffer): Promise<RawResponse> {
  const connection = await RawConnection.open(sts.url);
  try {
    return await connection.request(bytes);
  } finally {
    connection.close();
  }
}

describe("npm start: body-less POSTs", () => {
  it("revokes the job token with the README's end-of-job command (curl: no body, no content type)", async () => {
    const { token } = await jobToken();
    expect((await sts.introspect(token)).active).toBe(true);
    const response = await once(curlPost("/revoke", token));
    expect(response.status, response.body).toBe(200);
    expect(await sts.introspect(token)).toEqual({ active: false });
  });

  it("revokes the job token with a body-less POST that says Content-Length: 0 (fetch)", async () => {
    const { token } = await jobToken();
    const response = await fetch(`${sts.url}/revoke`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(response.status, await response.text()).toBe(200);
    expect(await sts.introspect(token)).toEqual({ active: false });
  });

  it("creates a project token and a pull token from body-less POSTs, with the defaults", async () => {
    const { projectId } = await jobToken();
    const token = await once(curlPost(`/v1/projects/${projectId}/tokens`, sts.vars.ADMIN_TOKEN!));
    expect(token.status, token.body).toBe(201);
    expect(json(token).description).toBe("");
    const pull = await once(curlPost(`/v1/projects/${projectId}/pull-tokens`, sts.vars.ADMIN_TOKEN!));
    expect(pull.status, pull.body).toBe(201);
    const { token: pullToken, expires_at } = json(pull) as { token: string; expires_at: number };
    expect((await sts.introspect(pullToken)).token_use).toBe("pull");
    expect(expires_at - Math.floor(Date.now() / 1000)).toBeGreaterThan(3500);
  });

  it("answers a body-less POST /introspect by naming the missing token, not with 415", async () => {
    const response = await once(curlPost("/introspect", sts.vars.INTROSPECTION_TOKEN!));
    expect(response.status).toBe(400);
    expect(json(response)).toMatchObject({ error: "invalid_request", error_description: "token: is required" });
  });
});

describe("npm start: the connection survives a refusal", () => {
  const BIG = 40 * 1024;
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const refusals: [string, () => Buffer, number][] = [
    ["413 for a declared body over 32 KiB", () => rawRequest("POST", `${sts.url}/token`, form, "a".repeat(BIG)), 413],
    ["413 for a larger one (2 MiB)", () => rawRequest("POST", `${sts.url}/token`, form, "a".repeat(2 * 1024 * 1024)), 413],
    ["413 for a chunked body that runs past 32 KiB", () => rawRequest("POST", `${sts.url}/token`, { ...form, "transfer-encoding": "chunked" }, chunkedBody(BIG)), 413],
    ["413 for a chunked body of 2 MiB", () => rawRequest("POST", `${sts.url}/token`, { ...form, "transfer-encoding": "chunked" }, chunkedBody(2 * 1024 * 1024)), 413],
    [
      "413 for a settings-page form post over 32 KiB",
      () => rawRequest("POST", `${sts.url}/settings/sign-in`, { ...form, origin: sts.url, "sec-fetch-site": "same-origin", "transfer-encoding": "chunked" }, chunkedBody(BIG)),
      413,
    ],
    ["415 for a body of another type", () => rawRequest("POST", `${sts.url}/token`, { "content-type": "text/plain" }, "a".repeat(BIG)), 415],
    ["401 before the body is read", () => rawRequest("POST", `${sts.url}/v1/orgs`, { "content-type": "application/json" }, `{"name":"${"a".repeat(BIG)}"}`), 401],
    [
      "400 for a JSON body that repeats a member",
      () => rawRequest("POST", `${sts.url}/v1/orgs`, { "content-type": "application/json", authorization: `Bearer ${sts.vars.ADMIN_TOKEN}` }, '{"name":"a","name":"b"}'),
      400,
    ],
  ];

  for (const [label, refused, status] of refusals) {
    it(`answers the next request on the same connection after a ${label}`, async () => {
      const { token } = await jobToken();
      const connection = await RawConnection.open(sts.url);
      try {
        const first = await connection.request(refused());
        expect(first.status, first.body).toBe(status);
        // A real request with a body of its own, so the connection's framing is exercised too.
        const next = await connection.request(
          rawRequest("POST", `${sts.url}/introspect`, { ...form, authorization: `Bearer ${sts.vars.INTROSPECTION_TOKEN}` }, new URLSearchParams({ token }).toString()),
          20_000,
        );
        expect(next.status, next.body).toBe(200);
        expect(json(next)).toMatchObject({ active: true, token_use: "oidc" });
        const third = await connection.request(rawRequest("GET", `${sts.url}/healthz`), 20_000);
        expect(third.status).toBe(200);
      } finally {
        connection.close();
      }
    });
  }
});

describe("npm start: one meaning per body", () => {
  it("refuses a JSON body that repeats a member, through the proxy too", async () => {
    const response = await once(
      rawRequest("POST", `${sts.url}/v1/orgs`, { authorization: `Bearer ${sts.vars.ADMIN_TOKEN}`, "content-type": "application/json" }, '{"name":"acme","n\\u0061me":"evil"}'),
    );
    expect(response.status).toBe(400);
    expect(json(response)).toEqual({ error: "invalid_request", error_description: "name: must not be repeated" });
  });

  it("refuses a relationship whose conditions repeat a claim", async () => {
    const { projectId } = await jobToken();
    const response = await once(
      rawRequest(
        "POST",
        `${sts.url}/v1/projects/${projectId}/trust-relationships`,
        { authorization: `Bearer ${sts.vars.ADMIN_TOKEN}`, "content-type": "application/json" },
        '{"provider":"github","owner":"acme","repository":"app","conditions":{"ref":"refs/heads/main","ref":"*"}}',
      ),
    );
    expect(response.status).toBe(400);
    expect(json(response).error_description).toBe("conditions.ref: must not be repeated");
  });
});
