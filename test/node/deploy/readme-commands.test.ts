/**
 * The README's "Deployment" section is a script that works: every `sh` block of it runs, as
 * written, in one `bash -euo pipefail`, in a scratch copy of the repository, once per
 * environment, with the wrangler.toml edits the prose asks for made between blocks.
 *
 * `npx wrangler` is the stand-in (support/wrangler-stand-in.mjs): checked against the real
 * wrangler's `--help`, run for real where no account is needed (`deploy --dry-run`,
 * migrations `--local`), answered by this file's control server otherwise. `deploy` starts a
 * local workerd (Miniflare) serving the bundle wrangler built, with the environment's
 * bindings from wrangler.toml, the local D1 the migrations went into, and the secrets put;
 * `npm run smoke` and `curl` reach it in place of the environment's URL.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../client/support/stack.mjs";
import { readCodeUses } from "../../../scripts/deploy-check.mjs";
import { readmeSection, shBlocks } from "../support/readme.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const STAND_IN = join(ROOT, "test", "node", "deploy", "support", "wrangler-stand-in.mjs");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
/** What wrangler's `--help` says, shared by every run (it only depends on the installed wrangler). */
const HELP_CACHE = mkdtempSync(join(tmpdir(), "edge-sts-readme-help-"));

/** The part of wrangler's parsed config for one environment that the local worker needs. */
interface WranglerEnvironment {
  compatibility_date: string;
  compatibility_flags: string[];
  vars: Record<string, string>;
  d1_databases: { binding: string; database_name?: string; database_id?: string }[];
  ratelimits: { name: string; simple: { limit: number; period: 10 | 60 } }[];
  queues: { producers: { binding: string; queue: string }[]; consumers: { queue: string; dead_letter_queue?: string }[] };
}

interface EnvState {
  databaseId?: string;
  secrets: Record<string, string>;
  migrated: boolean;
  deployed: boolean;
  signingKeysHistory: string[];
}

/** A scratch copy of the repository, the control server the stand-in talks to, and the local "deployment". */
async function world(envName: string) {
  const dir = mkdtempSync(join(tmpdir(), "edge-sts-readme-"));
  const state = join(dir, ".stand-in");
  for (const name of ["src", "migrations", "public", "scripts", "node_modules", "package.json", ".npmrc"]) {
    if (existsSync(join(ROOT, name))) symlinkSync(join(ROOT, name), join(dir, name));
  }
  cpSync(join(ROOT, "wrangler.toml"), join(dir, "wrangler.toml"));
  cpSync(HELP_CACHE, state, { recursive: true });

  const wrangler = await import("wrangler");
  const readConfig = (env: string) => wrangler.unstable_readConfig({ config: join(dir, "wrangler.toml"), env }, { hideWarnings: true }) as unknown as WranglerEnvironment;
  const code = readCodeUses(join(ROOT, "src"));
  const envState: EnvState = { secrets: {}, migrated: false, deployed: false, signingKeysHistory: [] };
  const port = await freePort();
  const via = `http://127.0.0.1:${port}`;
  let mf: Miniflare | undefined;
  const problems: string[] = [];

  /** Miniflare options for the environment, as wrangler.toml now declares it, serving `script`. */
  function workerOptions(script: string) {
    const c = readConfig(envName);
    return {
      host: "127.0.0.1",
      port,
      modules: true,
      scriptPath: script,
      modulesRoot: dirname(script),
      compatibilityDate: c.compatibility_date,
      compatibilityFlags: c.compatibility_flags,
      d1Databases: Object.fromEntries(c.d1_databases.map((d) => [d.binding, d.database_id!])),
      d1Persist: join(state, "persist", "v3", "d1"),
      ratelimits: Object.fromEntries(c.ratelimits.map((r) => [r.name, { simple: r.simple }])),
      queueProducers: Object.fromEntries(c.queues.producers.map((p) => [p.binding, p.queue])),
      bindings: { ...c.vars, ...envState.secrets },
    };
  }
  let script: string | undefined;

  const handlers: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    "d1-create": async ({ name }) => {
      const database = readConfig(envName).d1_databases[0];
      if (name !== database?.database_name) throw new Error(`d1 create ${name}: env.${envName} names its database ${database?.database_name}`);
      envState.databaseId = randomUUID();
      return { id: envState.databaseId };
    },
    "queue-create": async ({ name }) => {
      const c = readConfig(envName);
      const queues = new Set([...c.queues.producers.map((p) => p.queue), ...c.queues.consumers.map((q) => q.queue), ...c.queues.consumers.map((q) => q.dead_letter_queue)]);
      if (!queues.has(String(name))) throw new Error(`queues create ${name}: env.${envName} uses no queue of that name`);
      return {};
    },
    "after-block": async ({ env, url }) => {
      // The edit the README asks for after `d1 create`: the id, and the URL as PUBLIC_URL.
      if (env !== envName) throw new Error(`the block ran for ENV=${env}, the test set ${envName}`);
      if (!envState.databaseId) return {};
      const path = join(dir, "wrangler.toml");
      const toml = readFileSync(path, "utf8");
      const edited = fillEnvironment(toml, envName, envState.databaseId, String(url));
      writeFileSync(path, edited);
      return {};
    },
    migrated: async ({ env, database }) => {
      if (env !== envName || database !== "DB") throw new Error(`migrations applied to ${database} of env ${env}`);
      envState.migrated = true;
      return {};
    },
    secret: async ({ env, name, value }) => {
      if (env !== envName) throw new Error(`secret put --env ${env}, the run is for ${envName}`);
      if (!code.secrets.includes(String(name))) throw new Error(`secret put ${name}: the code reads no such secret (it reads ${code.secrets.join(", ")})`);
      if (typeof value !== "string" || value.length === 0 || /\s$/.test(value)) throw new Error(`secret ${name}: empty or ends in whitespace`);
      envState.secrets[String(name)] = value;
      if (name === "SIGNING_KEYS") envState.signingKeysHistory.push(value);
      // A secret put deploys a new version: the running worker gets the new value.
      if (mf && script) await mf.setOptions(workerOptions(script));
      return {};
    },
    deploy: async ({ env, outdir }) => {
      if (env !== envName) throw new Error(`deploy --env ${env}, the run is for ${envName}`);
      script = join(String(outdir), "index.js");
      const missing = code.secrets.filter((s) => !(s in envState.secrets));
      if (missing.length > 0) throw new Error(`deployed before putting ${missing.join(", ")}`);
      if (mf) await mf.setOptions(workerOptions(script));
      else {
        mf = new Miniflare(workerOptions(script));
        await mf.ready;
      }
      envState.deployed = true;
      return {};
    },
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", async () => {
      const action = (req.url ?? "").replace(/^\//, "");
      try {
        const handler = handlers[action];
        if (!handler) throw new Error(`unknown action ${action}`);
        const result = await handler(raw ? JSON.parse(raw) : {});
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
      } catch (error) {
        problems.push((error as Error).message);
        res.writeHead(400).end((error as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const control = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  /** Runs the script in bash, in the scratch copy, with the stand-in in front of `npx wrangler`. */
  function run(scriptText: string, stsUrl: string) {
    const prelude = [
      `npx() { if [ "\${1:-}" = wrangler ]; then shift; node ${JSON.stringify(STAND_IN)} "$@"; else command npx "$@"; fi; }`,
      `npm() { if [ "\${1:-}" = run ] && [ "\${2:-}" = smoke ]; then command npm "$@" --via ${JSON.stringify(via)}; else command npm "$@"; fi; }`,
      `curl() { local args=(); for a in "$@"; do args+=("\${a/#"$STS_URL"/${via}}"); done; command curl "\${args[@]}"; }`,
      `__after_block() { node ${JSON.stringify(STAND_IN)} __after-block "$1" "$ENV" "$STS_URL"; }`,
      "set -euo pipefail",
    ].join("\n");
    const child = spawn("bash", ["-c", `${prelude}\n${scriptText}`], {
      cwd: dir,
      env: {
        ...process.env,
        STAND_IN_WRANGLER: WRANGLER,
        STAND_IN_CONTROL: control,
        STAND_IN_STATE: state,
        WRANGLER_SEND_METRICS: "false",
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  }

  return {
    dir,
    envState,
    problems,
    run,
    readConfig,
    code,
    database: async () => mf!.getD1Database("DB"),
    async stop() {
      await mf?.dispose().catch(() => undefined);
      await new Promise((resolve) => server.close(resolve));
      // Keep what wrangler --help said for the next run.
      for (const file of ["login", "d1-create", "d1-migrations-apply", "secret-put", "deployments-status", "queues-create", "deploy"]) {
        const from = join(state, `help-${file}.txt`);
        if (existsSync(from)) cpSync(from, join(HELP_CACHE, `help-${file}.txt`));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The README's edit after `d1 create`: this environment's database_id and PUBLIC_URL. */
function fillEnvironment(toml: string, env: string, databaseId: string, url: string): string {
  const section = (header: string) => {
    const start = toml.indexOf(header);
    expect(start, `wrangler.toml has ${header}`).toBeGreaterThanOrEqual(0);
    const next = toml.slice(start + header.length).search(/^\[/m);
    return [start, next < 0 ? toml.length : start + header.length + next] as const;
  };
  const [dbStart, dbEnd] = section(`[[env.${env}.d1_databases]]`);
  toml = toml.slice(0, dbStart) + toml.slice(dbStart, dbEnd).replace(/^database_id = ".*"$/m, `database_id = "${databaseId}"`) + toml.slice(dbEnd);
  const [varsStart, varsEnd] = section(`[env.${env}.vars]`);
  return toml.slice(0, varsStart) + toml.slice(varsStart, varsEnd).replace(/^PUBLIC_URL = ".*"$/m, `PUBLIC_URL = "${url}"`) + toml.slice(varsEnd);
}

/** The blocks as one script: ENV and STS_URL set for this run, the edits hooked in after each block. */
function scriptFor(blocks: string[], env: string, stsUrl: string): string {
  const [first, ...rest] = blocks;
  expect(first, "the first block sets ENV=staging").toMatch(/^ENV=staging\b/m);
  expect(first, "the first block sets STS_URL").toMatch(/^STS_URL=https:\/\/sts-staging\.example\.com\b/m);
  const head = first!.replace(/^ENV=staging\b/m, `ENV=${env}`).replace(/^STS_URL=https:\/\/sts-staging\.example\.com\b/m, `STS_URL=${stsUrl}`);
  return [head, ...rest].map((block, i) => `${block}\n__after_block ${i + 1}\n`).join("\n");
}

let current: Awaited<ReturnType<typeof world>> | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

describe("README: Deployment", () => {
  it.each(["staging", "production"])(
    "runs every command of the section for %s: database, migrations, secrets, check, deploy, smoke, first organization, key rotation",
    async (env) => {
      const blocks = shBlocks(readmeSection("Deployment"));
      expect(blocks.length).toBeGreaterThanOrEqual(3);
      const stsUrl = `https://sts-${env}.edge-sts-readme.dev`;
      current = await world(env);
      const result = await current.run(scriptFor(blocks, env, stsUrl), stsUrl);
      const out = `${result.stdout}\n${result.stderr}`;
      expect(current.problems, out).toEqual([]);
      expect(result.code, out).toBe(0);

      const { envState } = current;
      // The database named in wrangler.toml was created, its id filled in, the migrations applied to it.
      const config = current.readConfig(env);
      expect(config.d1_databases[0]?.database_id).toBe(envState.databaseId);
      expect(config.vars).toMatchObject({ PUBLIC_URL: stsUrl });
      expect(envState.migrated).toBe(true);
      const applied = await (await current.database()).prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>();
      const files = (await import("node:fs")).readdirSync(join(ROOT, "migrations")).filter((f) => f.endsWith(".sql")).sort();
      expect(applied.results.map((r) => r.name)).toEqual(files);
      // The deploy check really ran (and passed) on the filled-in wrangler.toml.
      expect(result.stdout).toContain("deploy-check: ok (ready: no placeholders left)");
      // Every secret the code reads was put, and the worker was deployed with them.
      expect(Object.keys(envState.secrets).sort()).toEqual([...current.code.secrets].sort());
      expect(envState.deployed).toBe(true);
      // The smoke test passed after the deploy and after each rotation step; the first organization exists.
      expect(result.stdout.match(/^smoke: ok/gm)?.length, out).toBe(4);
      expect(result.stdout).toMatch(/"id":"org_[0-9a-f]+"/);
      // The rotation went [k0] → [k0, k1] → [k1, k0] → [k1].
      const kids = envState.signingKeysHistory.map((v) => (JSON.parse(v) as { kid: string }[]).map((k) => k.kid));
      expect(kids).toHaveLength(4);
      const [[k0], [, k1]] = kids as [[string], [string, string]];
      expect(kids).toEqual([[k0], [k0, k1], [k1, k0], [k1]]);
      expect(result.stdout).toContain(`signs: ${k1}; published: ${k1}`);
    },
    400_000,
  );
});
