/**
 * Every command the README shows against the service runs, as written, against a fresh
 * `npm start` (the Deployment section's are run by test/node/deploy/readme-commands.test.ts).
 *
 * The README's "Admin API" section is true:
 * - its walk-through (every `sh` block of the section) runs as written, in bash, against a
 *   fresh `npm start`, from the directory holding the `.dev.vars` that `npm start` wrote, and
 *   leaves the state it says it does;
 * - its routes table names exactly the `/v1` operations of the OpenAPI document (the one the
 *   worker serves, which another test holds equal to `app.routes`), with their success status,
 *   their body fields and query parameters, and who may call them as the operations say;
 * - nothing `npm start` and the walk-through print contains a secret of `.dev.vars` or a
 *   token the walk-through made.
 * Every other `curl` example (`/token`, a shadow relationship, explain, suggest, the end-of-job
 * revoke, the audit log) runs with its placeholders (`https://sts.example.com`, the example
 * project ID, `org_…`, `$ID_TOKEN`, `$STS_ADMIN`, `$STS_TOKEN`, `$ORG_TOKEN`) filled in, and
 * answers what the README shows; an example no runner here knows fails the test.
 * And the README stands alone: it points nowhere outside the repository's own files.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubClaims } from "../../support/ci-claims.mjs";
import { PLACEHOLDER_URL, fillIn } from "../client/support/snippets.mjs";
import { ROOT, startDevServer, type DevServer } from "../support/dev-server.js";
import { README, readmeSection, shBlocks } from "../support/readme.mjs";

// ---- the OpenAPI document the worker serves ----

interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  default?: unknown;
}
interface Operation {
  summary: string;
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  parameters?: { name: string; in: string }[];
  responses: Record<string, unknown>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

function openapi(): Document {
  return JSON.parse(readFileSync(join(ROOT, "public", "openapi.json"), "utf8")) as Document;
}

const METHODS = ["get", "post", "put", "patch", "delete"];

function adminOperations(doc: Document) {
  return Object.entries(doc.paths)
    .filter(([path]) => path.startsWith("/v1/"))
    .flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
    );
}

/** The body's variants (one for a plain object, several for a union), each as field name → optional? */
function bodyVariants(doc: Document, op: Operation): Map<string, boolean>[] {
  const schema = op.requestBody?.content["application/json"]?.schema;
  if (!schema) return [];
  const deref = (s: Schema): Schema => (s.$ref ? doc.components.schemas[s.$ref.split("/").pop()!]! : s);
  const root = deref(schema);
  return (root.oneOf ?? root.anyOf ?? [root]).map((variant) => {
    const v = deref(variant);
    const required = new Set(v.required ?? []);
    return new Map(Object.keys(v.properties ?? {}).map((name) => [name, !required.has(name)]));
  });
}

/** Who may call, as the operation's summary says it (the parenthesis), in the README's words. */
function callerOf(route: string, summary: string): string {
  const said = /\(([^)]*)\)\s*$/.exec(summary)?.[1];
  // Routes under a user (`authorizeUser`) answer only that user and the operator.
  if (said === undefined) return route.includes(" /v1/users/") ? "the user" : "org member";
  if (said === "the operator only") return "operator";
  if (/^an admin of (the organization|its organization|the project)$/.test(said)) return "org admin";
  if (/^the user( themselves)? or the operator$/.test(said)) return "the user";
  if (route === "POST /v1/projects/{project_id}/pull-tokens") return "pull";
  throw new Error(`${route}: no README wording for "${said}"`);
}

interface Row {
  route: string;
  who: string;
  body: string;
  answer: string;
}

function routesTable(): Row[] {
  const text = readmeSection("Admin API");
  const start = text.indexOf("\n### Routes\n");
  expect(start, "the Admin API section has a ### Routes subsection").toBeGreaterThan(0);
  return text
    .slice(start)
    .split("\n")
    .filter((line) => /^\| `[A-Z]+ \/v1\//.test(line))
    .map((line) => {
      const [route, who, body, answer] = line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim());
      return { route: route!.replace(/`/g, ""), who: who!, body: body!, answer: answer! };
    });
}

describe("README: the admin API reference", () => {
  const doc = openapi();
  const operations = adminOperations(doc);
  const rows = routesTable();

  it("lists every /v1 operation of the OpenAPI document, once, and nothing else", () => {
    expect(operations.length).toBeGreaterThanOrEqual(28);
    expect(rows.map((r) => r.route).sort()).toEqual(operations.map((o) => o.route).sort());
    expect(new Set(rows.map((r) => r.route)).size).toBe(rows.length);
  });

  it("gives each route's success status", () => {
    for (const { route, op } of operations) {
      const success = Object.keys(op.responses).filter((status) => status.startsWith("2"));
      expect(success, route).toHaveLength(1);
      const row = rows.find((r) => r.route === route)!;
      expect(row.answer, route).toMatch(new RegExp(`^${success[0]}\\b`));
    }
  });

  it("names every body field (with `?` exactly when optional) and every query parameter", () => {
    for (const { route, op } of operations) {
      const row = rows.find((r) => r.route === route)!;
      const named = new Map([...row.body.matchAll(/`([a-z_]+)(\??)`/g)].map((m) => [m[1]!, m[2] === "?"]));
      const variants = bodyVariants(doc, op);
      const query = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      if (variants.length === 0 && query.length === 0) {
        expect(row.body, `${route} takes no body`).toBe("");
        continue;
      }
      // Bodies that may be left out entirely say so.
      if (op.requestBody && op.requestBody.required === false && variants.length === 1) expect(row.body, route).toMatch(/no body is fine|\?`/);
      for (const variant of variants) {
        for (const [field, optional] of variant) {
          expect(named.has(field), `${route}: body field ${field}`).toBe(true);
          // A field optional in one variant and required in another (e.g. organization_uuid) is named as the row says per provider.
          const everywhere = variants.filter((v) => v.has(field)).map((v) => v.get(field));
          if (everywhere.every((o) => o === optional)) expect(named.get(field), `${route}: ${field} optional?`).toBe(optional);
        }
      }
      for (const name of query) expect(row.body, `${route}: query parameter ${name}`).toContain(`\`${name}\``);
      const known = new Set([...variants.flatMap((v) => [...v.keys()]), ...query, "enforce", "shadow", "admin", "member", "github", "circleci", "buildkite", "rwx"]);
      for (const field of named.keys()) expect(known.has(field), `${route}: the README names ${field}, which the operation does not have`).toBe(true);
    }
  });

  it("says who may call each route as the operation's summary does", () => {
    for (const { route, op } of operations) {
      const row = rows.find((r) => r.route === route)!;
      const who = callerOf(route, op.summary);
      if (who === "pull") expect(row.who, route).toMatch(/registry:pull.*but a pull token/);
      else expect(row.who, route).toBe(who);
    }
  });
});

describe("README: stands alone", () => {
  it("never points at the contract or notes kept outside the repository", () => {
    for (const pattern of [/\.\.\/shared/, /SPEC\.md/, /PROVIDERS\.md/, /STYLE\.md/, /\bSPEC\b/, /\/work\//]) {
      const line = README.split("\n").findIndex((l) => pattern.test(l));
      expect(line, `README line ${line + 1} matches ${pattern}`).toBe(-1);
    }
  });

  it("lists the operator commands under Other commands, each a script of package.json", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const start = README.indexOf("\nOther commands:\n");
    expect(start).toBeGreaterThan(0);
    const list = README.slice(start, README.indexOf("\n## ", start));
    const listed = [...list.matchAll(/^- `npm run ([a-z:]+)/gm)].map((m) => m[1]!);
    for (const script of ["deploy:check", "smoke", "openapi", "test:browser", "bench", "soak", "keygen"]) expect(listed).toContain(script);
    for (const script of listed) expect(pkg.scripts, script).toHaveProperty([script]);
  });
});

// ---- the walk-through, against npm start ----

let sts: DevServer;
let printed = "";
/** npm start's own output alone: the worker's log lines among it. */
let served = "";
/** Tokens the commands made (minted JWTs), which nothing may print either. */
const made: string[] = [];

beforeAll(async () => {
  sts = await startDevServer({
    onOutput: (chunk) => {
      printed += chunk;
      served += chunk;
    },
  });
}, 180_000);

afterAll(async () => {
  await sts?.stop();
});

function bash(script: string, cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("bash", ["-c", `set -euo pipefail\n${script}`], { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env, NO_COLOR: "1" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("README: the admin API walk-through against npm start", () => {
  it("runs every command of the section as written: org, project, relationship, project token, pull token, revoke, delete", async () => {
    const blocks = shBlocks(readmeSection("Admin API"));
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    expect(blocks[0], "the first block sets STS_URL to npm start's address").toMatch(/^STS_URL=http:\/\/localhost:8787$/m);
    const script = blocks.join("\n").replace(/^STS_URL=http:\/\/localhost:8787$/m, `STS_URL=${sts.url}`);
    // Run where npm start wrote .dev.vars, as the README says (the repository root for a user).
    const result = await bash(script, sts.dir);
    const out = `${result.stdout}\n--- stderr ---\n${result.stderr}`;
    expect(result.code, out).toBe(0);
    printed += result.stdout + result.stderr;

    const lines = result.stdout.trim().split("\n");
    const [orgId, projectId] = lines[0]!.split(" ");
    expect(orgId).toMatch(/^org_[0-9a-f]{24}$/);
    expect(projectId).toMatch(/^prj_[0-9a-f]{24}$/);
    const json = lines.slice(1).map((line) => JSON.parse(line) as Record<string, unknown>);
    const [relationship, tokens, active, revoked, deleted] = json;
    expect(json, out).toHaveLength(5);

    // The relationship as created is the one stored.
    expect(relationship).toMatchObject({ project_id: projectId, provider: "github", owner: "acme", repository: "widgets", mode: "enforce", conditions: { ref: "refs/heads/main" } });
    const stored = await sts.api("GET", `/v1/projects/${projectId}/trust-relationships/${String(relationship!.id)}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toEqual(relationship);
    // The project token was listed, masked.
    const listed = (tokens as { tokens: { id: string; preview: string; description: string }[] }).tokens;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ description: "registry bot", preview: expect.stringMatching(/^sts_prj_\.\.\./) });
    // The pull token was active, made from the project token, then revoked.
    expect(active).toMatchObject({ active: true, token_use: "pull", scope: "registry:pull", org_id: orgId, project_id: projectId, client_id: listed[0]!.id });
    expect(Number(active!.exp) - Number(active!.iat)).toBe(600);
    expect(revoked).toEqual({ active: false });
    // The project token was deleted: inactive, and no longer listed.
    expect(deleted).toEqual({ active: false });
    expect((await sts.api("GET", `/v1/projects/${projectId}/tokens`)).body).toEqual({ tokens: [] });
    expect((await sts.api("GET", `/v1/orgs/${orgId}/projects`)).body).toMatchObject({ projects: [{ id: projectId, name: "widgets" }] });
  });
});

// ---- every other curl example ----

interface Example {
  section: string;
  code: string;
  /** The JSON block right after it, when there is one. */
  shown: string | undefined;
}

/** The `sh` blocks that call the service with curl, outside the sections tested elsewhere. */
function curlExamples(): Example[] {
  const out: Example[] = [];
  for (const part of README.split(/\n(?=## )/).slice(1)) {
    const section = part.slice(3, part.indexOf("\n"));
    if (section === "Admin API" || section === "Deployment") continue;
    for (const m of part.matchAll(/```sh\n([\s\S]*?)```\s*(?:```json\n([\s\S]*?)```)?/g)) {
      if (/\bcurl\b/.test(m[1]!)) out.push({ section, code: m[1]!, shown: m[2] });
    }
  }
  return out;
}

const keysOf = (value: unknown) => Object.keys(value as Record<string, unknown>).sort();
const parsesAsJson = (text: string | undefined): unknown => {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
};

describe("README: every other curl example, against npm start", () => {
  it("runs each as written, placeholders filled in, and gets what the README shows", async () => {
    const examples = curlExamples();
    // The tour below, in the order a user would meet them; any example it does not know fails.
    const expected = ["Trust relationships", "Endpoints", "Explain", "Suggest", "Introspection and revocation", "Audit log", "Read replicas"];
    expect(examples.map((e) => e.section).sort(), "a curl example no runner here knows: add one").toEqual([...expected].sort());
    const example = (section: string) => examples.find((e) => e.section === section)!;

    // A project like the README's: GitHub jobs of acme/widgets, and an organization token.
    const org = await sts.api("POST", "/v1/orgs", { name: "acme" });
    const orgId = String(org.body.id);
    const project = await sts.api("POST", `/v1/orgs/${orgId}/projects`, { name: "widgets" });
    const projectId = String(project.body.id);
    expect((await sts.api("POST", `/v1/projects/${projectId}/trust-relationships`, { provider: "github", owner: "acme", repository: "widgets" })).status).toBe(201);
    const orgToken = String((await sts.api("POST", `/v1/orgs/${orgId}/tokens`, { description: "audit reader" })).body.token);
    const idToken = () => sts.signIdToken(githubClaims(sts.audience, { owner: "acme", repository: "widgets", ownerId: "1342004", repositoryId: "684210" }, { iss: sts.issuers.github }));

    const run = async (section: string, env: Record<string, string>) => {
      const { code } = example(section);
      expect(code.includes(PLACEHOLDER_URL) || /\$STS_URL/.test(code), `${section}: names the service`).toBe(true);
      const filled = fillIn(code, sts, projectId).replaceAll("org_…", orgId);
      const result = await bash(filled, sts.dir, env);
      expect(result.code, `${section}\n${result.stdout}\n${result.stderr}`).toBe(0);
      printed += result.stdout + result.stderr;
      return result.stdout;
    };

    // Trust relationships: a shadow relationship beside the one in force.
    const shadowText = await run("Trust relationships", { STS_ADMIN: sts.vars.ADMIN_TOKEN! });
    const shadow = JSON.parse(shadowText) as Record<string, unknown>;
    expect(shadow).toMatchObject({ project_id: projectId, provider: "github", mode: "shadow", owner: "acme", repository: "widgets" });
    expect(keysOf(shadow)).toEqual(keysOf(parsesAsJson(example("Trust relationships").shown)));

    // Endpoints: POST /token with the job's ID token and the project as audience.
    const minted = JSON.parse(await run("Endpoints", { ID_TOKEN: await idToken() })) as Record<string, unknown>;
    expect(minted).toMatchObject({ token_type: "Bearer", issued_token_type: "urn:ietf:params:oauth:token-type:jwt", scope: "builds registry:pull registry:push" });
    expect(keysOf(minted)).toEqual(keysOf(parsesAsJson(example("Endpoints").shown)));
    const jobToken = String(minted.access_token);
    made.push(jobToken);

    // Explain and suggest, with fresh ID tokens.
    const explained = JSON.parse(await run("Explain", { STS_ADMIN: sts.vars.ADMIN_TOKEN!, ID_TOKEN: await idToken() })) as Record<string, unknown>;
    expect(explained).toMatchObject({ project_id: projectId });
    expect(keysOf(explained)).toEqual(["evaluated_at", "exchange", "project_id", "relationships", "token", "verification"]);
    expect(explained.relationships).toHaveLength(2);
    const suggested = JSON.parse(await run("Suggest", { STS_ADMIN: sts.vars.ADMIN_TOKEN!, ID_TOKEN: await idToken() })) as Record<string, unknown>;
    expect(keysOf(suggested)).toEqual(["explanations", "trust_relationship", "warnings"]);
    expect(suggested.trust_relationship).toMatchObject({ provider: "github", owner: "acme", repository: "widgets", owner_id: "1342004", repository_id: "684210" });

    // Introspection and revocation: the end-of-job revoke, with the job token as its own bearer.
    expect((await sts.introspect(jobToken)).active).toBe(true);
    expect(await run("Introspection and revocation", { STS_TOKEN: jobToken })).toBe("");
    expect(await sts.introspect(jobToken)).toEqual({ active: false });

    // Audit log: the organization's newest events (they arrive through a queue: a few seconds).
    let page: { events: Record<string, unknown>[]; next_cursor: string | null } = { events: [], next_cursor: null };
    for (let attempt = 0; attempt < 60 && page.events.length < 2; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
      page = JSON.parse(await run("Audit log", { ORG_TOKEN: orgToken })) as typeof page;
    }
    expect(page.events).toHaveLength(2);
    expect(typeof page.next_cursor).toBe("string");
    for (const event of page.events) expect(event).toMatchObject({ org_id: orgId });
    const shown = parsesAsJson(example("Audit log").shown) as { events: Record<string, unknown>[] };
    expect(keysOf(page)).toEqual(keysOf(shown));
    for (const event of page.events) {
      const like = shown.events.find((e) => e.kind === event.kind);
      if (like) expect(keysOf(event), String(event.kind)).toEqual(keysOf(like));
    }

    // Read replicas: a change's Sts-Bookmark sent back with the next read, which sees the change
    // (an empty or foreign bookmark would be refused, and curl -f would fail the example).
    const projects = JSON.parse(await run("Read replicas", { STS_ADMIN: sts.vars.ADMIN_TOKEN! })) as { projects: { name: string }[] };
    expect(projects.projects.map((p) => p.name)).toEqual(["widgets", "web"]);
  });
});

// Last: everything above has printed what it prints.
describe("README: secrets stay in .dev.vars", () => {
  it("npm start and every command above print the names of .dev.vars's secrets, never their values", async () => {
    // Printed so far: npm start's whole output (it wrote .dev.vars), wrangler's, the worker's log lines, every command's.
    expect(printed).toContain("ADMIN_TOKEN");
    expect(printed).toContain("INTROSPECTION_TOKEN");
    const keys = JSON.parse(sts.vars.SIGNING_KEYS!) as { d: string }[];
    const secrets = { ADMIN_TOKEN: sts.vars.ADMIN_TOKEN!, INTROSPECTION_TOKEN: sts.vars.INTROSPECTION_TOKEN!, TOKEN_HASH_SALT: sts.vars.TOKEN_HASH_SALT!, "SIGNING_KEYS d": keys[0]!.d };
    for (const [name, value] of Object.entries(secrets)) {
      expect(value.length, name).toBeGreaterThan(20);
      expect(printed.includes(value), `${name}'s value was printed`).toBe(false);
    }
    // Nor any static token's plaintext (the commands made some).
    expect(printed).not.toMatch(/sts_(prj|org|usr)_[A-Za-z0-9]{36}/);
    expect(made.length).toBeGreaterThan(0);
    // The /token example prints the token it gets, as it should; the worker's log lines never do.
    for (const token of made) expect(served.includes(token.split(".")[2]!), "a minted token is in npm start's output").toBe(false);
  });
});
