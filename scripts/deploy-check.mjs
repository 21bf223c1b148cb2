#!/usr/bin/env node
/**
 * `npm run deploy:check [-- --env NAME …] [-- --ready] [-- --config PATH]`: proves, without a
 * Cloudflare account, that what `wrangler deploy` would upload for each environment can run.
 *
 * For the top level and every `[env.*]` of the config (or only the `--env`s named), it builds
 * the bundle exactly as `wrangler deploy --dry-run --env NAME` does, then checks:
 * - the upload wrangler reports stays within BUNDLE_BUDGET_GZIP_KIB (gzip);
 * - every binding the code uses is declared there, with the right kind. "Uses" comes from the
 *   code: the `Env` interface next to the entry (src/config.ts) and every `env.X` in the
 *   entry's directory; "declared" comes from wrangler's own view: the bindings the dry run
 *   prints, and wrangler's parsed config for what it does not print;
 * - every binding of the top level is declared in every environment too (wrangler does not
 *   inherit vars, d1_databases, ratelimits or queues), and queue consumers are mirrored;
 * - a deployed environment names its own https PUBLIC_URL, and no two environments share a
 *   database or a rate-limit namespace.
 * With `--ready` (just before a real deploy) placeholders fail too: the all-zero database
 * ids and reserved example hostnames that wrangler.toml ships with.
 *
 * It deliberately does not check secrets (they live in Cloudflare, not in the config); it
 * lists the ones the code reads so the operator can put them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * The production bundle's gzip budget, in KiB, as wrangler reports the upload (issue 12's
 * target).
 */
export const BUNDLE_BUDGET_GZIP_KIB = 64;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** TypeScript binding types → wrangler's name for that kind of resource (as the dry run prints it). */
const BINDING_KINDS = {
  D1Database: "D1 Database",
  RateLimit: "Rate Limit",
  Queue: "Queue",
  KVNamespace: "KV Namespace",
  R2Bucket: "R2 Bucket",
  DurableObjectNamespace: "Durable Object",
  Fetcher: "Worker",
  StaticAssets: "Assets",
  Service: "Worker",
  AnalyticsEngineDataset: "Analytics Engine Dataset",
  Hyperdrive: "Hyperdrive Config",
  VectorizeIndex: "Vectorize Index",
  Workflow: "Workflow",
  SendEmail: "Send Email",
  Ai: "AI",
};

/** Hostnames reserved for examples (RFC 2606, RFC 6761): never a real deployment. */
const PLACEHOLDER_HOST = /(^|\.)(example\.(com|net|org)|example|test|invalid|localhost)$/;
const PLACEHOLDER_DATABASE_ID = /^0{8}-0{4}-0{4}-0{4}-0{8}/;

// ---------------------------------------------------------------------------------------
// What the code uses

/**
 * The `Env` interface (members, optionality, TypeScript type), the secrets the config
 * schema reads (`optionalSecret`), and every `env.X` read anywhere under `srcDir`.
 */
export function readCodeUses(srcDir) {
  const configFile = join(srcDir, "config.ts");
  if (!existsSync(configFile)) throw new Error(`${configFile} not found: the Env interface lives there`);
  const config = readFileSync(configFile, "utf8");
  const body = /export interface Env\s*\{([\s\S]*?)\n\}/.exec(config)?.[1];
  if (body === undefined) throw new Error(`${configFile} has no \`export interface Env { … }\``);
  const members = [];
  for (const line of body.split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)(\?)?\s*:\s*([^;]+);/.exec(line);
    if (m) members.push({ name: m[1], optional: m[2] === "?", type: m[3].trim() });
  }
  /** @type {string[]} */
  const secrets = [...config.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:\s*optionalSecret\b/gm)].map((m) => String(m[1]));

  const reads = new Map();
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b|\benv\[\s*["'`]([A-Z][A-Z0-9_]*)["'`]\s*\]/g)) {
      const name = m[1] ?? m[2];
      if (!reads.has(name)) reads.set(name, relative(dirname(srcDir), file));
    }
  }
  return { root: dirname(srcDir), configFile, members, secrets, reads };
}

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx|js|mjs)$/.test(entry) && !/\.d\.ts$/.test(entry)) out.push(path);
  }
  return out;
}

/** Bindings every environment must declare: each binding-typed `Env` member, with its kind. */
export function requiredBindings(code) {
  const required = [];
  const problems = [];
  for (const member of code.members) {
    const base = member.type.replace(/<[\s\S]*>$/, "").trim();
    if (base === "string") continue; // a var or a secret: optional vars have defaults, secrets are not in the config
    const kind = BINDING_KINDS[base];
    if (kind === undefined) {
      problems.push(`${member.name}: the Env type \`${member.type}\` is not a kind deploy-check knows; add it to BINDING_KINDS in scripts/deploy-check.mjs`);
      continue;
    }
    required.push({ name: member.name, kind });
  }
  const declared = new Set(code.members.map((m) => m.name));
  for (const [name, file] of code.reads) {
    if (!declared.has(name)) problems.push(`${file} reads env.${name}, which the Env interface in ${relative(code.root, code.configFile)} does not declare: declare it there with its binding type`);
  }
  return { required, problems };
}

// ---------------------------------------------------------------------------------------
// What wrangler would deploy

/** The upload sizes and the bindings table that `wrangler deploy --dry-run` prints. */
export function parseDryRun(stdout) {
  const upload = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(stdout);
  const bindings = new Map();
  for (const line of stdout.split("\n")) {
    // e.g. `env.DB (edge-sts-staging)      D1 Database`, `env.PUBLIC_URL ("https://…")   Environment Variable`
    const m = /^env\.([A-Za-z_][A-Za-z0-9_]*)(?: \((.*)\))?\s{2,}(\S.*?)\s*$/.exec(line);
    if (m) bindings.set(m[1], { kind: m[3], detail: m[2] ?? "" });
  }
  return { rawKiB: upload ? Number(upload[1]) : null, gzipKiB: upload ? Number(upload[2]) : null, bindings };
}

/** `wrangler deploy --dry-run` for one environment (`""`: the top level), into a scratch directory. */
export function dryRun({ root = ROOT, config, env }) {
  const outdir = mkdtempSync(join(tmpdir(), "edge-sts-deploy-check-"));
  const args = ["deploy", "--dry-run", "--outdir", outdir, "--config", config, ...(env ? ["--env", env] : [])];
  const result = spawnSync(join(root, "node_modules", ".bin", "wrangler"), args, {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  rmSync(outdir, { recursive: true, force: true });
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "", ...parseDryRun(result.stdout ?? "") };
}

/** wrangler's parsed config per environment (what it does not print: ids, consumers). */
async function readWranglerConfigs(config, envs) {
  const wrangler = await import(pathToFileURL(join(ROOT, "node_modules", "wrangler", "wrangler-dist", "cli.js")).href);
  const raw = wrangler.experimental_readRawConfig({ config });
  const known = Object.keys(raw.rawConfig.env ?? {});
  for (const env of envs ?? []) if (!known.includes(env)) throw new Error(`${config} has no [env.${env}]; it has: ${known.join(", ") || "none"}`);
  // The top level always: it is what every environment mirrors.
  const names = ["", ...(envs ?? known)];
  const read = (env) => wrangler.unstable_readConfig({ config, env: env || undefined }, { hideWarnings: true });
  return { names, top: read(""), byEnv: new Map(names.map((env) => [env, read(env)])) };
}

// ---------------------------------------------------------------------------------------
// The checks

const label = (env) => (env ? `env.${env}` : "top level");
const named = (env) => (env ? `env.${env}` : "the top level");

/** Problems of one environment's dry run against what the code needs and what the top level has. */
export function checkEnvironment({ env, run, required, topBindings, budgetKiB, parsed, ready }) {
  const where = label(env);
  const problems = [];
  if (run.status !== 0) {
    return [`${where}: \`wrangler deploy --dry-run\` failed (exit ${run.status}):\n${(run.stderr || run.stdout).trim().split("\n").slice(-15).join("\n")}`];
  }
  if (run.gzipKiB === null) problems.push(`${where}: wrangler printed no "Total Upload: … / gzip: …" line; cannot check the size budget`);
  else if (run.gzipKiB > budgetKiB) {
    problems.push(`${where}: the bundle is ${run.gzipKiB} KiB gzip, over the ${budgetKiB} KiB budget (BUNDLE_BUDGET_GZIP_KIB in scripts/deploy-check.mjs)`);
  }
  for (const { name, kind } of required) {
    const declared = run.bindings.get(name);
    if (!declared) problems.push(`${where}: the code uses binding ${name} (${kind}) but ${named(env)} does not declare it`);
    else if (declared.kind !== kind) problems.push(`${where}: ${name} is declared as ${declared.kind}, the code uses it as ${kind}`);
  }
  if (env) {
    for (const [name, { kind }] of topBindings ?? []) {
      const declared = run.bindings.get(name);
      if (!declared) problems.push(`${where}: the top level declares ${name} (${kind}) but ${where} does not (wrangler does not inherit it)`);
      else if (declared.kind !== kind) problems.push(`${where}: ${name} is ${declared.kind} here but ${kind} at the top level`);
    }
    const publicUrl = parsed?.vars?.PUBLIC_URL;
    if (typeof publicUrl !== "string") problems.push(`${where}: declares no PUBLIC_URL var (it would fall back to http://localhost:8787)`);
    else {
      let url;
      try {
        url = new URL(publicUrl);
      } catch {
        problems.push(`${where}: PUBLIC_URL ${JSON.stringify(publicUrl)} is not a URL`);
      }
      if (url && url.protocol !== "https:") problems.push(`${where}: PUBLIC_URL must be https (it is ${publicUrl})`);
      if (url && ready && PLACEHOLDER_HOST.test(url.hostname)) problems.push(`${where}: PUBLIC_URL ${publicUrl} is a placeholder; set this environment's real URL`);
    }
    if (ready) {
      for (const db of parsed?.d1_databases ?? []) {
        if (PLACEHOLDER_DATABASE_ID.test(db.database_id ?? "")) {
          problems.push(`${where}: database ${db.database_name} (${db.binding}) still has the placeholder id ${db.database_id}; put the id \`wrangler d1 create ${db.database_name}\` printed`);
        }
      }
    }
  }
  return problems;
}

/** Problems across environments: shared databases or rate-limit namespaces, unmirrored consumers. */
export function checkAcrossEnvironments(configs) {
  const problems = [];
  const seen = { database_id: new Map(), database_name: new Map(), namespace_id: new Map() };
  const claim = (what, value, env) => {
    if (value === undefined) return;
    const other = seen[what].get(value);
    if (other !== undefined && other !== env) problems.push(`${label(env)} and ${label(other)} share ${what} ${value}: each environment needs its own`);
    else seen[what].set(value, env);
  };
  const top = configs.get("");
  for (const [env, c] of configs) {
    for (const db of c.d1_databases ?? []) {
      claim("database_id", db.database_id, env);
      claim("database_name", db.database_name, env);
    }
    for (const limiter of c.ratelimits ?? []) claim("namespace_id", limiter.namespace_id, env);
    if (env && top) {
      const want = top.queues?.consumers?.length ?? 0;
      const have = c.queues?.consumers?.length ?? 0;
      if (have < want) problems.push(`${label(env)}: the top level consumes ${want} queue(s), ${label(env)} consumes ${have} (queues are not inherited)`);
    }
  }
  return problems;
}

/**
 * @typedef {{ config?: string, envs?: string[], ready?: boolean, budgetKiB?: number, log?: (line: string) => void }} DeployCheckOptions
 */

/**
 * The whole check. Returns { ok, problems, reports, secrets }; `log` gets progress lines.
 * `config` is the wrangler config to check, relative to the working directory as for wrangler
 * itself (its `main` decides which source is scanned).
 * @param {DeployCheckOptions} [options]
 */
export async function runDeployCheck({ config = "wrangler.toml", envs, ready = false, budgetKiB = BUNDLE_BUDGET_GZIP_KIB, log = () => {} } = {}) {
  const configPath = isAbsolute(config) ? config : resolve(config);
  const wrangler = await readWranglerConfigs(configPath, envs);
  const names = wrangler.names;
  const main = wrangler.top.main;
  if (!main) throw new Error(`${configPath} names no \`main\``);
  const code = readCodeUses(dirname(main));
  const { required, problems } = requiredBindings(code);
  const reports = [];
  let topBindings;
  for (const env of names) {
    log(`building ${label(env)} (wrangler deploy --dry-run${env ? ` --env ${env}` : ""})`);
    const run = dryRun({ config: configPath, env });
    if (!env) topBindings = run.bindings;
    const checked = true;
    if (checked) problems.push(...checkEnvironment({ env, run, required, topBindings, budgetKiB, parsed: wrangler.byEnv.get(env) ?? wrangler.top, ready }));
    reports.push({ env, checked, status: run.status, rawKiB: run.rawKiB, gzipKiB: run.gzipKiB, bindings: [...run.bindings].map(([name, b]) => ({ name, ...b })) });
  }
  problems.push(...checkAcrossEnvironments(wrangler.byEnv));
  return { ok: problems.length === 0, problems, reports, required, secrets: code.secrets, budgetKiB };
}

// ---------------------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const options = { envs: undefined, ready: false, config: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--ready") options.ready = true;
    else if (arg === "--env" && argv[i + 1]) (options.envs ??= []).push(argv[++i]);
    else if (arg === "--config" && argv[i + 1]) options.config = argv[++i];
    else throw new Error(`unknown argument ${arg}; usage: npm run deploy:check [-- --env NAME …] [-- --ready] [-- --config PATH]`);
  }
  return options;
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`deploy-check: ${error.message}`);
    process.exit(2);
  }
  const result = await runDeployCheck({ ...options, log: (line) => console.error(`deploy-check: ${line}`) });
  for (const r of result.reports.filter((r) => r.checked)) {
    const size = r.gzipKiB === null ? "no size reported" : `${r.rawKiB} KiB, gzip ${r.gzipKiB} KiB of ${result.budgetKiB}`;
    console.log(`${label(r.env).padEnd(16)} ${r.status === 0 ? "built" : "FAILED"}; ${size}; bindings: ${r.bindings.map((b) => b.name).join(", ") || "none"}`);
  }
  console.log(`bindings the code uses: ${result.required.map((b) => `${b.name} (${b.kind})`).join(", ")}`);
  console.log(`secrets the code reads (wrangler secret put, per environment): ${result.secrets.join(", ")}`);
  if (result.ok) {
    console.log(`deploy-check: ok${options.ready ? " (ready: no placeholders left)" : ""}`);
    return;
  }
  console.error(`\ndeploy-check: ${result.problems.length} problem(s):`);
  for (const p of result.problems) console.error(`  - ${p}`);
  process.exit(1);
}

// Run as a script (also through a symlinked directory), not when imported by a test.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  main().catch((error) => {
    console.error(`deploy-check: ${error?.stack ?? error}`);
    process.exit(1);
  });
}
