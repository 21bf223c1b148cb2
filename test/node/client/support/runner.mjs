/**
 * A GitHub Actions runner, as far as a JavaScript action sees it: INPUT_* variables (the
 * input's name upper-cased, spaces as underscores; defaults from action.yml), fresh
 * GITHUB_OUTPUT / GITHUB_ENV / GITHUB_STATE files per step, STATE_* for the post step, and
 * `node action/dist/<step>.js` as the runner starts it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { runProcess } from "./ci.mjs";
import { ROOT } from "./stack.mjs";

export const ACTION_YML = parse(readFileSync(join(ROOT, "action", "action.yml"), "utf8"));

/** The runner's rule for an input's variable name. */
export const inputVariable = (name) => `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;

/**
 * Parses an environment file: `name<<DELIMITER` heredocs and `name=value` lines.
 * @returns {Record<string, string>}
 */
export function parseFileCommands(text) {
  const result = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const value = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i]);
      if (i >= lines.length) throw new Error(`unterminated heredoc for ${name}`);
      result[name] = value.join("\n");
      continue;
    }
    const at = line.indexOf("=");
    if (at <= 0) throw new Error(`malformed line: ${line}`);
    result[line.slice(0, at)] = line.slice(at + 1);
  }
  return result;
}

/**
 * Runs one step of the Action. `inputs` are by input name (e.g. "export-env").
 * @returns {Promise<{ code, stdout, stderr, outputs, env, state, files }>}
 */
export async function runActionStep(step, { dir, inputs = {}, env = {}, state = {}, applyDefaults = true }) {
  const files = { GITHUB_OUTPUT: join(dir, `${step}-output`), GITHUB_ENV: join(dir, `${step}-env`), GITHUB_STATE: join(dir, `${step}-state`) };
  for (const path of Object.values(files)) writeFileSync(path, "");
  const inputEnv = {};
  for (const [name, spec] of Object.entries(ACTION_YML.inputs)) {
    const value = inputs[name] ?? (applyDefaults ? spec.default : undefined);
    if (value !== undefined) inputEnv[inputVariable(name)] = String(value);
  }
  const stateEnv = Object.fromEntries(Object.entries(state).map(([name, value]) => [`STATE_${name}`, value]));
  const result = await runProcess(process.execPath, [join(ROOT, "action", ACTION_YML.runs[step])], {
    dir,
    env: { ...env, ...inputEnv, ...stateEnv, ...files, GITHUB_ACTION: "sts", RUNNER_OS: "Linux" },
  });
  return {
    ...result,
    files,
    outputs: parseFileCommands(readFileSync(files.GITHUB_OUTPUT, "utf8")),
    env: parseFileCommands(readFileSync(files.GITHUB_ENV, "utf8")),
    state: parseFileCommands(readFileSync(files.GITHUB_STATE, "utf8")),
  };
}
