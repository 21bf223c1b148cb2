/**
 * Every response the suite's wire helpers get is held to the OpenAPI document the worker
 * serves (public/openapi.json, itself proven equal to what the schemas make by
 * test/openapi): the route must be documented, the status documented for that route, the
 * documented headers present, and a JSON body valid against the documented schema. So an
 * undocumented route or status, or a body that drifted from its schema, fails the test
 * that got it, wherever in the suite that is.
 *
 * JSON Schema 2020-12 is checked with @cfworker/json-schema, which needs no code
 * generation and so runs in workerd. A request no route matches must still get the error
 * shape (under the settings page: its not-found page). This file judges responses; it
 * never changes one (it reads a clone).
 */
import { Validator, type Schema } from "@cfworker/json-schema";
import OPENAPI_JSON from "../../public/openapi.json?raw";

interface ResponseObject {
  $ref?: string;
  description: string;
  headers?: Record<string, { $ref?: string; required?: boolean }>;
  content?: Record<string, { schema: Schema }>;
}

interface Document {
  paths: Record<string, Record<string, { tags: string[]; responses: Record<string, ResponseObject> }>>;
  components: { schemas: Record<string, Schema>; responses: Record<string, ResponseObject>; headers?: Record<string, { required?: boolean }> };
}

const document = JSON.parse(OPENAPI_JSON) as Document;

/** Where the settings page is mounted: it answers unknown paths below it with its own not-found page. */
const PAGE_PREFIXES = new Set(
  Object.entries(document.paths)
    .filter(([, methods]) => Object.values(methods).some((op) => op.tags.includes("settings page")))
    .map(([path]) => `/${path.split("/")[1]}`),
);

/** Each documented operation, matched by method and by its path template (a `{param}` is one segment). */
const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, op]) => ({
    key: `${method.toUpperCase()} ${path}`,
    method: method.toUpperCase(),
    pattern: new RegExp(`^${path.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}$`),
    // Literal segments win over parameters, as in the router.
    params: (path.match(/\{/g) ?? []).length,
    responses: op.responses,
  })),
).sort((a, b) => a.params - b.params);

/** One validator per schema, against the document's components (as `$defs`, where 2020-12 resolves them). */
const validators = new Map<string, Validator>();

function validatorFor(key: string, schema: Schema): Validator {
  let validator = validators.get(key);
  if (!validator) {
    const standalone = JSON.parse(
      JSON.stringify({ ...schema, $defs: document.components.schemas }).replaceAll('"#/components/schemas/', '"#/$defs/'),
    ) as Schema;
    validator = new Validator(standalone, "2020-12", false);
    validators.set(key, validator);
  }
  return validator;
}

function resolve(response: ResponseObject): ResponseObject {
  return response.$ref ? document.components.responses[response.$ref.replace("#/components/responses/", "")]! : response;
}

/** Throws, naming the operation and what differs, unless `response` is what the document says `request` gets. */
export async function expectDocumented(request: Request, response: Response): Promise<void> {
  const url = new URL(request.url);
  // HEAD is answered by the GET route, without a body.
  const method = request.method === "HEAD" ? "GET" : request.method;
  const op = operations.find((o) => o.method === method && o.pattern.test(url.pathname));
  const where = `${request.method} ${url.pathname} → ${response.status}`;
  const text = await response.clone().text();

  if (!op) {
    const type = response.headers.get("content-type") ?? "";
    const underPage = PAGE_PREFIXES.has(`/${url.pathname.split("/")[1]}`);
    if (underPage && response.status === 404 && type.startsWith("text/html")) return;
    const body = parseJson(text, where);
    check(validatorFor("unmatched", { $ref: "#/components/schemas/Error" }), body, `${where} (no documented route)`);
    return;
  }
  const documented = op.responses[String(response.status)];
  if (!documented) throw new Error(`${where}: status ${response.status} is not documented for ${op.key}`);
  const expected = resolve(documented);
  for (const [header, object] of Object.entries(expected.headers ?? {})) {
    const { required } = object.$ref ? document.components.headers![object.$ref.replace("#/components/headers/", "")]! : object;
    if (required && !response.headers.has(header)) throw new Error(`${where}: documented header ${header} is missing`);
  }
  if (request.method === "HEAD") return;
  const content = expected.content ?? {};
  if (Object.keys(content).length === 0) {
    if (text !== "") throw new Error(`${where}: documented without a body, got ${JSON.stringify(text.slice(0, 200))}`);
    return;
  }
  const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const media = content[type];
  if (!media) throw new Error(`${where}: content type ${type}, documented ${Object.keys(content).join(", ")}`);
  if (type === "application/json") {
    check(validatorFor(`${op.key} ${response.status}`, media.schema), parseJson(text, where), `${where} (${op.key})`);
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${where}: body is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
}

function check(validator: Validator, body: unknown, where: string): void {
  const result = validator.validate(body);
  if (result.valid) return;
  const errors = result.errors.slice(-3).map((e) => `${e.instanceLocation}: ${e.error}`);
  throw new Error(`${where}: body does not match the documented schema: ${errors.join("; ")}\n${JSON.stringify(body).slice(0, 500)}`);
}
