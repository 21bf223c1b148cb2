/**
 * `npm run deploy:check` fails, with a message naming the environment and the binding, on a
 * deliberately broken configuration: a binding missing from one environment, a binding the
 * code uses that no environment declares, an `env.X` read the Env interface lacks, a bundle
 * over the size budget, environments sharing a database or a rate-limit namespace, and
 * placeholders left when `--ready`. Each broken case is built for real by
 * `wrangler deploy --dry-run` in a scratch copy of the repository, beside an unbroken copy
 * that passes, so the failure is the breakage's and nothing else's.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { BUNDLE_BUDGET_GZIP_KIB, checkAcrossEnvironments, checkEnvironment, parseDryRun, readCodeUses, requiredBindings, runDeployCheck } from "../../../scripts/deploy-check.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const scratches: string[] = [];
afterEach(() => {
  for (const dir of scratches.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A scratch copy: wrangler.toml (edited by `editToml`), src/ linked or copied (to edit it), the rest linked. */
function scratch({ editToml = (t: string) => t, copySrc = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "edge-sts-deploy-check-"));
  scratches.push(dir);
  for (const name of ["migrations", "node_modules", "package.json", "public"]) symlinkSync(join(ROOT, name), join(dir, name));
  if (copySrc) cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
  else symlinkSync(join(ROOT, "src"), join(dir, "src"));
  writeFileSync(join(dir, "wrangler.toml"), editToml(readFileSync(join(ROOT, "wrangler.toml"), "utf8")));
  return dir;
}

/** Removes one `[[env.<env>.ratelimits]]` table (the one naming `name`) from the TOML text. */
function withoutLimiter(toml: string, env: string, name: string): string {
  const table = new RegExp(`\\[\\[env\\.${env}\\.ratelimits\\]\\]\\nname = "${name}"\\n[\\s\\S]*?(?=\\n\\[|$)`);
  expect(toml).toMatch(table);
  return toml.replace(table, "");
}

describe("deploy:check against broken configurations", () => {
  it("fails, naming the environment and the binding, when one environment lacks a binding the code uses; the unbroken copy passes", async () => {
    const ok = await runDeployCheck({ config: join(scratch(), "wrangler.toml"), envs: ["staging"] });
    expect(ok.problems).toEqual([]);
    expect(ok.reports.map((r) => r.env)).toEqual(["", "staging"]);

    const dir = scratch({ editToml: (t) => withoutLimiter(t, "staging", "EXCHANGE_OWNER_LIMITER") });
    const cli = spawnSync(process.execPath, [join(ROOT, "scripts", "deploy-check.mjs"), "--env", "staging"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
    expect(cli.status, cli.stderr).toBe(1);
    expect(cli.stderr).toContain("env.staging: the code uses binding EXCHANGE_OWNER_LIMITER (Rate Limit) but env.staging does not declare it");
    expect(cli.stderr).toContain("env.staging: the top level declares EXCHANGE_OWNER_LIMITER (Rate Limit) but env.staging does not (wrangler does not inherit it)");
    expect(cli.stderr).not.toContain("top level:");
  }, 180_000);

  it("fails when the code starts using a binding that wrangler.toml declares nowhere", async () => {
    const dir = scratch({ copySrc: true });
    const config = join(dir, "src", "config.ts");
    writeFileSync(config, readFileSync(config, "utf8").replace("export interface Env {\n", "export interface Env {\n  AUDIT_KV: KVNamespace;\n"));
    const result = await runDeployCheck({ config: join(dir, "wrangler.toml"), envs: ["staging"] });
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      "top level: the code uses binding AUDIT_KV (KV Namespace) but the top level does not declare it",
      "env.staging: the code uses binding AUDIT_KV (KV Namespace) but env.staging does not declare it",
    ]);
  }, 180_000);

  it("fails when the bundle is over the budget, saying by how much", async () => {
    // An entry that ships the real worker plus 40 KiB of incompressible padding.
    const dir = scratch({ copySrc: true, editToml: (t) => t.replace('main = "src/index.ts"', 'main = "src/padded.ts"') });
    writeFileSync(join(dir, "src", "padded.ts"), `export { default } from "./index";\nexport const PADDING = "${randomBytes(40 * 1024).toString("base64")}";\n`);
    const result = await runDeployCheck({ config: join(dir, "wrangler.toml"), envs: ["staging"] });
    expect(result.ok).toBe(false);
    for (const env of ["top level", "env.staging"]) {
      const problem = result.problems.find((p) => p.startsWith(`${env}: the bundle is`));
      expect(problem, result.problems.join("\n")).toMatch(new RegExp(`^${env}: the bundle is [\\d.]+ KiB gzip, over the ${BUNDLE_BUDGET_GZIP_KIB} KiB budget \\(BUNDLE_BUDGET_GZIP_KIB in scripts/deploy-check\\.mjs\\)$`));
    }
    expect(result.reports.every((r) => r.gzipKiB! > BUNDLE_BUDGET_GZIP_KIB)).toBe(true);
  }, 180_000);
});

describe("deploy:check's rules", () => {
  const code = readCodeUses(join(ROOT, "src"));

  it("derives the bindings from the Env interface and the secrets from the config schema", () => {
    const { required, problems } = requiredBindings(code);
    expect(problems).toEqual([]);
    expect(required).toContainEqual({ name: "DB", kind: "D1 Database" });
    expect(required).toContainEqual({ name: "EXCHANGE_IP_LIMITER", kind: "Rate Limit" });
    expect(required.map((b) => b.name)).not.toContain("PUBLIC_URL");
    expect(code.secrets).toEqual(expect.arrayContaining(["SIGNING_KEYS", "TOKEN_HASH_SALT", "ADMIN_TOKEN", "INTROSPECTION_TOKEN"]));
  });

  it("refuses an env.X read that the Env interface does not declare, and an Env type it does not know", () => {
    const reads = new Map(code.reads);
    reads.set("EXPORT_QUEUE", "src/export/producer.ts");
    const members = [...code.members, { name: "CACHE", optional: false, type: "Cache" }];
    expect(requiredBindings({ ...code, reads, members }).problems).toEqual([
      "CACHE: the Env type `Cache` is not a kind deploy-check knows; add it to BINDING_KINDS in scripts/deploy-check.mjs",
      "src/export/producer.ts reads env.EXPORT_QUEUE, which the Env interface in src/config.ts does not declare: declare it there with its binding type",
    ]);
  });

  it("reads sizes and bindings from wrangler's dry-run output", () => {
    const parsed = parseDryRun(
      [
        "Total Upload: 420.61 KiB / gzip: 94.87 KiB",
        "Your Worker has access to the following bindings:",
        "Binding                                   Resource",
        "env.DB (edge-sts-staging)                 D1 Database",
        'env.PUBLIC_URL ("https://sts.example.com")  Environment Variable',
        "env.AUDIT_QUEUE (edge-sts-audit-staging)  Queue",
      ].join("\n"),
    );
    expect(parsed.gzipKiB).toBe(94.87);
    expect([...parsed.bindings]).toEqual([
      ["DB", { kind: "D1 Database", detail: "edge-sts-staging" }],
      ["PUBLIC_URL", { kind: "Environment Variable", detail: '"https://sts.example.com"' }],
      ["AUDIT_QUEUE", { kind: "Queue", detail: "edge-sts-audit-staging" }],
    ]);
  });

  it("refuses a deployed environment without an https PUBLIC_URL, a binding of another kind, and placeholders when ready", () => {
    const run = { status: 0, stdout: "", stderr: "", rawKiB: 1, gzipKiB: 1, bindings: new Map([["DB", { kind: "KV Namespace", detail: "" }]]) };
    const problems = checkEnvironment({
      env: "production",
      run,
      required: [{ name: "DB", kind: "D1 Database" }],
      topBindings: new Map(),
      budgetKiB: 96,
      parsed: { vars: { PUBLIC_URL: "http://sts.example.com" }, d1_databases: [{ binding: "DB", database_name: "edge-sts-production", database_id: "00000000-0000-0000-0000-000000000002" }] },
      ready: true,
    });
    expect(problems).toEqual([
      "env.production: DB is declared as KV Namespace, the code uses it as D1 Database",
      "env.production: PUBLIC_URL must be https (it is http://sts.example.com)",
      "env.production: PUBLIC_URL http://sts.example.com is a placeholder; set this environment's real URL",
      "env.production: database edge-sts-production (DB) still has the placeholder id 00000000-0000-0000-0000-000000000002; put the id `wrangler d1 create edge-sts-production` printed",
    ]);
  });

  it("refuses environments that share a database or a rate-limit namespace, or consume fewer queues", () => {
    const env = (id: string, namespace: string, consumers = 0) => ({
      d1_databases: [{ binding: "DB", database_name: `db-${id}`, database_id: id }],
      ratelimits: [{ name: "L", namespace_id: namespace }],
      queues: { producers: [], consumers: Array.from({ length: consumers }, (_, i) => ({ queue: `q${i}` })) },
    });
    const configs = new Map([
      ["", env("a", "1", 1)],
      ["staging", env("b", "1", 1)],
      ["production", { ...env("a", "3"), d1_databases: [{ binding: "DB", database_name: "db-a", database_id: "a" }] }],
    ]);
    expect(checkAcrossEnvironments(configs)).toEqual([
      "env.staging and top level share namespace_id 1: each environment needs its own",
      "env.production and top level share database_id a: each environment needs its own",
      "env.production and top level share database_name db-a: each environment needs its own",
      "env.production: the top level consumes 1 queue(s), env.production consumes 0 (queues are not inherited)",
    ]);
  });
});
