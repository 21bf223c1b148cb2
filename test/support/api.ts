/**
 * Wire helpers: requests into the worker under test through `exports` (its real fetch
 * handler, in workerd), each response held to the OpenAPI document, and seed helpers that
 * use the admin API as an operator would.
 */
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { expectDocumented } from "./conformance";

export const BASE = "https://sts.test";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";

/** Every response is checked against the OpenAPI document first (conformance.ts). */
export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const request = new Request(`${BASE}${path}`, init);
  const response = await exports.default.fetch(request);
  await expectDocumented(request, response);
  return response;
}

export function admin(method: string, path: string, body?: unknown, token: string = env.ADMIN_TOKEN): Promise<Response> {
  return call(path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** POST /token as a CI client would (form-encoded). */
export function exchangeToken(subjectToken: string, extra: Record<string, string> = {}): Promise<Response> {
  const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ID_TOKEN, ...extra });
  return call("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
}

/** Asserts an RFC 6749 error response and returns its body. */
export async function expectError(response: Response, status: number, error: string) {
  const body = (await response.json()) as { error: string; error_description: string };
  expect({ status: response.status, error: body.error }).toEqual({ status, error });
  expect(response.headers.get("cache-control")).toBe("no-store");
  return body;
}

export async function createOrg(name = "acme"): Promise<string> {
  const response = await admin("POST", "/v1/orgs", { name });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

export async function createProject(orgId?: string, name = "app"): Promise<{ orgId: string; projectId: string }> {
  const org = orgId ?? (await createOrg());
  const response = await admin("POST", `/v1/orgs/${org}/projects`, { name });
  expect(response.status).toBe(201);
  return { orgId: org, projectId: ((await response.json()) as { id: string }).id };
}

export async function createRelationship(projectId: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await admin("POST", `/v1/projects/${projectId}/trust-relationships`, body);
  const json = (await response.json()) as Record<string, unknown>;
  expect(response.status, JSON.stringify(json)).toBe(201);
  return json;
}

/** Decodes a JWT's payload without verifying it (tests only). */
export function decodeJwt(token: string): Record<string, unknown> {
  return JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
}

export function decodeHeader(token: string): Record<string, unknown> {
  return JSON.parse(atob(token.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/")));
}
