// @ts-check
/**
 * The Action's post step: revokes the token main saved in state, whatever the job's
 * outcome (post-if: always()). A failed revocation is a warning, not a failed job: the job's
 * work is done, and the token still expires on its own.
 */
import { revokeToken } from "../../client/core/revoke.js";
import { getState, info, warning } from "./runner.js";

const token = getState("token");
const revocationEndpoint = getState("revocation_endpoint");
if (token && revocationEndpoint) {
  try {
    await revokeToken({
      revocationEndpoint,
      token,
      http: { retry: { maxAttempts: 3, maxTotalWaitMs: 10_000, maxWaitMs: 5_000, attemptTimeoutMs: 10_000 }, onRetry: (message) => info(`edge-sts: ${message}`) },
    });
    info("edge-sts: token revoked");
  } catch (caught) {
    warning(`could not revoke the token: ${caught instanceof Error ? caught.message : String(caught)}; it stays valid until it expires`);
  }
} else {
  info("edge-sts: nothing to revoke");
}
