/**
 * `GET /openapi.json`: the served document is exactly what the routes' schemas make now
 * (so the committed, generated file cannot drift), it documents exactly the routes the app
 * serves, its example relationships are accepted, and the conformance check every wire
 * helper applies (test/support/conformance.ts) really refuses what the document does not
 * say. That the document is valid OpenAPI 3.1 is checked in Node (test/node/openapi).
 */
import { describe, expect, it } from "vitest";
import * as z from "../../src/schema";
import { parseRelationship, RelationshipBody } from "../../src/admin/trust-relationships";
import { app } from "../../src/app";
import { PROVIDER_NAMES } from "../../src/providers/registry";
import { RELATIONSHIP_EXAMPLES } from "../../src/routes/admin";
import OPENAPI_JSON from "../../public/openapi.json?raw";
import { openApiDocument } from "../../src/routes/document";
import { buildDocument, OPERATIONS } from "../../src/routes/operations";
import { admin, BASE, call, createProject } from "../support/api";
import { expectDocumented } from "../support/conformance";

/** `app.use` middleware is registered for every method (`ALL`) on a wildcard path; routes are not. */
const isMiddleware = (route: { method: string; path: string }) => route.method === "ALL" && route.path.endsWith("*");

describe("GET /openapi.json", () => {
  it("serves the document the routes' schemas make now (run npm run openapi when this fails)", async () => {
    const response = await call("/openapi.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
    const served = await response.json();
    expect(served).toEqual(buildDocument());
    expect(served).toEqual(JSON.parse(OPENAPI_JSON));
  });

  it("documents exactly the routes the app serves, no more and no fewer", () => {
    const served = app.routes.filter((r) => !isMiddleware(r)).map((r) => `${r.method} ${r.path}`);
    const documented = Object.keys(OPERATIONS).map((key) => key.replace(/\{([^}]+)\}/g, ":$1"));
    expect(new Set(served).size).toBe(served.length);
    expect([...served].sort()).toEqual([...documented].sort());
  });

  it("shows one example relationship per provider, each accepted by the door's parser and the documented schema", () => {
    const examples = JSON.parse(OPENAPI_JSON).paths["/v1/projects/{project_id}/trust-relationships"].post.requestBody.content[
      "application/json"
    ].examples as Record<string, { value: Record<string, unknown> }>;
    expect(Object.keys(examples).sort()).toEqual([...PROVIDER_NAMES].sort());
    for (const provider of PROVIDER_NAMES) {
      const body = examples[provider]!.value;
      expect(body.provider).toBe(provider);
      expect(parseRelationship(body).provider).toBe(provider);
      expect(RelationshipBody.safeParse(body).success, provider).toBe(true);
    }
  });

  it("creates each example relationship through the API, answered as documented", async () => {
    const { projectId } = await createProject();
    for (const provider of PROVIDER_NAMES) {
      const response = await admin("POST", `/v1/projects/${projectId}/trust-relationships`, RELATIONSHIP_EXAMPLES[provider].value);
      expect(response.status, await response.clone().text()).toBe(201);
      expect(((await response.json()) as { provider: string }).provider).toBe(provider);
    }
    const listed = await admin("GET", `/v1/projects/${projectId}/trust-relationships`);
    expect(listed.status).toBe(200);
  });

  it("refuses, in the documented schema as at the door, a relationship with an unknown field or without a required one", () => {
    for (const provider of PROVIDER_NAMES) {
      const example = RELATIONSHIP_EXAMPLES[provider].value as Record<string, unknown>;
      const required = Object.keys(example).find((k) => !["provider", "conditions", "description", "token_ttl_seconds"].includes(k))!;
      const { [required]: _dropped, ...missing } = example;
      for (const body of [{ ...example, unknown_field: "x" }, missing, { ...example, provider: "jenkins" }]) {
        expect(() => parseRelationship(body), `${provider}: ${JSON.stringify(body)}`).toThrow();
        expect(RelationshipBody.safeParse(body).success, `${provider}: ${JSON.stringify(body)}`).toBe(false);
      }
    }
  });
});

describe("the generator", () => {
  const info = { title: "t", version: "1", description: "d" };
  const withBody = (schema: z.Schema) =>
    openApiDocument(
      { "POST /x": { tag: "discovery", summary: "x", security: "none", body: { media: "json", schema, required: true }, responses: {}, errors: [] } },
      info,
    );

  it("refuses a regex whose flags JSON Schema cannot carry, rather than document another pattern", () => {
    expect(() => withBody(z.object({ slug: z.string().check(z.regex(/^[a-z]+$/i)) }))).toThrow(/flags/);
    expect(() => withBody(z.object({ slug: z.string().check(z.regex(/^[A-Za-z]+$/)) }))).not.toThrow();
  });

  it("refuses one component name for two different schemas", () => {
    const a = z.object({ a: z.string() });
    const b = z.object({ b: z.string() });
    const op = (schema: z.Schema) => ({ tag: "discovery" as const, summary: "x", security: "none" as const, responses: { 200: { description: "x", schema } }, errors: [] });
    // One name, converted as input and as output differently (a default makes the field optional on input only).
    const withDefault = z.object({ n: z._default(z.number(), 1) });
    expect(() =>
      openApiDocument(
        { "GET /a": op(withDefault), "POST /b": { ...op(a), body: { media: "json", schema: withDefault, required: true } } },
        info,
        { Thing: withDefault },
      ),
    ).toThrow(/Thing/);
    expect(() => openApiDocument({ "GET /a": op(a), "GET /b": op(b) }, info, { A: a, B: b })).not.toThrow();
  });
});

describe("the conformance check every wire helper applies", () => {
  const get = (path: string) => new Request(`${BASE}${path}`);
  const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  const org = { id: "org_0123456789abcdef01234567", name: "acme", created_at: 1 };
  // Every answer of the admin API carries its D1 bookmark (read replicas).
  const bookmark = { "sts-bookmark": `00000000-00000001-00000000-${"0".repeat(32)}` };

  it("accepts a documented status with a body that matches its schema", async () => {
    await expectDocumented(get(`/v1/orgs/${org.id}`), json(org, 200, bookmark));
    await expectDocumented(get(`/v1/orgs/${org.id}`), json({ error: "not_found", error_description: "no such resource" }, 404));
  });

  it("refuses a status the route does not document", async () => {
    await expect(expectDocumented(get(`/v1/orgs/${org.id}`), json(org, 201))).rejects.toThrow(/not documented/);
    await expect(expectDocumented(get("/healthz"), json({ error: "conflict", error_description: "x" }, 409))).rejects.toThrow(
      /not documented/,
    );
  });

  it("refuses a body with a member the schema does not have, a wrong type, or a missing member", async () => {
    const where = get(`/v1/orgs/${org.id}`);
    await expect(expectDocumented(where, json({ ...org, secret: "x" }, 200, bookmark))).rejects.toThrow(/documented schema/);
    await expect(expectDocumented(where, json({ ...org, created_at: "yesterday" }, 200, bookmark))).rejects.toThrow(/documented schema/);
    await expect(expectDocumented(where, json({ id: org.id, name: "acme" }, 200, bookmark))).rejects.toThrow(/documented schema/);
    await expect(expectDocumented(where, json({ error: "teapot", error_description: "x" }, 404))).rejects.toThrow(/documented schema/);
  });

  it("refuses a missing documented header, and a body where none is documented", async () => {
    const limited = json({ error: "rate_limited", error_description: "slow down" }, 429);
    await expect(expectDocumented(get(`/v1/orgs/${org.id}`), limited)).rejects.toThrow(/Retry-After/);
    // The admin API's bookmark (a header documented once, by reference, for every route).
    await expect(expectDocumented(get(`/v1/orgs/${org.id}`), json(org, 200))).rejects.toThrow(/Sts-Bookmark/);
    const revoke = new Request(`${BASE}/revoke`, { method: "POST" });
    await expectDocumented(revoke, new Response(null, { status: 200 }));
    await expect(expectDocumented(revoke, json({ revoked: true }, 200))).rejects.toThrow(/without a body/);
  });

  it("holds a settings page route to HTML, and a redirect to its Location", async () => {
    await expectDocumented(get("/settings/account"), new Response("<!DOCTYPE html><p>", { status: 200, headers: { "content-type": "text/html; charset=UTF-8" } }));
    await expect(expectDocumented(get("/settings/account"), json({ ok: true }, 200))).rejects.toThrow(/documented text\/html/);
    await expect(expectDocumented(get("/settings/account"), new Response(null, { status: 303 }))).rejects.toThrow(/Location/);
  });

  it("holds a request no route matches to the error shape", async () => {
    await expectDocumented(get("/nowhere"), json({ error: "not_found", error_description: "no such endpoint" }, 404));
    await expect(expectDocumented(get("/nowhere"), json({ ok: true }, 404))).rejects.toThrow(/no documented route/);
  });
});
