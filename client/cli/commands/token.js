// @ts-check
/**
 * `token`, `revoke` and `pull-token`: what a CI job runs. `token` prints the credential the
 * resolution order finds — for a CI job, a token minted from its ID token — and nothing
 * else on stdout.
 */
import { checkId, createPullToken } from "../../core/api.js";
import { resolveCredential } from "../../core/credentials.js";
import { discover } from "../../core/discovery.js";
import { ClientError } from "../../core/errors.js";
import { revokeToken } from "../../core/revoke.js";
import { GLOBAL_HELP, OIDC_HELP, OIDC_OPTIONS, parse, required } from "../args.js";
import { commandContext } from "../context.js";
import { maskForCi, note, print, printJson, registerSecret, warn } from "../output.js";

const FORMATS = ["token", "json", "env"];

/** Single-quoted for POSIX shells; tokens never contain a quote, but nothing here relies on it. */
const shellQuote = (/** @type {string} */ value) => `'${value.replace(/'/g, `'\\''`)}'`;

export const TOKEN_HELP = `Usage: edge-sts token --project prj_… [--scope "registry:pull"] [--format token|json|env]

Prints a token for the project on stdout, and nothing else. In a CI job that is a token
minted from the job's ID token (GitHub Actions, CircleCI, Buildkite, or EDGE_STS_OIDC_TOKEN);
it is not revoked when this command ends: revoke it with \`edge-sts revoke\`, or use
\`edge-sts exec\`, which revokes for you.

  --project ID       the project (else EDGE_STS_PROJECT)
  --scope SCOPES     narrow the minted token, e.g. "registry:pull"
  --format FORMAT    token (default): the token alone
                     json: { token, token_type, expires_at, expires_in, scope, project, source, ci }
                     env: export EDGE_STS_TOKEN=… lines, for eval "$(edge-sts token --format env)"

${OIDC_HELP}

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env */
export async function tokenCommand(args, env) {
  const { values } = parse(args, { project: { type: "string" }, scope: { type: "string" }, format: { type: "string" }, ...OIDC_OPTIONS });
  if (values.help) return print(TOKEN_HELP);
  const format = values.json ? "json" : values.format ?? "token";
  if (!FORMATS.includes(format)) throw new ClientError("usage", `--format must be one of ${FORMATS.join(", ")}`);
  const ctx = commandContext(values, env);
  const project = checkId("prj", required(values.project, env.EDGE_STS_PROJECT, "--project (or EDGE_STS_PROJECT)"), "--project");
  const credential = await resolveCredential({
    serverUrl: ctx.serverUrl,
    env,
    flagToken: values.token,
    project,
    scope: values.scope,
    ci: values.ci,
    options: { circleciDefaultToken: values["circleci-default-token"] },
    http: ctx.http,
    onIdToken: registerSecret,
  });
  registerSecret(credential.token);
  if (credential.source !== "oidc") {
    if (values.scope) warn("--scope narrows only tokens minted from a CI ID token; the given credential is printed as it is");
    note(`edge-sts: using the credential from ${describeSource(credential.source)}`);
  }
  const minted = credential.minted;
  maskForCi(credential.token);
  if (format === "token") return print(credential.token);
  if (format === "env") {
    print(`export EDGE_STS_TOKEN=${shellQuote(credential.token)}`);
    if (minted) print(`export EDGE_STS_TOKEN_EXPIRES_AT=${minted.expiresAt}`);
    return;
  }
  printJson({
    token: credential.token,
    token_type: "Bearer",
    expires_at: minted?.expiresAt ?? null,
    expires_in: minted?.expiresIn ?? null,
    scope: minted?.scope ?? null,
    project,
    source: credential.source,
    ci: credential.ci?.name ?? null,
  });
}

export function describeSource(/** @type {string} */ source) {
  return { flag: "--token", env: "EDGE_STS_TOKEN", login: "the stored login", oidc: "this job's ID token" }[source] ?? source;
}

export const REVOKE_HELP = `Usage: edge-sts revoke [--token TOKEN | --token-stdin]

Revokes a token minted by edge-sts (a job or pull token): from --token, stdin with
--token-stdin, else EDGE_STS_TOKEN. Afterwards it is inactive everywhere. Static tokens
(sts_…) are deleted instead: \`edge-sts tokens rm\`.

  --token-stdin      read the token from stdin

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env */
export async function revokeCommand(args, env) {
  const { values } = parse(args, { "token-stdin": { type: "boolean" } });
  if (values.help) return print(REVOKE_HELP);
  const ctx = commandContext(values, env);
  const token = values["token-stdin"] ? await readStdin() : values.token ?? env.EDGE_STS_TOKEN;
  if (!token) throw new ClientError("usage", "no token to revoke: pass --token, --token-stdin or set EDGE_STS_TOKEN");
  registerSecret(token);
  const metadata = await discover(ctx.serverUrl, ctx.http);
  await revokeToken({ revocationEndpoint: metadata.revocationEndpoint, token, http: ctx.http });
  if (ctx.json) printJson({ revoked: true });
  else note("edge-sts: token revoked");
}

export async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8").trim();
}

export const PULL_TOKEN_HELP = `Usage: edge-sts pull-token --project prj_… [--expires-in SECONDS]

Prints a registry pull token for the project (scope registry:pull, at most 1 h) on stdout.
Any credential with registry access may ask: --token, EDGE_STS_TOKEN, the stored login, or
this CI job's ID token (exchanged for a registry:pull job token, which is not revoked here:
a pull token dies with the token it was made from).

  --project ID       the project (else EDGE_STS_PROJECT)
  --expires-in S     60-3600 (default 3600; never beyond the credential's own expiry)
  --format FORMAT    token (default) or json: { token, expires_at }

${OIDC_HELP}

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env */
export async function pullTokenCommand(args, env) {
  const { values } = parse(args, { project: { type: "string" }, "expires-in": { type: "string" }, format: { type: "string" }, ...OIDC_OPTIONS });
  if (values.help) return print(PULL_TOKEN_HELP);
  const format = values.json ? "json" : values.format ?? "token";
  if (format !== "token" && format !== "json") throw new ClientError("usage", "--format must be token or json");
  const ctx = commandContext(values, env);
  const project = checkId("prj", required(values.project, env.EDGE_STS_PROJECT, "--project (or EDGE_STS_PROJECT)"), "--project");
  const expiresIn = values["expires-in"] === undefined ? undefined : Number(values["expires-in"]);
  if (expiresIn !== undefined && !(Number.isInteger(expiresIn) && expiresIn >= 60 && expiresIn <= 3600)) {
    throw new ClientError("usage", "--expires-in must be a whole number of seconds from 60 to 3600");
  }
  const credential = await resolveCredential({
    serverUrl: ctx.serverUrl,
    env,
    flagToken: values.token,
    project,
    // A job token minted only to ask for a pull token needs nothing more than pulling.
    scope: "registry:pull",
    ci: values.ci,
    options: { circleciDefaultToken: values["circleci-default-token"] },
    http: ctx.http,
    onIdToken: registerSecret,
  });
  registerSecret(credential.token);
  const result = await createPullToken({ serverUrl: ctx.serverUrl, token: credential.token, http: ctx.http }, project, expiresIn);
  registerSecret(result?.token);
  maskForCi(result.token);
  if (format === "json") printJson(result);
  else print(result.token);
}
