/**
 * The audit listing's cursor: opaque to clients, it names the last event of a page (keyset
 * pagination, so pages stay stable while new events arrive: new ones sort before the first
 * page, never into a page already read) together with the organization and filters it was
 * made for, and a checksum. A cursor that does not decode, fails its checksum, or was made
 * for another organization or other filters is refused, rather than silently read as a
 * position in a different listing.
 *
 * The checksum is a digest, not a MAC: a cursor only ever positions a listing that the
 * caller may read in full anyway, so forging one gains nothing; the checksum catches
 * edited and truncated cursors. It does not read the database.
 */
import { decodeBase64Url, encodeBase64Url } from "../base64url";
import { StsError } from "../errors";
import { EVENT_ID_PATTERN } from "./events";
import type { AuditFilters } from "./store";

/** Version, organization, filters, last event ID: IDs, enums and hex only, so plain ASCII. */
const payloadOf = (org: string, f: AuditFilters, lastId: string) =>
  ["1", org, [f.projectId, f.kind, f.outcome, f.fromId, f.toId].join(","), lastId].join("|");

export async function encodeCursor(org: string, filters: AuditFilters, lastId: string): Promise<string> {
  const payload = payloadOf(org, filters, lastId);
  return encodeBase64Url(`${payload}|${await checksum(payload)}`);
}

/** The last event ID the cursor names; `field_invalid` naming `cursor` if it is not one of this listing's. */
export async function decodeCursor(cursor: string, org: string, filters: AuditFilters): Promise<string> {
  // One spelling per cursor: base64 whose unused bits were edited decodes the same, so it is refused too.
  const bytes = decodeBase64Url(cursor);
  const decoded = bytes ? new TextDecoder().decode(bytes) : "";
  const at = decoded.lastIndexOf("|");
  const payload = decoded.slice(0, at);
  const lastId = payload.slice(payload.lastIndexOf("|") + 1);
  if (at < 0 || !EVENT_ID_PATTERN.test(lastId) || decoded.slice(at + 1) !== (await checksum(payload))) {
    throw new StsError("field_invalid", "cursor: is not a cursor this listing issued");
  }
  if (payload !== payloadOf(org, filters, lastId)) throw new StsError("field_invalid", "cursor: was issued for another organization or other filters");
  return lastId;
}

/** 96 bits of SHA-256, hex. */
async function checksum(payload: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`edge-sts audit cursor ${payload}`)));
  return Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
}
