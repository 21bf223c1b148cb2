/**
 * How a route is documented, and how those descriptions become the OpenAPI 3.1 document.
 *
 * Every route file declares an `Operation` per route beside its handlers (keyed
 * `"METHOD /path/{param}"`), naming the schemas the route validates with and renders
 * through; `openapi.ts` collects them. Schemas become JSON Schema with zod's own
 * `toJSONSchema`, each rebuilt with zod from its definition (`schema/zod.ts`); only
 * `npm run openapi` and the tests call `openApiDocument`, so zod stays out of the Worker.
 *
 * It does not decide what a route accepts or answers (the schemas and handlers do), and it
 * reads no request: `openApiDocument` is a pure function of the operations.
 */
import { registry, toJSONSchema, type $ZodType } from "zod/v4/core";
import type { Schema } from "../schema";
import { toZod } from "../schema/zod";
import { BOOKMARK_PATTERN } from "../db/replicas";
import { ErrorBody } from "../errors";
import { SESSION_COOKIE } from "../ui/session";
import { BOOKMARK_HEADER } from "./database";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** `"POST /v1/orgs/{org_id}/projects"`: the method and the OpenAPI path template. */
export type OperationKey = `${Method} /${string}`;

/** Statuses whose body is the shared `{ error, error_description }` shape. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503;

/**
 * Who may call: nobody in particular; the admin API's credential; INTROSPECTION_TOKEN;
 * optionally the minted token itself; the settings page's session cookie.
 */
export type Security = "none" | "credential" | "introspection" | "optional_minted_token" | "session";

export const TAGS = {
  exchange: "RFC 8693 token exchange: a CI job's ID token for a project token",
  "oauth tokens": "RFC 7662 introspection and RFC 7009 revocation",
  discovery: "Public documents: keys, metadata, health and this document",
  organizations: "Organizations, their projects and members",
  "trust relationships": "Which CI jobs may exchange their ID tokens for a project's tokens",
  users: "Users of the platform",
  "static tokens": "Organization, project and user tokens: shown once, listed masked, revocable",
  "pull tokens": "Short-lived registry pull tokens",
  "settings page": "Server-rendered HTML pages and form posts for people (refusals are HTML pages too)",
} as const;

export type Tag = keyof typeof TAGS;

export interface Example {
  summary: string;
  value: unknown;
}

export interface RequestBody {
  /**
   * `json`: application/json; `oauth`: form-encoded or JSON with the same names (RFC 6749
   * §3.2 endpoints); `form`: an HTML form post.
   */
  media: "json" | "oauth" | "form";
  schema: Schema;
  /** False when the route also takes no body at all (its fields' defaults apply). */
  required: boolean;
  examples?: Record<string, Example>;
}

/** A response that is not a refusal: a JSON body (`schema`), a text body of one of `text`'s media types (a page, a stylesheet), or no content. */
export interface Reply {
  description: string;
  schema?: Schema;
  text?: readonly string[];
  /** Response header name → what it carries. */
  headers?: Record<string, string>;
}

export interface Operation {
  tag: Tag;
  summary: string;
  description?: string;
  security: Security;
  /** Path parameter name → description; a name left out gets the common description below. */
  params?: Record<string, string>;
  /** The object schema the route validates its query with; each member becomes a query parameter. */
  query?: Schema;
  body?: RequestBody;
  responses: Partial<Record<number, Reply>>;
  /** The refusals this route can answer, each with the shared error body (an HTML page, for a `page`). */
  errors: readonly ErrorStatus[];
  /** A settings page route: its refusals are HTML pages with the wire's status and error code. */
  page?: true;
}

export type Operations = Record<OperationKey, Operation>;

// Refusal sets most routes share; a route lists its own statuses from these and others
// (every route lists 500: a misconfiguration is answered wherever it is noticed).
/** A body read at the door: invalid (400), over 32 KiB (413), another content type (415). */
export const BODY: readonly ErrorStatus[] = [400, 413, 415];
/** The admin API's bearer credential on a resource: who (401), may they (403), which (404), how often (429), D1 down (503). */
export const ADMIN: readonly ErrorStatus[] = [401, 403, 404, 429, 500, 503];

const PATH_PARAMETERS: Record<string, string> = {
  org_id: "An organization ID (`org_…`)",
  project_id: "A project ID (`prj_…`)",
  user_id: "A user ID (`usr_…`)",
  token_id: "A static token ID (`tok_…`)",
};

/** Each refusal status once, in `components.responses`: name, and what it means on any route. */
const REFUSALS: Record<ErrorStatus, { name: string; description: string }> = {
  400: {
    name: "BadRequest",
    description:
      "Refused: `invalid_request` naming the bad field or the failed stage, or the route's own OAuth error (`unsupported_grant_type`, `invalid_target`, `invalid_scope`, `unsupported_token_type`)",
  },
  401: { name: "Unauthorized", description: "`invalid_token`: a valid bearer credential is required" },
  403: {
    name: "Forbidden",
    description: "`insufficient_scope`: this credential may not do that; or, on the settings page, `access_denied`: a form post that did not come from its own page",
  },
  404: { name: "NotFound", description: "`not_found`: no such resource, or one outside this credential's reach" },
  409: { name: "Conflict", description: "`conflict`: the resource conflicts with an existing one, or a limit is reached" },
  413: { name: "TooLarge", description: "`invalid_request`: the body is larger than 32 KiB (or the subject token larger than 16 KiB)" },
  415: { name: "UnsupportedMediaType", description: "`invalid_request`: a content type this route does not read" },
  429: { name: "RateLimited", description: "`rate_limited`: retry after the delay in `Retry-After`" },
  500: { name: "ServerError", description: "`server_error`: a misconfiguration, named in the description" },
  503: {
    name: "Unavailable",
    description: "`temporarily_unavailable`: an upstream (a CI provider's keys, the database) is unavailable; retry after `Retry-After`",
  },
};

const SECURITY_SCHEMES = {
  session: {
    type: "apiKey",
    in: "cookie",
    name: SESSION_COOKIE,
    description: "The settings page's session, set by signing in there; without it a page redirects (303) to the sign-in page",
  },
  credential: {
    type: "http",
    scheme: "bearer",
    description:
      "The admin API's credential: `ADMIN_TOKEN` (the operator), a user, organization or project token (`sts_…`), or a token minted here (a job's or a pull token), as far as its scopes and reach allow",
  },
  introspection: { type: "http", scheme: "bearer", description: "`INTROSPECTION_TOKEN`, the credential of the platform's own services" },
  minted_token: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A token minted here, presented by its holder to revoke it",
  },
} as const;

const SECURITY: Record<Security, Record<string, string[]>[]> = {
  none: [],
  credential: [{ credential: [] }],
  introspection: [{ introspection: [] }],
  optional_minted_token: [{}, { minted_token: [] }],
  session: [{ session: [] }],
};

const ERROR_REF = { $ref: "#/components/schemas/Error" };
const RETRY_AFTER = { description: "Seconds until a retry can succeed", required: true, schema: { type: "integer", minimum: 0 } };
const WWW_AUTHENTICATE = { description: "RFC 6750 §3 challenge", required: true, schema: { type: "string" } };
/** The admin API's read-your-writes bookmark (routes/database.ts): on every answer of a `credential` route, taken back by its reads. */
const BOOKMARK_SCHEMA = { type: "string", pattern: BOOKMARK_PATTERN.source };
const BOOKMARK_RESPONSE = {
  description: "The newest database position this request saw or wrote (opaque). Send it back as the request header of the next read to read at least this fresh",
  required: true,
  schema: BOOKMARK_SCHEMA,
};
const BOOKMARK_REQUEST = {
  name: BOOKMARK_HEADER,
  in: "header",
  required: false,
  description:
    "A bookmark an earlier response of this API carried: this read then sees at least what that request saw or wrote (read-your-writes). Without it, a read may be served by a replica a moment behind. Anything else is `400 invalid_request`",
  schema: BOOKMARK_SCHEMA,
};

type JsonSchema = Record<string, unknown>;

/** What a request may send (`input`: fields with defaults are optional) or a response carries (`output`). */
type Io = "input" | "output";

/**
 * zod → JSON Schema, with the named schemas (and everything inside them) lifted into
 * `components.schemas` and referred to by `$ref`. A name must mean one schema: the same
 * name converted differently (say as input and as output) throws.
 */
function schemaConverter(named: Record<string, Schema>) {
  const metadata = registry<{ id: string }>();
  for (const [id, schema] of Object.entries({ Error: ErrorBody, ...named })) metadata.add(zodOf(schema), { id });
  const components: Record<string, JsonSchema> = {};
  const componentJson: Record<string, string> = {};
  const toComponents = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(toComponents);
    if (typeof value !== "object" || value === null) return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === "$ref" && typeof v === "string" ? v.replace(/^#\/\$defs\//, "#/components/schemas/") : toComponents(v)]),
    );
  };
  const convert = (schema: Schema, io: Io): JsonSchema => {
    const converted = toJSONSchema(zodOf(schema), { io, target: "draft-2020-12", metadata, override: refuseRegexFlags });
    const { $schema: _dialect, $defs, ...root } = converted as JsonSchema;
    for (const [id, definition] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
      const lifted = toComponents(definition) as JsonSchema;
      const json = JSON.stringify(lifted);
      if (componentJson[id] !== undefined && componentJson[id] !== json) throw new Error(`schema ${id} is converted in two different ways`);
      componentJson[id] = json;
      components[id] = lifted;
    }
    return toComponents(root) as JsonSchema;
  };
  return { convert, components };
}

type Convert = (schema: Schema, io: Io) => JsonSchema;

const zodOf = (schema: Schema): $ZodType => toZod(schema) as unknown as $ZodType;

/**
 * JSON Schema patterns have no flags (JSON Schema 2020-12 §6.3.3): a zod regex with `i`,
 * `m` or `s` would be documented as something else than it accepts, so it is refused here.
 */
const refuseRegexFlags = ({ zodSchema }: { zodSchema: $ZodType }): void => {
  // A string's patterns are on its checks (and its own definition, for a format schema).
  type Def = { pattern?: unknown; checks?: { _zod: { def: { pattern?: unknown } } }[] };
  const def = zodSchema._zod.def as Def;
  const patterns = [def.pattern, ...(def.checks ?? []).map((check) => check._zod.def.pattern)];
  for (const pattern of patterns) {
    if (pattern instanceof RegExp && /[ims]/.test(pattern.flags)) {
      throw new Error(`pattern ${String(pattern)}: JSON Schema cannot carry its flags; spell them out`);
    }
  }
};

function requestBody(body: RequestBody, convert: Convert) {
  const media = { schema: convert(body.schema, "input"), ...(body.examples ? { examples: body.examples } : {}) };
  const types =
    body.media === "json"
      ? ["application/json"]
      : body.media === "form"
        ? ["application/x-www-form-urlencoded"]
        : ["application/x-www-form-urlencoded", "application/json"];
  return { required: body.required, content: Object.fromEntries(types.map((type) => [type, media])) };
}

function reply(r: Reply, convert: Convert, bookmarked: boolean) {
  const documented = r.headers
    ? Object.fromEntries(Object.entries(r.headers).map(([name, description]) => [name, { description, required: true, schema: { type: "string" } }]))
    : undefined;
  const headers = bookmarked ? { ...documented, [BOOKMARK_HEADER]: { $ref: "#/components/headers/Bookmark" } } : documented;
  const content = r.schema
    ? { "application/json": { schema: convert(r.schema, "output") } }
    : r.text
      ? Object.fromEntries(r.text.map((type) => [type, { schema: { type: "string" } }]))
      : undefined;
  return { description: r.description, ...(headers ? { headers } : {}), ...(content ? { content } : {}) };
}

const HTML = { "text/html": { schema: { type: "string" } } };

/** `components.responses` name of a refusal: the JSON one, or the settings page's HTML one. */
const refusalName = (status: ErrorStatus, page: boolean) => `${page ? "Page" : ""}${REFUSALS[status].name}`;

function refusal(status: ErrorStatus, page: boolean) {
  const headers =
    status === 429 || status === 503
      ? { "Retry-After": RETRY_AFTER }
      : (status === 401 || status === 403) && !page
        ? { "WWW-Authenticate": WWW_AUTHENTICATE }
        : undefined;
  const { description } = REFUSALS[status];
  const json = { "application/json": { schema: ERROR_REF } };
  // A page's refusal is a page, but a misconfiguration found before any route runs (app.ts) is JSON there too.
  const content = !page ? json : status === 500 ? { ...HTML, ...json } : HTML;
  return { description: page ? `${description} (an HTML page carrying the code in \`data-error\`)` : description, ...(headers ? { headers } : {}), content };
}

function parameters(path: string, op: Operation) {
  const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
    name,
    in: "path",
    required: true,
    description: op.params?.[name!] ?? PATH_PARAMETERS[name!] ?? name,
    schema: { type: "string" },
  }));
  // Each member of the query object is a parameter of its own, inline.
  const query = op.query ? (toJSONSchema(zodOf(op.query), { io: "input", target: "draft-2020-12", override: refuseRegexFlags }) as JsonSchema) : undefined;
  const properties = (query?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((query?.required ?? []) as string[]);
  const inQuery = Object.entries(properties).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return { name, in: "query", required: required.has(name), ...(description ? { description } : {}), schema: rest };
  });
  return [...inPath, ...inQuery];
}

function operation(method: string, path: string, op: Operation, convert: Convert, refusals: Set<string>) {
  // The admin API (every `credential` route) runs in a D1 session and answers its bookmark.
  const bookmarked = op.security === "credential";
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(op.responses)) responses[status] = reply(r!, convert, bookmarked);
  // A bookmark the API never handed out is refused (400) on every route that takes one.
  const errors = bookmarked && !op.errors.includes(400) ? [400 as const, ...op.errors] : op.errors;
  for (const status of errors) {
    if (responses[String(status)]) continue;
    const name = refusalName(status, op.page === true);
    refusals.add(name);
    responses[String(status)] = { $ref: `#/components/responses/${name}` };
  }
  const params = [...parameters(path, op), ...(bookmarked && method === "get" ? [{ $ref: "#/components/parameters/Bookmark" }] : [])];
  return {
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security: SECURITY[op.security],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body ? { requestBody: requestBody(op.body, convert) } : {}),
    responses,
  };
}

export interface DocumentInfo {
  title: string;
  version: string;
  description: string;
}

/**
 * The OpenAPI 3.1 document of these operations. Schemas are JSON Schema 2020-12 (OpenAPI
 * 3.1's own dialect); those in `named` become `components.schemas` of that name.
 */
export function openApiDocument(operations: Operations, info: DocumentInfo, named: Record<string, Schema> = {}) {
  const { convert, components } = schemaConverter(named);
  const paths: Record<string, Record<string, unknown>> = {};
  const refusals = new Set<string>();
  for (const [key, op] of Object.entries(operations)) {
    const space = key.indexOf(" ");
    const method = key.slice(0, space).toLowerCase();
    const path = key.slice(space + 1);
    (paths[path] ??= {})[method] = operation(method, path, op, convert, refusals);
  }
  const statuses = Object.keys(REFUSALS).map(Number) as ErrorStatus[];
  convert(ErrorBody, "output");
  return {
    openapi: "3.1.1",
    info: { title: info.title, version: info.version, description: info.description },
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      responses: Object.fromEntries(
        [false, true].flatMap((page) =>
          statuses.filter((s) => refusals.has(refusalName(s, page))).map((s) => [refusalName(s, page), refusal(s, page)]),
        ),
      ),
      headers: { Bookmark: BOOKMARK_RESPONSE },
      parameters: { Bookmark: BOOKMARK_REQUEST },
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}
