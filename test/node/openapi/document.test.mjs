/**
 * The document a running worker serves at `GET /openapi.json` is valid OpenAPI 3.1, as
 * judged by a maintained validator of the specification's own JSON Schema
 * (@seriousme/openapi-schema-validator), with every `$ref` resolving. It runs here, in
 * Node, because the validator compiles schemas with `new Function`, which workerd forbids;
 * what the document says about each route is tested in workerd (test/openapi).
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack } from "../client/support/stack.mjs";

/** @type {Awaited<ReturnType<typeof startStack>>} */
let stack;
/** @type {Record<string, any>} */
let served;

beforeAll(async () => {
  stack = await startStack();
  const response = await fetch(`${stack.url}/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  served = await response.json();
});
afterAll(() => stack?.stop());

describe("GET /openapi.json from a running worker", () => {
  it("is a valid OpenAPI 3.1 document whose every $ref resolves", async () => {
    const validator = new Validator();
    const result = await validator.validate(served);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    const resolved = validator.resolveRefs();
    expect(JSON.stringify(resolved)).not.toContain('"$ref"');
  });

  it("names a bearer scheme for the admin API, for introspection, and for revocation's optional one; none for /token", () => {
    const schemes = served.components.securitySchemes;
    for (const name of ["credential", "introspection", "minted_token"]) expect(schemes[name]).toMatchObject({ type: "http", scheme: "bearer" });
    expect(schemes.session).toMatchObject({ type: "apiKey", in: "cookie", name: "__Host-sts_session" });
    expect(served.paths["/token"].post.security).toEqual([]);
    expect(served.paths["/introspect"].post.security).toEqual([{ introspection: [] }]);
    expect(served.paths["/revoke"].post.security).toEqual([{}, { minted_token: [] }]);
    expect(served.paths["/v1/orgs/{org_id}"].get.security).toEqual([{ credential: [] }]);
  });

  it("is refused by the same validator once broken, so the check above can fail", async () => {
    /** @type {Record<string, any>} */
    const broken = structuredClone(served);
    delete broken.paths["/token"].post.responses["200"].description; // required by the Response Object
    const result = await new Validator().validate(broken);
    expect(result.valid).toBe(false);

    /** @type {Record<string, any>} */
    const dangling = structuredClone(served);
    dangling.paths["/token"].post.responses["400"] = { $ref: "#/components/responses/Nowhere" };
    const validator = new Validator();
    const outcome = await validator.validate(dangling).catch((error) => ({ valid: false, errors: String(error) }));
    expect(outcome.valid).toBe(false);
  });
});
