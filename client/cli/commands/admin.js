// @ts-check
/**
 * Configuration as code from a terminal: `trust add|list|rm`, `tokens create|list|rm`,
 * `projects create|list`, and `explain`. They take a user, organization or operator token
 * (never a job's OIDC token) and call the admin API exactly as the README documents it;
 * `--json` prints the API's own JSON.
 */
import * as api from "../../core/api.js";
import { getJobIdToken, requireAdminCredential } from "../../core/credentials.js";
import { ClientError } from "../../core/errors.js";
import { readFileSync } from "node:fs";
import { GLOBAL_HELP, OIDC_HELP, OIDC_OPTIONS, parse, required } from "../args.js";
import { commandContext } from "../context.js";
import { maskForCi, note, print, printJson, registerSecret } from "../output.js";
import { readStdin } from "./token.js";

/** @param {Record<string, any>} values @param {NodeJS.ProcessEnv} env @returns {api.Api} */
function adminApi(values, env) {
  const ctx = commandContext(values, env);
  const credential = requireAdminCredential({ serverUrl: ctx.serverUrl, flagToken: values.token, env });
  registerSecret(credential.token);
  return { serverUrl: ctx.serverUrl, token: credential.token, http: ctx.http };
}

/** Left-aligned columns for people; scripts use --json. */
function table(/** @type {string[][]} */ rows) {
  if (rows.length === 0) return;
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const row of rows) print(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ").trimEnd());
}

const when = (/** @type {number | null | undefined} */ seconds) => (seconds ? new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") : "never");

// ---------------------------------------------------------------- trust

/** Flags of `trust add`, by provider, and the body field each sets. */
const PROVIDER_FIELDS = /** @type {const} */ ({
  github: { owner: "owner", repository: "repository", "owner-id": "owner_id", "repository-id": "repository_id", enterprise: "enterprise" },
  circleci: { "organization-uuid": "organization_uuid", "project-uuid": "project_uuid" },
  buildkite: { "organization-slug": "organization_slug", "pipeline-slug": "pipeline_slug", "organization-uuid": "organization_uuid", "pipeline-uuid": "pipeline_uuid" },
  rwx: { subject: "subject" },
});
const PROVIDERS = /** @type {(keyof typeof PROVIDER_FIELDS)[]} */ (Object.keys(PROVIDER_FIELDS));

const TRUST_OPTIONS = {
  project: { type: /** @type {const} */ ("string") },
  description: { type: /** @type {const} */ ("string") },
  ttl: { type: /** @type {const} */ ("string") },
  condition: { type: /** @type {const} */ ("string"), multiple: true },
  file: { type: /** @type {const} */ ("string") },
  "accept-default-audience": { type: /** @type {const} */ ("boolean") },
  ...Object.fromEntries(
    [...new Set(Object.values(PROVIDER_FIELDS).flatMap((fields) => Object.keys(fields)))].map((flag) => [flag, { type: /** @type {const} */ ("string") }]),
  ),
};

export const TRUST_HELP = `Usage:
  edge-sts trust add github    --project prj_… --owner OWNER --repository NAME [--owner-id N --repository-id N] [--enterprise SLUG]
  edge-sts trust add circleci  --project prj_… --organization-uuid UUID --project-uuid UUID [--accept-default-audience]
  edge-sts trust add buildkite --project prj_… --organization-slug SLUG --pipeline-slug SLUG [--organization-uuid UUID --pipeline-uuid UUID]
  edge-sts trust add rwx       --project prj_… --subject "mint:<org-uuid>:<vault>"
  edge-sts trust add --project prj_… --file relationship.json      (a relationship body as JSON; - for stdin)
  edge-sts trust list --project prj_…
  edge-sts trust rm --project prj_… trl_…

Options of trust add, for every provider:
  --condition CLAIM=PATTERN   a claim condition (repeatable), e.g. --condition ref=refs/heads/main
  --description TEXT
  --ttl SECONDS               lifetime of minted tokens, 60-43200 (default 3600)

Needs a project admin's credential: the stored login, EDGE_STS_TOKEN or --token.

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env */
export async function trustCommand(args, env) {
  const { values, positionals } = parse(args, TRUST_OPTIONS);
  const [verb, ...rest] = positionals;
  if (values.help || verb === undefined) return print(TRUST_HELP);
  const project = api.checkId("prj", required(values.project, env.EDGE_STS_PROJECT, "--project (or EDGE_STS_PROJECT)"), "--project");
  switch (verb) {
    case "add": {
      const body = await relationshipBody(values, rest);
      const created = await api.createRelationship(adminApi(values, env), project, body);
      if (values.json) return printJson(created);
      print(`Created ${created.id}: ${describeRelationship(created)} on ${project}`);
      return;
    }
    case "list":
    case "ls": {
      const { trust_relationships: list } = await api.listRelationships(adminApi(values, env), project);
      if (values.json) return printJson({ trust_relationships: list });
      if (list.length === 0) return note(`edge-sts: ${project} has no trust relationships`);
      table([["ID", "PROVIDER", "IDENTITY", "DETAILS"], ...list.map((/** @type {any} */ r) => [r.id, r.provider, identityOf(r), detailsOf(r)])]);
      return;
    }
    case "rm":
    case "delete": {
      const id = api.checkId("trl", rest[0], "the relationship ID (trl_…)");
      await api.deleteRelationship(adminApi(values, env), project, id);
      if (values.json) return printJson({ deleted: id });
      print(`Deleted ${id}; tokens minted through it are no longer active`);
      return;
    }
    default:
      throw new ClientError("usage", `unknown trust command ${JSON.stringify(verb)}: add, list or rm`);
  }
}

/**
 * The relationship body from --file and/or flags; flags win over the file.
 * @param {Record<string, any>} values
 * @param {string[]} rest
 */
async function relationshipBody(values, rest) {
  /** @type {Record<string, unknown>} */
  let body = {};
  if (values.file !== undefined) {
    const text = values.file === "-" ? await readStdin() : readFileSync(values.file, "utf8");
    try {
      body = JSON.parse(text);
    } catch {
      throw new ClientError("usage", `${values.file === "-" ? "stdin" : values.file} is not JSON`);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new ClientError("usage", "--file must hold one relationship object");
  }
  const provider = rest[0] ?? body.provider;
  if (typeof provider !== "string" || !PROVIDERS.includes(/** @type {any} */ (provider))) {
    throw new ClientError("usage", `trust add needs a provider: ${PROVIDERS.join(", ")}`);
  }
  const fields = /** @type {Record<string, string>} */ (PROVIDER_FIELDS[/** @type {keyof typeof PROVIDER_FIELDS} */ (provider)]);
  for (const [flag, value] of Object.entries(values)) {
    if (value === undefined || !(flag in TRUST_OPTIONS) || ["project", "description", "ttl", "condition", "file", "accept-default-audience", "url", "token", "json", "help"].includes(flag)) continue;
    if (!(flag in fields)) throw new ClientError("usage", `--${flag} is not a ${provider} field; ${provider} takes ${Object.keys(fields).map((f) => `--${f}`).join(", ")}`);
  }
  body.provider = provider;
  for (const [flag, field] of Object.entries(fields)) if (values[flag] !== undefined) body[field] = values[flag];
  if (values["accept-default-audience"]) {
    if (provider !== "circleci") throw new ClientError("usage", "--accept-default-audience is a circleci field");
    body.accept_default_audience = true;
  }
  if (values.description !== undefined) body.description = values.description;
  if (values.ttl !== undefined) {
    const ttl = Number(values.ttl);
    if (!Number.isInteger(ttl)) throw new ClientError("usage", "--ttl must be a whole number of seconds");
    body.token_ttl_seconds = ttl;
  }
  if (values.condition) {
    const conditions = /** @type {Record<string, string>} */ ({ ...(typeof body.conditions === "object" && body.conditions !== null ? body.conditions : {}) });
    for (const entry of /** @type {string[]} */ (values.condition)) {
      const at = entry.indexOf("=");
      if (at <= 0) throw new ClientError("usage", `--condition ${JSON.stringify(entry)} must be CLAIM=PATTERN`);
      conditions[entry.slice(0, at)] = entry.slice(at + 1);
    }
    body.conditions = conditions;
  }
  return body;
}

function identityOf(/** @type {any} */ r) {
  switch (r.provider) {
    case "github":
      return `${r.owner}/${r.repository}${r.enterprise ? ` (enterprise ${r.enterprise})` : ""}`;
    case "circleci":
      return `org ${r.organization_uuid} project ${r.project_uuid}`;
    case "buildkite":
      return `${r.organization_slug}/${r.pipeline_slug}`;
    case "rwx":
      return r.subject;
    default:
      return "";
  }
}

function detailsOf(/** @type {any} */ r) {
  const parts = [];
  const pinned = ["owner_id", "repository_id", ...(r.provider === "buildkite" ? ["organization_uuid", "pipeline_uuid"] : [])].filter((k) => r[k]);
  if (pinned.length > 0) parts.push(`pinned ${pinned.map((k) => `${k}=${r[k]}`).join(" ")}`);
  if (r.accept_default_audience) parts.push("accepts the default audience");
  const conditions = Object.entries(r.conditions ?? {});
  if (conditions.length > 0) parts.push(`conditions ${conditions.map(([k, v]) => `${k}=${v}`).join(" ")}`);
  if (r.mode && r.mode !== "enforce") parts.push(`mode ${r.mode}`);
  parts.push(`ttl ${r.token_ttl_seconds}s`);
  if (r.description) parts.push(JSON.stringify(r.description));
  return parts.join("; ");
}

const describeRelationship = (/** @type {any} */ r) => `${r.provider} ${identityOf(r)} (${detailsOf(r)})`;

// ---------------------------------------------------------------- tokens

export const TOKENS_HELP = `Usage:
  edge-sts tokens create (--project prj_… | --org org_… | --user usr_…|me) [--description TEXT]
  edge-sts tokens list   (--project prj_… | --org org_… | --user usr_…|me)
  edge-sts tokens rm     (--project prj_… | --org org_… | --user usr_…|me) tok_…

Static tokens of a project, an organization or a user (\`me\`: the stored login's user).
\`create\` prints the new token on stdout, once: it cannot be shown again. Lists show a
masked preview. \`rm\` revokes at once.

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env */
export async function tokensCommand(args, env) {
  const { values, positionals } = parse(args, { project: { type: "string" }, org: { type: "string" }, user: { type: "string" }, description: { type: "string" } });
  const [verb, ...rest] = positionals;
  if (values.help || verb === undefined) return print(TOKENS_HELP);
  const client = adminApi(values, env);
  const owner = tokenOwner(values, client, env);
  switch (verb) {
    case "create": {
      const created = await api.createToken(client, owner, values.description ?? "");
      registerSecret(created.token);
      maskForCi(created.token);
      if (values.json) return printJson(created);
      note(`edge-sts: created ${created.id} (${created.preview}) for ${owner.id}; the token is shown once, store it now`);
      print(created.token);
      return;
    }
    case "list":
    case "ls": {
      const { tokens } = await api.listTokens(client, owner);
      if (values.json) return printJson({ tokens });
      if (tokens.length === 0) return note(`edge-sts: ${owner.id} has no tokens`);
      table([["ID", "PREVIEW", "CREATED", "LAST USED", "DESCRIPTION"], ...tokens.map((/** @type {any} */ t) => [t.id, t.preview, when(t.created_at), when(t.last_used_at), t.description ?? ""])]);
      return;
    }
    case "rm":
    case "delete": {
      const id = api.checkId("tok", rest[0], "the token ID (tok_…)");
      await api.deleteToken(client, owner, id);
      if (values.json) return printJson({ deleted: id });
      print(`Deleted ${id}; it is refused everywhere from now on`);
      return;
    }
    default:
      throw new ClientError("usage", `unknown tokens command ${JSON.stringify(verb)}: create, list or rm`);
  }
}

/** @param {Record<string, any>} values @param {api.Api} client @param {NodeJS.ProcessEnv} env @returns {api.TokenOwner} */
function tokenOwner(values, client, env) {
  const given = ["project", "org", "user"].filter((k) => values[k] !== undefined);
  if (given.length !== 1) throw new ClientError("usage", "name exactly one owner: --project prj_…, --org org_… or --user usr_… (or --user me)");
  if (values.project !== undefined) return { kind: "project", id: api.checkId("prj", values.project, "--project") };
  if (values.org !== undefined) return { kind: "org", id: api.checkId("org", values.org, "--org") };
  if (values.user === "me") {
    const login = requireAdminCredential({ serverUrl: client.serverUrl, flagToken: values.token, env });
    if (!login.userId) throw new ClientError("usage", "--user me needs a stored login (`edge-sts login`); otherwise give the usr_… ID");
    return { kind: "user", id: login.userId };
  }
  return { kind: "user", id: api.checkId("usr", values.user, "--user") };
}

// ---------------------------------------------------------------- projects

export const PROJECTS_HELP = `Usage:
  edge-sts projects create --org org_… --name NAME
  edge-sts projects list   --org org_…

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env */
export async function projectsCommand(args, env) {
  const { values, positionals } = parse(args, { org: { type: "string" }, name: { type: "string" } });
  const [verb] = positionals;
  if (values.help || verb === undefined) return print(PROJECTS_HELP);
  const org = api.checkId("org", values.org, "--org");
  switch (verb) {
    case "create": {
      const project = await api.createProject(adminApi(values, env), org, required(values.name, undefined, "--name"));
      if (values.json) return printJson(project);
      print(project.id);
      return;
    }
    case "list":
    case "ls": {
      const { projects } = await api.listProjects(adminApi(values, env), org);
      if (values.json) return printJson({ projects });
      if (projects.length === 0) return note(`edge-sts: ${org} has no projects`);
      table([["ID", "NAME", "CREATED"], ...projects.map((/** @type {any} */ p) => [p.id, p.name, when(p.created_at)])]);
      return;
    }
    default:
      throw new ClientError("usage", `unknown projects command ${JSON.stringify(verb)}: create or list`);
  }
}

// ---------------------------------------------------------------- explain

export const EXPLAIN_HELP = `Usage: edge-sts explain --project prj_…

Run in the CI job whose token was refused: gets the job's ID token as \`edge-sts token\`
would and sends it to POST /v1/projects/{id}/explain, with a project admin's credential
(EDGE_STS_TOKEN, --token or the stored login), which shows every verification stage and
every check of every relationship of the project. Mints nothing and spends nothing.

  --project ID       the project (else EDGE_STS_PROJECT)

${OIDC_HELP}

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env */
export async function explainCommand(args, env) {
  const { values } = parse(args, { project: { type: "string" }, ...OIDC_OPTIONS });
  if (values.help) return print(EXPLAIN_HELP);
  const project = api.checkId("prj", required(values.project, env.EDGE_STS_PROJECT, "--project (or EDGE_STS_PROJECT)"), "--project");
  const client = adminApi(values, env);
  const { idToken } = await getJobIdToken({
    serverUrl: client.serverUrl,
    env,
    ci: values.ci,
    options: { circleciDefaultToken: values["circleci-default-token"] },
    http: client.http,
  });
  registerSecret(idToken);
  const result = await api.explain(client, project, idToken);
  // The explain document's shape belongs to the server; print it whole.
  printJson(result);
}
