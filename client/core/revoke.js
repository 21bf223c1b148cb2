// @ts-check
/**
 * POST /revoke (RFC 7009): the holder of a minted token revokes it, e.g. when the job or
 * the command it ran is over. Possession is the proof; no other credential is sent.
 */
import { ClientError } from "./errors.js";
import { responseError, send } from "./http.js";

/**
 * @param {{ revocationEndpoint: string, token: string, http?: import("./http.js").RequestOptions }} request
 */
export async function revokeToken({ revocationEndpoint, token, http = {} }) {
  const response = await send(revocationEndpoint, {
    ...http,
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
  });
  if (response.status === 200) return;
  const error = responseError(response, "revoking the token");
  if (error.error === "unsupported_token_type") {
    throw new ClientError(error.kind, error.message, {
      ...error,
      hint: "static tokens (sts_…) are not revoked, they are deleted: `edge-sts tokens rm`",
    });
  }
  throw error;
}
