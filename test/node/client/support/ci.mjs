/**
 * Each CI as a job really meets it, simulated on this machine:
 * - GitHub Actions: an HTTP server speaking the runner's ID-token protocol
 *   (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…`, `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`
 *   → `{ "value": … }`), and the variables a job gets with and without `id-token: write`;
 * - CircleCI and Buildkite: fake `circleci` and `buildkite-agent` executables first on PATH
 *   that check their arguments like the real ones, get a real token from the stand-in
 *   issuer, and record their argv (so tests can assert no secret was ever in it);
 * - RWX: the vault's token in an environment variable.
 * Plus `runCli`, which runs the real `edge-sts` executable in such an environment.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildkiteClaims, circleciClaims, githubClaims, rwxClaims } from "../../../support/ci-claims.mjs";
import { ROOT } from "./stack.mjs";

export const CLI = join(ROOT, "client", "bin", "edge-sts.js");
const CLAIMS_MODULE = pathToFileURL(join(ROOT, "test", "support", "ci-claims.mjs")).href;

/** A scratch directory: HOME, XDG_CONFIG_HOME, a bin/ for fake tools, files a runner provides. */
export function scratch() {
  const dir = mkdtempSync(join(tmpdir(), "edge-sts-job-"));
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "home"));
  return dir;
}

/**
 * Runs `edge-sts` with exactly `env` (plus PATH and HOME): nothing leaks in from the test
 * process's own environment.
 * @returns {Promise<{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }>}
 */
export function runCli(args, { env = {}, dir, input, onSpawn, timeoutMs = 60_000 } = {}) {
  return runProcess(process.execPath, [CLI, ...args], { env, dir, input, onSpawn, timeoutMs });
}

export function runProcess(file, args, { env = {}, dir, input, onSpawn, timeoutMs = 60_000, cwd } = {}) {
  const home = dir ? join(dir, "home") : tmpdir();
  const fullEnv = {
    PATH: `${dir ? `${join(dir, "bin")}:` : ""}${process.env.PATH}`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    ...env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: fullEnv, stdio: ["pipe", "pipe", "pipe"], cwd: cwd ?? dir ?? ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
    onSpawn?.(child);
  });
}

/**
 * GitHub's ID-token endpoint for one job. `env(withPermission)` is what the runner gives a
 * job: the request URL and token only with `permissions: id-token: write`.
 */
export async function githubIdTokenEndpoint(stack, job) {
  const requestToken = `ghs_${randomBytes(20).toString("hex")}`;
  const requests = [];
  /** Statuses to answer the next requests with, as GitHub's endpoint sometimes does. */
  const failures = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    const audience = url.searchParams.get("audience");
    requests.push({ path: url.pathname, apiVersion: url.searchParams.get("api-version"), audience, authorization: req.headers.authorization });
    if (failures.length > 0) {
      res.writeHead(failures.shift(), { "content-type": "application/json" }).end(JSON.stringify({ message: "Bad Gateway" }));
      return;
    }
    if (req.headers.authorization !== `bearer ${requestToken}` && req.headers.authorization !== `Bearer ${requestToken}`) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ message: "Unauthorized" }));
      return;
    }
    // Without ?audience=, GitHub's default audience is the owner's URL.
    const aud = audience ?? `https://github.com/${job.owner}`;
    const token = await stack.sign(stack.issuers.github, githubClaims(aud, job, { iss: stack.issuers.github }));
    requests[requests.length - 1].issued = token;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ count: 1, value: token }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    requestToken,
    requests,
    failNext: (...statuses) => failures.push(...statuses),
    env(withPermission = true) {
      const base = { GITHUB_ACTIONS: "true", CI: "true", GITHUB_REPOSITORY: `${job.owner}/${job.repository}`, RUNNER_TEMP: tmpdir() };
      if (!withPermission) return base;
      return {
        ...base,
        ACTIONS_ID_TOKEN_REQUEST_URL: `${origin}/_apis/distributedtask/hubs/build/plans/${randomUUID()}/jobs/${randomUUID()}/idtoken?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
      };
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Writes fake `circleci` and `buildkite-agent` into `dir/bin`. Each appends
 * `{ tool, argv, env: [names] }` to dir/argv.log and prints a token signed by the stand-in.
 * @param {string} dir
 * @param {{ issuers: Record<string, string>, issuerOrigin: string }} stack
 * @param {{ circleci?: { org: string, project: string, overrides?: object }, buildkite?: { org: string, pipeline: string, organizationId: string, pipelineId: string } }} jobs
 */
export function installFakeCiTools(dir, stack, jobs) {
  const config = join(dir, "fake-ci.json");
  writeFileSync(config, JSON.stringify({ stack: { issuers: stack.issuers, issuerOrigin: stack.issuerOrigin }, jobs, log: join(dir, "argv.log") }));
  const common = `#!${process.execPath}
import { appendFileSync, readFileSync } from "node:fs";
import { circleciClaims, buildkiteClaims } from ${JSON.stringify(CLAIMS_MODULE)};
const config = JSON.parse(readFileSync(${JSON.stringify(config)}, "utf8"));
const argv = process.argv.slice(2);
appendFileSync(config.log, JSON.stringify({ tool: TOOL, argv, env: Object.keys(process.env) }) + "\\n");
const fail = (message, code = 1) => { process.stderr.write(message + "\\n"); process.exit(code); };
async function sign(issuer, claims) {
  const response = await fetch(config.stack.issuerOrigin + "/__control/sign", { method: "POST", body: JSON.stringify({ issuer, claims }) });
  return (await response.json()).token;
}
`;
  const circleci = `${common.replace("TOOL", '"circleci"')}
// As the real CLI: \`circleci run oidc get --claims '{"aud":"…"}'\` prints a token for that audience.
if (argv.length !== 5 || argv[0] !== "run" || argv[1] !== "oidc" || argv[2] !== "get" || argv[3] !== "--claims") fail("Error: unknown command or flags: " + argv.slice(0, 4).join(" "));
let claims;
try { claims = JSON.parse(argv[4]); } catch { fail("Error: --claims is not valid JSON"); }
if (!config.jobs.circleci || process.env.CIRCLECI !== "true") fail("Error: not running in a CircleCI job that can get OIDC tokens");
const { org, project, overrides = {} } = config.jobs.circleci;
const token = await sign(config.stack.issuers.circleci + "/org/" + org, circleciClaims(claims.aud ?? org, org, project, { iss: config.stack.issuers.circleci + "/org/" + org, ...overrides }));
process.stdout.write(token + "\\n");
`;
  const buildkite = `${common.replace("TOOL", '"buildkite-agent"')}
// As the real agent: \`buildkite-agent oidc request-token --audience A [--claim a,b]\`, authenticated by its env.
if (argv[0] !== "oidc" || argv[1] !== "request-token") fail("buildkite-agent: unknown command");
let audience, claimNames = [];
for (let i = 2; i < argv.length; i += 2) {
  if (argv[i] === "--audience") audience = argv[i + 1];
  else if (argv[i] === "--claim") claimNames = argv[i + 1].split(",");
  else if (argv[i] === "--lifetime") {}
  else fail("flag provided but not defined: " + argv[i]);
}
if (!process.env.BUILDKITE_AGENT_ACCESS_TOKEN || !process.env.BUILDKITE_JOB_ID) fail("fatal: BUILDKITE_AGENT_ACCESS_TOKEN and BUILDKITE_JOB_ID are required");
const job = config.jobs.buildkite;
const extra = {};
if (claimNames.includes("organization_id")) extra.organization_id = job.organizationId;
if (claimNames.includes("pipeline_id")) extra.pipeline_id = job.pipelineId;
const token = await sign(config.stack.issuers.buildkite, buildkiteClaims(audience ?? "https://buildkite.com/" + job.org, { org: job.org, pipeline: job.pipeline }, { iss: config.stack.issuers.buildkite, ...extra }));
process.stdout.write(token + "\\n");
`;
  for (const [name, source] of [["circleci", circleci], ["buildkite-agent", buildkite]]) {
    const path = join(dir, "bin", name);
    writeFileSync(path, source);
    chmodSync(path, 0o755);
  }
}

/** What the fake tools were run with. */
export function toolInvocations(dir) {
  const log = join(dir, "argv.log");
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

/** RWX puts the vault's OIDC token in the task's environment; the job names the variable. */
export async function rwxIdToken(stack, subject, overrides = {}) {
  return stack.sign(stack.issuers.rwx, rwxClaims(stack.audience, subject, { iss: stack.issuers.rwx, ...overrides }));
}

/** Any secret-shaped string in `text`? (JWTs, static tokens.) */
export function secretsIn(text, secrets) {
  return secrets.filter((s) => s && text.includes(s));
}
