/**
 * Runs the documentation's snippets the way each CI would run them: the Markdown's fenced
 * blocks are extracted and parsed (YAML with the `yaml` package, JSON with JSON.parse), the
 * placeholders (`https://sts.example.com`, `prj_0123456789abcdef01234567`) replaced by the
 * test's server and project, and their commands run with bash in a simulated job of that
 * CI. `npx --yes edge-sts@0.1` runs the package `npm pack` makes of client/ (a fake `npx`
 * first on PATH stands in for the download).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { runProcess } from "./ci.mjs";
import { runActionStep } from "./runner.mjs";
import { ROOT } from "./stack.mjs";

export const PLACEHOLDER_URL = "https://sts.example.com";
export const PLACEHOLDER_PROJECT = "prj_0123456789abcdef01234567";

/** Fenced blocks of a Markdown file: `{ lang, code }`. */
export function snippets(file) {
  const text = readFileSync(join(ROOT, file), "utf8");
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], code: m[2] }));
}

/** `npm pack` of client/, unpacked: what `npx edge-sts` would download. Returns the package directory. */
export function packClient() {
  const out = mkdtempSync(join(tmpdir(), "edge-sts-pack-"));
  const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", out], { cwd: join(ROOT, "client"), encoding: "utf8" }));
  execFileSync("tar", ["-xzf", join(out, packed.filename), "-C", out]);
  return { dir: join(out, "package"), packed };
}

/**
 * A fake `npx` in `bin`: `npx --yes edge-sts@<range>` runs the unpacked package, like npx
 * after its download; anything else fails, so the docs cannot drift to another invocation.
 */
export function installFakeNpx(bin, packageDir, version) {
  const path = join(bin, "npx");
  writeFileSync(
    path,
    `#!${process.execPath}
import { spawnSync } from "node:child_process";
const [yes, spec, ...rest] = process.argv.slice(2);
if (yes !== "--yes" || !/^edge-sts@[\\d.]+$/.test(spec ?? "") || !${JSON.stringify(version)}.startsWith(spec.slice("edge-sts@".length))) {
  process.stderr.write("fake npx: expected npx --yes edge-sts@<version matching ${version}>, got " + process.argv.slice(2, 4).join(" ") + "\\n");
  process.exit(1);
}
const result = spawnSync(process.execPath, [${JSON.stringify(join(packageDir, "bin", "edge-sts.js"))}, ...rest], { stdio: "inherit" });
process.exit(result.status ?? 1);
`,
  );
  chmodSync(path, 0o755);
}

/**
 * The job's own script (`./publish.sh` in the docs): records the token it was given and
 * whether it was active at that moment, as the service it publishes to would see it.
 */
export function installPublishScript(workspace, introspection) {
  const recorder = join(workspace, "record.mjs");
  writeFileSync(
    recorder,
    `import { appendFileSync } from "node:fs";
const token = process.env.EDGE_STS_TOKEN;
const response = await fetch(${JSON.stringify(introspection.url)}, { method: "POST", headers: { authorization: "Bearer ${introspection.token}", "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: token ?? "" }) });
appendFileSync(${JSON.stringify(join(workspace, "published.jsonl"))}, JSON.stringify({ token, introspection: await response.json() }) + "\\n");
`,
  );
  const script = join(workspace, "publish.sh");
  writeFileSync(script, `#!/bin/sh\nexec "${process.execPath}" "${recorder}"\n`);
  chmodSync(script, 0o755);
}

export function published(workspace) {
  try {
    return readFileSync(join(workspace, "published.jsonl"), "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/** The snippet as the reader would fill it in. */
export function fillIn(code, stack, projectId) {
  return code.replaceAll(PLACEHOLDER_URL, stack.url).replaceAll(PLACEHOLDER_PROJECT, projectId);
}

/** A shell snippet, run with bash -e as a person (or a setup job) would. */
export async function runShell(code, { dir, env }) {
  return runProcess("bash", ["-e", "-c", code], { dir, env, cwd: join(dir, "workspace") });
}

/** Runs a command string as the CI's shell does. */
function shell(flags, command, { dir, env }) {
  return runProcess("bash", [...flags, "-c", command], { dir, env, cwd: join(dir, "workspace") });
}

const check = (step, what) => {
  if (step.code !== 0) throw new Error(`${what} exited ${step.code}\n${step.stdout}\n${step.stderr}`);
  return step;
};

/**
 * A GitHub Actions workflow: every job's steps in order. `uses: <owner>/edge-sts/action@v1`
 * runs action/dist/main.js (then post.js after the last step, as the runner does);
 * `actions/checkout` is skipped; `run:` runs under `bash -e -o pipefail` after its
 * `${{ steps.<id>.outputs.<name> }}` expressions are evaluated.
 */
export async function runGithubWorkflow(workflow, { dir, github, extraEnv = {} }) {
  const log = [];
  for (const [jobName, job] of Object.entries(workflow.jobs)) {
    const permissions = { ...(workflow.permissions ?? {}), ...(job.permissions ?? {}) };
    const ciEnv = github.env(permissions["id-token"] === "write");
    let env = { ...ciEnv, ...extraEnv, ...(workflow.env ?? {}), ...(job.env ?? {}) };
    const outputs = {};
    const posts = [];
    const evaluate = (value) =>
      String(value).replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expression) => {
        const m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression);
        if (!m || outputs[m[1]]?.[m[2]] === undefined) throw new Error(`unsupported expression in ${jobName}: ${expression}`);
        return outputs[m[1]][m[2]];
      });
    for (const step of job.steps) {
      const stepEnv = { ...env, ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, evaluate(v)])) };
      if (step.uses?.startsWith("actions/checkout@")) continue;
      if (step.uses) {
        if (!/^[\w.-]+\/edge-sts\/action@v1$/.test(step.uses)) throw new Error(`unknown action ${step.uses}`);
        const inputs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, evaluate(v)]));
        const main = check(await runActionStep("main", { dir, inputs, env: stepEnv }), `${step.uses} main`);
        if (step.id) outputs[step.id] = main.outputs;
        env = { ...env, ...main.env };
        posts.unshift({ state: main.state, env: stepEnv });
        log.push({ step: step.uses, stdout: main.stdout });
        continue;
      }
      const result = check(await shell(["-e", "-o", "pipefail"], evaluate(step.run), { dir, env: stepEnv }), `step ${step.name ?? step.run}`);
      log.push({ step: step.name, stdout: result.stdout, stderr: result.stderr });
    }
    for (const post of posts) log.push({ post: check(await runActionStep("post", { dir, state: post.state, env: post.env }), "post").stdout });
  }
  return log;
}

/** A CircleCI config: each job's `run` steps under `/bin/bash -eo pipefail`; `checkout` is skipped. */
export async function runCircleciConfig(config, { dir, env }) {
  if (config.version !== 2.1) throw new Error("expected config version 2.1");
  const workflowJobs = Object.values(config.workflows).flatMap((w) => w.jobs.map((j) => (typeof j === "string" ? j : Object.keys(j)[0])));
  const log = [];
  for (const name of workflowJobs) {
    const job = config.jobs[name];
    if (!job) throw new Error(`workflow names unknown job ${name}`);
    const jobEnv = { ...env, CIRCLECI: "true", CI: "true", CIRCLE_JOB: name, CIRCLE_BRANCH: "main", ...(job.environment ?? {}) };
    for (const step of job.steps) {
      if (step === "checkout") continue;
      const command = typeof step.run === "string" ? step.run : step.run?.command;
      if (!command) throw new Error(`unsupported step ${JSON.stringify(step)}`);
      log.push(check(await shell(["-eo", "pipefail"], command, { dir, env: jobEnv }), `run ${step.run?.name ?? command}`));
    }
  }
  return log;
}

/** A Buildkite pipeline.yml: each command step under `bash -e`, with the pipeline's and step's env. */
export async function runBuildkitePipeline(pipeline, { dir, env }) {
  const log = [];
  for (const step of pipeline.steps) {
    const commands = step.commands ?? (step.command ? [step.command] : []);
    if (commands.length === 0) throw new Error(`unsupported step ${JSON.stringify(step)}`);
    const stepEnv = { ...env, BUILDKITE: "true", CI: "true", BUILDKITE_BRANCH: "main", ...(pipeline.env ?? {}), ...(step.env ?? {}) };
    log.push(check(await shell(["-e"], commands.join("\n"), { dir, env: stepEnv }), `step ${step.label}`));
  }
  return log;
}

/**
 * An RWX run definition: `call` tasks are RWX packages (here: assumed done); `run` tasks run
 * under `bash -e` with their env, `${{ vaults.<vault>.oidc.<name> }}` replaced by `vaultToken(vault, name)`.
 */
export async function runRwxDefinition(definition, { dir, env, vaultToken }) {
  const log = [];
  const keys = new Set(definition.tasks.map((t) => t.key));
  for (const task of definition.tasks) {
    for (const dependency of [task.use ?? []].flat()) if (!keys.has(dependency)) throw new Error(`${task.key} uses unknown task ${dependency}`);
    if (task.call) continue;
    const taskEnv = { ...env };
    for (const [name, spec] of Object.entries(task.env ?? {})) {
      const raw = typeof spec === "object" ? spec.value : spec;
      taskEnv[name] = await replaceAsync(String(raw), /\$\{\{\s*vaults\.([\w-]+)\.oidc\.([\w-]+)\s*\}\}/g, (_, vault, tokenName) => vaultToken(vault, tokenName));
      if (taskEnv[name].includes("${{")) throw new Error(`unsupported expression in ${task.key}.${name}`);
    }
    log.push(check(await shell(["-e"], task.run, { dir, env: taskEnv }), `task ${task.key}`));
  }
  return log;
}

async function replaceAsync(text, pattern, replacer) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    parts.push(text.slice(last, match.index), await replacer(...match));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts.join("");
}

export const parseYaml = (code) => parse(code, { strict: true, uniqueKeys: true });
