// @ts-check
/**
 * `login` and `logout` for people. `login` reads a user token (stdin, or a prompt that does
 * not echo), proves it against the API — `GET /v1/users/{id}` answers only the user
 * themselves (or the operator), so a 200 means "this token is this user's and is live" —
 * and only then stores it. `logout` forgets it locally; deleting it on the server is
 * `edge-sts tokens rm --user …`.
 */
import { checkId, getUser } from "../../core/api.js";
import { normalizeServerUrl } from "../../core/discovery.js";
import { ClientError } from "../../core/errors.js";
import { loginFilePath, readLogins, removeLogin, saveLogin } from "../../core/login-store.js";
import { GLOBAL_HELP, parse } from "../args.js";
import { note, print, printJson, registerSecret } from "../output.js";
import { readStdin } from "./token.js";

export const LOGIN_HELP = `Usage: edge-sts login --url URL --user usr_… < token-file
       edge-sts login --url URL --user usr_…        (prompts; the token is not echoed)

Checks a user token (sts_usr_…) against the service and stores it for that URL in
$XDG_CONFIG_HOME/edge-sts/credentials.json (else ~/.config/edge-sts/), file mode 0600 in
a 0700 directory. Later commands use it when neither --token nor EDGE_STS_TOKEN is given.

  --user ID          your user ID (usr_…), as the operator gave it to you

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env */
export async function loginCommand(args, env) {
  const { values } = parse(args, { user: { type: "string" } });
  if (values.help) return print(LOGIN_HELP);
  const serverUrl = normalizeServerUrl(values.url ?? env.EDGE_STS_URL);
  const userId = checkId("usr", values.user, "--user");
  const token = values.token ?? (process.stdin.isTTY ? await promptHidden("User token (sts_usr_…): ") : await readStdin());
  registerSecret(token);
  if (!token) throw new ClientError("usage", "no token given: pipe it on stdin or type it at the prompt");
  if (!token.startsWith("sts_usr_")) {
    throw new ClientError("usage", "login stores a user token (sts_usr_…)", {
      hint: "for an organization or project token, set EDGE_STS_TOKEN instead of logging in",
    });
  }
  let user;
  try {
    user = await getUser({ serverUrl, token, http: { onRetry: (message) => note(`edge-sts: ${message}`) } }, userId);
  } catch (error) {
    if (error instanceof ClientError && error.status === 404) {
      throw new ClientError("refused", `this token does not belong to ${userId}`, { ...error, hint: "check --user: it is the ID of the user the token was created for" });
    }
    if (error instanceof ClientError && error.status === 401) {
      throw new ClientError("refused", "the service does not accept this token", { ...error, hint: "it may have been deleted or mistyped; create a new one with `edge-sts tokens create --user …`" });
    }
    throw error;
  }
  const path = saveLogin(serverUrl, { userId, token }, env);
  if (values.json) printJson({ url: serverUrl, user_id: userId, name: user?.name ?? null, email: user?.email ?? null, stored_in: path });
  else print(`Logged in to ${serverUrl} as ${user?.name ?? userId} (${userId}); token stored in ${path}`);
}

export const LOGOUT_HELP = `Usage: edge-sts logout [--url URL | --all]

Removes the stored login for URL (else EDGE_STS_URL, else the only one), or all of them.
The token itself stays valid on the server: delete it with \`edge-sts tokens rm --user …\`.

${GLOBAL_HELP}`;

/** @param {string[]} args @param {NodeJS.ProcessEnv} env */
export async function logoutCommand(args, env) {
  const { values } = parse(args, { all: { type: "boolean" } });
  if (values.help) return print(LOGOUT_HELP);
  const given = values.url ?? env.EDGE_STS_URL;
  let removed;
  if (values.all) removed = removeLogin(undefined, env);
  else if (given !== undefined) removed = removeLogin(normalizeServerUrl(given), env);
  else {
    const stored = Object.keys(readLogins(env).logins);
    if (stored.length > 1) throw new ClientError("usage", `logins are stored for ${stored.length} servers: pass --url or --all`);
    removed = stored.length === 1 ? removeLogin(stored[0], env) : [];
  }
  if (values.json) printJson({ removed, file: loginFilePath(env) });
  else if (removed.length === 0) note("edge-sts: no stored login to remove");
  else print(`Logged out of ${removed.join(", ")}`);
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(/** @type {string} */ question) {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let value = "";
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    const done = (/** @type {Error | undefined} */ error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(value.trim());
    };
    const onData = (/** @type {string} */ chunk) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n" || char === "\u0004") return done(undefined);
        if (char === "\u0003") return done(new ClientError("usage", "cancelled"));
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.on("data", onData);
  });
}
