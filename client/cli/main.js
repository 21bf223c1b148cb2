// @ts-check
/**
 * The `edge-sts` command: dispatches to a command, and turns its outcome into an exit code
 * (cli/exit-codes.js) and, on failure, redacted words on stderr.
 */
import { ClientError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { GLOBAL_HELP } from "./args.js";
import { explainCommand, projectsCommand, tokensCommand, trustCommand } from "./commands/admin.js";
import { execCommand } from "./commands/exec.js";
import { loginCommand, logoutCommand } from "./commands/login.js";
import { pullTokenCommand, revokeCommand, tokenCommand } from "./commands/token.js";
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from "./exit-codes.js";
import { print, reportError } from "./output.js";

/** @type {Record<string, (args: string[], env: NodeJS.ProcessEnv) => Promise<void | number>>} */
const COMMANDS = {
  token: tokenCommand,
  exec: execCommand,
  revoke: revokeCommand,
  "pull-token": pullTokenCommand,
  login: loginCommand,
  logout: logoutCommand,
  explain: explainCommand,
  trust: trustCommand,
  tokens: tokensCommand,
  projects: projectsCommand,
};

export const HELP = `edge-sts ${VERSION}: short-lived, project-scoped tokens for CI jobs, from their OIDC ID token

Usage: edge-sts COMMAND [OPTIONS]

In a CI job (GitHub Actions, CircleCI, Buildkite, RWX):
  token        print a token for --project (stdout carries the token only)
  exec         run a command with EDGE_STS_TOKEN set, revoke the token when it exits
  revoke       revoke a token minted by edge-sts
  pull-token   print a registry pull token for --project
  explain      show a project admin why this job's ID token is or is not admitted

For people and configuration as code:
  login        check a user token and store it (0600) for later commands
  logout       forget the stored login
  trust        add, list, rm trust relationships of a project
  tokens       create, list, rm static tokens of a project, organization or user
  projects     create, list projects of an organization

Credentials, in this order: --token, EDGE_STS_TOKEN, the stored login for the URL, then
this CI job's ID token (GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_*; CircleCI: \`circleci run
oidc get\`; Buildkite: \`buildkite-agent oidc request-token\`; RWX or any CI: EDGE_STS_OIDC_TOKEN),
requested for the audience the service publishes and exchanged for --project.

Environment: EDGE_STS_URL, EDGE_STS_PROJECT, EDGE_STS_TOKEN, EDGE_STS_OIDC_TOKEN, XDG_CONFIG_HOME.
429 and 503 answers are retried honouring Retry-After (at most 5 attempts, 60 s of waiting);
other refusals are not.

${GLOBAL_HELP}
  --version          print the version

Run \`edge-sts COMMAND --help\` for a command's options.

${EXIT_CODES_HELP}`;

/**
 * @param {string[]} argv arguments after the program name
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<number>} the exit code
 */
export async function main(argv, env) {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    print(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-v") {
    print(VERSION);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  const json = args.includes("--json");
  if (!command) {
    reportError(new ClientError("usage", `unknown command ${JSON.stringify(name.slice(0, 40))}`, { hint: `one of ${Object.keys(COMMANDS).join(", ")}; see edge-sts --help` }), json);
    return EXIT.usage;
  }
  try {
    const status = await command(args, env);
    return typeof status === "number" ? status : EXIT.ok;
  } catch (error) {
    reportError(error, json);
    return error instanceof ClientError ? exitCodeFor(error.kind) : EXIT.unexpected;
  }
}
