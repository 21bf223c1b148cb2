#!/usr/bin/env node
/**
 * `npx wrangler …` as the README's deployment commands see it in readme-commands.test.ts:
 * every command is first checked against the installed wrangler's own `--help` for it (the
 * command exists, every flag is one it takes, required positionals are there); then
 * - commands that work without an account run for real, made local: `deploy` with
 *   `--dry-run`, `d1 migrations apply --remote` with `--local` into the scratch state;
 * - commands that need an account (`login`, `d1 create`, `secret put`, `deployments status`,
 *   `queues create`) are answered by the test's control server, which checks what they name
 *   against wrangler.toml and the code, and keeps secrets for the local worker.
 * Anything else fails, so a new command in the README needs a decision here.
 *
 * Environment: STAND_IN_WRANGLER (the real wrangler), STAND_IN_CONTROL (the control URL),
 * STAND_IN_STATE (scratch state: help texts, local D1, bundles).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const WRANGLER = process.env.STAND_IN_WRANGLER;
const CONTROL = process.env.STAND_IN_CONTROL;
const STATE = process.env.STAND_IN_STATE;
if (!WRANGLER || !CONTROL || !STATE) {
  console.error("wrangler stand-in: STAND_IN_WRANGLER, STAND_IN_CONTROL and STAND_IN_STATE must be set");
  process.exit(2);
}
const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" };

/** The commands the README may use, and what the stand-in does with each. */
const COMMANDS = ["login", "d1 create", "d1 migrations apply", "secret put", "deployments status", "queues create", "deploy"];

const fail = (message) => {
  console.error(`wrangler stand-in: ${message}`);
  process.exit(1);
};

async function control(action, body) {
  const response = await fetch(`${CONTROL}/${action}`, { method: "POST", body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) fail(`${action}: ${text}`);
  return text ? JSON.parse(text) : {};
}

/** `wrangler <command> --help`, cached: its usage line and its flags with their types. */
function helpFor(command) {
  mkdirSync(STATE, { recursive: true });
  const cache = join(STATE, `help-${command.replace(/ /g, "-")}.txt`);
  let text;
  if (existsSync(cache)) text = readFileSync(cache, "utf8");
  else {
    const result = spawnSync(WRANGLER, [...command.split(" "), "--help"], { encoding: "utf8", env: WRANGLER_ENV, timeout: 60_000 });
    text = `${result.stdout}\n${result.stderr}`;
    if (result.status !== 0) fail(`wrangler ${command} --help failed: ${text.slice(0, 500)}`);
    writeFileSync(cache, text);
  }
  const usage = text.split("\n").find((line) => line.startsWith(`wrangler ${command}`));
  if (!usage) fail(`wrangler ${command} --help shows no usage line for that command: it does not exist in this wrangler`);
  const flags = new Map();
  let current;
  for (const line of text.split("\n")) {
    const flag = /^\s+(?:-([A-Za-z]), )?--([a-z0-9-]+)\b/.exec(line);
    if (flag) {
      current = { short: flag[1], name: flag[2], type: undefined };
      flags.set(flag[2], current);
      if (flag[1]) flags.set(flag[1], current);
    }
    const type = /\[(string|boolean|number|array)\]/.exec(line);
    if (current && type && current.type === undefined) current.type = type[1];
  }
  const required = (usage.match(/<[^>]+>/g) ?? []).length;
  const optional = (usage.match(/\[[^\]]+\]/g) ?? []).length;
  return { usage, flags, required, optional };
}

/** Splits argv after the command into positionals and flags, checked against the command's help. */
function parse(command, args) {
  const help = helpFor(command);
  const positionals = [];
  const flags = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const m = /^--?([A-Za-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) {
      positionals.push(arg);
      continue;
    }
    const flag = help.flags.get(m[1]);
    if (!flag) fail(`wrangler ${command} takes no flag ${arg} (see wrangler ${command} --help)`);
    if (flag.type === "boolean") flags[flag.name] = true;
    else {
      const value = m[2] ?? args[++i];
      if (value === undefined) fail(`wrangler ${command} ${arg} needs a value`);
      flags[flag.name] = value;
    }
  }
  if (positionals.length < help.required || positionals.length > help.required + help.optional) {
    fail(`wrangler ${command} takes ${help.required} argument(s) (${help.usage.trim()}), got ${positionals.length}: ${positionals.join(" ")}`);
  }
  return { positionals, flags };
}

function runReal(args) {
  const result = spawnSync(WRANGLER, args, { encoding: "utf8", env: WRANGLER_ENV, timeout: 180_000 });
  process.stdout.write(result.stdout ?? "");
  process.stderr.write(result.stderr ?? "");
  if (result.status !== 0) fail(`wrangler ${args.join(" ")} exited ${result.status}`);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

const argv = process.argv.slice(2);
if (argv[0] === "__after-block") {
  await control("after-block", { block: Number(argv[1]), env: argv[2], url: argv[3] });
  process.exit(0);
}
const command = [...COMMANDS].sort((a, b) => b.split(" ").length - a.split(" ").length).find((c) => c.split(" ").every((word, i) => argv[i] === word));
if (!command) fail(`the README uses \`wrangler ${argv.join(" ")}\`, which this stand-in does not know: decide how the test runs it`);
const { positionals, flags } = parse(command, argv.slice(command.split(" ").length));
const env = flags.env ?? "";

switch (command) {
  case "login":
  case "deployments status":
    console.log(`(stand-in) wrangler ${command}${env ? ` --env ${env}` : ""}: checked against --help; it needs an account, so it is not run`);
    break;
  case "d1 create": {
    const { id } = await control("d1-create", { name: positionals[0] });
    console.log(`✅ Successfully created DB '${positionals[0]}'\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "${positionals[0]}"\ndatabase_id = "${id}"`);
    break;
  }
  case "queues create":
    await control("queue-create", { name: positionals[0] });
    console.log(`✅ Created queue '${positionals[0]}'`);
    break;
  case "secret put": {
    if (!env) fail("secret put without --env would set a secret of the top level, which is never deployed");
    const value = await readStdin();
    await control("secret", { env, name: positionals[0], value });
    console.log(`✨ Success! Uploaded secret ${positionals[0]}`);
    break;
  }
  case "d1 migrations apply": {
    if (!flags.remote) fail("the README applies migrations without --remote: that would only touch a local database");
    const args = ["d1", "migrations", "apply", positionals[0], "--local", "--persist-to", join(STATE, "persist"), ...(env ? ["--env", env] : [])];
    runReal(args);
    await control("migrated", { env, database: positionals[0] });
    break;
  }
  case "deploy": {
    if (!env) fail("deploy without --env would deploy the top level, which is for npm start and the tests");
    if (flags["dry-run"]) fail("the README's deploy must be a real one");
    const outdir = join(STATE, `dist-${env}`);
    runReal(["deploy", "--dry-run", "--outdir", outdir, "--env", env, ...positionals]);
    await control("deploy", { env, outdir });
    console.log(`(stand-in) the bundle is now served locally for env.${env}`);
    break;
  }
}
