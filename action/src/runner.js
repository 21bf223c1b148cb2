// @ts-check
/**
 * The GitHub Actions runner protocol, implemented from its documented file formats instead
 * of @actions/core (no dependency, and the bundle stays small):
 * - inputs arrive as INPUT_<NAME>, the name upper-cased with spaces as underscores;
 * - outputs, exported variables and state are appended to the files named by GITHUB_OUTPUT,
 *   GITHUB_ENV and GITHUB_STATE as `name<<DELIMITER\nvalue\nDELIMITER\n`, with a random
 *   delimiter that the value is checked not to contain (so a value can never inject a line);
 * - state comes back to the post step as STATE_<name>;
 * - workflow commands (`::add-mask::`, `::error::`, `::warning::`) go to stdout, their data
 *   escaped (% CR LF) so a message cannot start a second command.
 */
import { appendFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { EOL } from "node:os";

/**
 * @param {string} name
 * @param {NodeJS.ProcessEnv} [env]
 */
export function getInput(name, env = process.env) {
  const variable = `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;
  // The runner keeps hyphens (INPUT_EXPORT-ENV); a hand-made environment may not.
  return (env[variable] ?? env[variable.replace(/-/g, "_")] ?? "").trim();
}

/**
 * The YAML 1.2 core schema booleans, as @actions/core accepts them. The runner always
 * passes action.yml's default; `fallback` is that default, for an environment that does not.
 * @param {string} name
 * @param {boolean} fallback
 * @param {NodeJS.ProcessEnv} [env]
 */
export function getBooleanInput(name, fallback, env = process.env) {
  const value = getInput(name, env);
  if (value === "") return fallback;
  if (["true", "True", "TRUE"].includes(value)) return true;
  if (["false", "False", "FALSE"].includes(value)) return false;
  throw new Error(`input ${name} must be true or false, not ${JSON.stringify(value.slice(0, 20))}`);
}

/** `name<<DELIMITER` … `DELIMITER`: the multi-line-safe form of the environment files. */
export function fileCommandEntry(/** @type {string} */ name, /** @type {string} */ value) {
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delimiter) || value.includes(delimiter)) throw new Error("value contains the delimiter");
  if (/[\r\n]/.test(name) || name.includes("<<") || name.includes("=")) throw new Error(`invalid name ${JSON.stringify(name)}`);
  return `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`;
}

/** @param {"GITHUB_OUTPUT" | "GITHUB_ENV" | "GITHUB_STATE"} file @param {string} name @param {string} value */
function appendTo(file, name, value) {
  const path = process.env[file];
  if (!path) throw new Error(`${file} is not set: is this running as a GitHub Actions step?`);
  appendFileSync(path, fileCommandEntry(name, value), "utf8");
}

export const setOutput = (/** @type {string} */ name, /** @type {string} */ value) => appendTo("GITHUB_OUTPUT", name, value);
export const exportVariable = (/** @type {string} */ name, /** @type {string} */ value) => appendTo("GITHUB_ENV", name, value);
export const saveState = (/** @type {string} */ name, /** @type {string} */ value) => appendTo("GITHUB_STATE", name, value);
export const getState = (/** @type {string} */ name) => process.env[`STATE_${name}`] ?? "";

/** Workflow command data: % CR LF escaped (the runner unescapes them). */
export function escapeData(/** @type {string} */ value) {
  return value.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function command(/** @type {string} */ name, /** @type {string} */ data, /** @type {string} */ properties = "") {
  process.stdout.write(`::${name}${properties}::${escapeData(data)}${EOL}`);
}

/** From here on the runner replaces the value with *** in every log line. */
export const addMask = (/** @type {string} */ secret) => command("add-mask", secret);
export const error = (/** @type {string} */ message) => command("error", message, " title=edge-sts");
export const warning = (/** @type {string} */ message) => command("warning", message, " title=edge-sts");
export const info = (/** @type {string} */ message) => process.stdout.write(`${message}${EOL}`);
