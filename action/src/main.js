// @ts-check
/**
 * The Action's main step: this job's GitHub ID token, exchanged for a token of `project`,
 * masked before anything could print it, then handed out as the `token` output (and, with
 * `export-env`, as EDGE_STS_TOKEN for later steps). The token is saved as state for the
 * post step, which revokes it. The exchange is client/core's, the same code as the CLI's.
 */
import { mintForProject } from "../../client/core/credentials.js";
import { normalizeServerUrl } from "../../client/core/discovery.js";
import { ClientError } from "../../client/core/errors.js";
import { addMask, error, exportVariable, getBooleanInput, getInput, info, saveState, setOutput, warning } from "./runner.js";

async function run() {
  const serverUrl = normalizeServerUrl(getInput("url") || process.env.EDGE_STS_URL);
  const project = getInput("project") || process.env.EDGE_STS_PROJECT || "";
  if (!/^prj_[0-9a-f]{24}$/.test(project)) throw new ClientError("usage", "input project must be a project ID (prj_…)");
  const scope = getInput("scope") || undefined;
  const revoke = getBooleanInput("revoke", true);
  const exportEnv = getBooleanInput("export-env", false);

  const credential = await mintForProject({
    serverUrl,
    env: process.env,
    ci: "github",
    project,
    scope,
    http: { onRetry: (message) => info(`edge-sts: ${message}`) },
    // The ID token is a credential too (until it is exchanged): masked like one.
    onIdToken: addMask,
  });
  const minted = /** @type {import("../../client/core/exchange.js").Minted} */ (credential.minted);
  addMask(credential.token);
  // Saved first: if anything below fails, the post step still revokes.
  if (revoke) {
    saveState("token", credential.token);
    saveState("revocation_endpoint", credential.metadata?.revocationEndpoint ?? `${serverUrl}/revoke`);
  }
  setOutput("token", credential.token);
  setOutput("expires-at", String(minted.expiresAt));
  if (exportEnv) {
    exportVariable("EDGE_STS_TOKEN", credential.token);
    exportVariable("EDGE_STS_URL", serverUrl);
    exportVariable("EDGE_STS_PROJECT", project);
  }
  info(
    `edge-sts: token for ${project} (scope "${minted.scope}", expires ${new Date(minted.expiresAt * 1000).toISOString()})` +
      `${revoke ? "; revoked when the job ends" : ""}`,
  );
}

try {
  await run();
} catch (caught) {
  if (caught instanceof ClientError) {
    const lines = [caught.message];
    if (caught.description) lines.push(`server says: ${caught.description}`);
    if (caught.hint) lines.push(`hint: ${caught.hint}`);
    error(lines.join("\n"));
  } else {
    error(`unexpected failure: ${caught instanceof Error ? caught.message : String(caught)}`);
  }
  // Only our own words and the server's reach the log; the runner masks the token anyway.
  if (process.env.RUNNER_DEBUG === "1" && caught instanceof Error && caught.stack) warning(caught.stack);
  process.exitCode = 1;
}
