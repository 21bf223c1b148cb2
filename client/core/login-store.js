// @ts-check
/**
 * The stored login of a person: one user token per server URL, in
 * `$XDG_CONFIG_HOME/edge-sts/credentials.json` (else `~/.config/edge-sts/`, on Windows
 * `%APPDATA%\edge-sts\`). The directory is 0700 and the file 0600, written to a temporary
 * file and renamed so a crash never leaves half a file, and tightened again when an older
 * file or directory was looser.
 *
 * Deliberately not here: checking a token against the server (cli `login` does that
 * before anything is stored).
 */
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync, closeSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { randomBytes } from "node:crypto";
import { ClientError } from "./errors.js";

const FILE_NAME = "credentials.json";

/**
 * @typedef {object} StoredLogin
 * @property {string} user_id
 * @property {string} token
 * @property {string} saved_at ISO 8601
 */

/**
 * @typedef {object} LoginFile
 * @property {1} version
 * @property {Record<string, StoredLogin>} logins by normalized server URL
 */

/** The directory the login lives in. XDG_CONFIG_HOME counts only when absolute (XDG Base Directory spec). */
export function configDir(/** @type {NodeJS.ProcessEnv} */ env = process.env) {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "edge-sts");
  if (process.platform === "win32" && env.APPDATA) return join(env.APPDATA, "edge-sts");
  return join(env.HOME || homedir(), ".config", "edge-sts");
}

export function loginFilePath(/** @type {NodeJS.ProcessEnv} */ env = process.env) {
  return join(configDir(env), FILE_NAME);
}

/** @returns {LoginFile} */
export function readLogins(/** @type {NodeJS.ProcessEnv} */ env = process.env) {
  const path = loginFilePath(env);
  if (!existsSync(path)) return { version: 1, logins: {} };
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new ClientError("usage", `${path} is not valid JSON`, { hint: "run `edge-sts logout --all` and log in again" });
  }
  const logins = /** @type {{ logins?: unknown }} */ (parsed ?? {}).logins;
  if (typeof logins !== "object" || logins === null) return { version: 1, logins: {} };
  /** @type {Record<string, StoredLogin>} */
  const valid = {};
  for (const [url, login] of Object.entries(logins)) {
    if (login && typeof login.token === "string" && typeof login.user_id === "string") valid[url] = login;
  }
  return { version: 1, logins: valid };
}

/** Is the stored file readable by others (a copy from elsewhere, a umask mishap)? */
export function loginFileIsExposed(/** @type {NodeJS.ProcessEnv} */ env = process.env) {
  if (process.platform === "win32") return false;
  const path = loginFilePath(env);
  return existsSync(path) && (statSync(path).mode & 0o077) !== 0;
}

/** @param {LoginFile} file */
function writeLogins(file, /** @type {NodeJS.ProcessEnv} */ env) {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform !== "win32") chmodSync(dir, 0o700);
  const path = join(dir, FILE_NAME);
  if (Object.keys(file.logins).length === 0) {
    rmSync(path, { force: true });
    return;
  }
  const temporary = join(dir, `.${FILE_NAME}.${randomBytes(6).toString("hex")}`);
  // Created 0600 from the start: the token is never readable by others, not even briefly.
  const fd = openSync(temporary, "wx", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  if (process.platform !== "win32") chmodSync(path, 0o600);
}

/**
 * @param {string} serverUrl normalized
 * @param {{ userId: string, token: string }} login
 */
export function saveLogin(serverUrl, login, /** @type {NodeJS.ProcessEnv} */ env = process.env) {
  const file = readLogins(env);
  file.logins[serverUrl] = { user_id: login.userId, token: login.token, saved_at: new Date().toISOString() };
  writeLogins(file, env);
  return loginFilePath(env);
}

/**
 * Removes the login for `serverUrl` (all of them when undefined). Returns the URLs removed.
 * @param {string | undefined} serverUrl
 */
export function removeLogin(serverUrl, /** @type {NodeJS.ProcessEnv} */ env = process.env) {
  const file = readLogins(env);
  const removed = serverUrl === undefined ? Object.keys(file.logins) : serverUrl in file.logins ? [serverUrl] : [];
  for (const url of removed) delete file.logins[url];
  if (removed.length > 0) writeLogins(file, env);
  return removed;
}
