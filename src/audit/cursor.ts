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
import { StsError } from "../errors";
import { EVENT_ID_PATTERN } from "./events";
import type { AuditFilters } from "./store";

interface CursorContent {
  org: string;
  filters: AuditFilters;
  lastId: string;
}

const VERSION = "1";
const CHECKSUM_BYTES = 12;

export async function encodeCursor(content: CursorContent): Promise<string> {
  const payload = `${VERSION}|${content.org}|${filtersKey(content.filters)}|${content.lastId}`;
  return `${toBase64Url(new TextEncoder().encode(payload))}.${await checksum(payload)}`;
}

/** The last event ID the cursor names; `field_invalid` naming `cursor` if it is not one of this listing's. */
export async function decodeCursor(cursor: string, org: string, filters: AuditFilters): Promise<string> {
  const invalid = () => new StsError("field_invalid", "cursor: is not a cursor this listing issued");
  const [encoded, sum, extra] = cursor.split(".");
  if (encoded === undefined || sum === undefined || extra !== undefined) throw invalid();
  let payload: string;
  try {
    payload = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(fromBase64Url(encoded));
  } catch {
    throw invalid();
  }
  if ((await checksum(payload)) !== sum) throw invalid();
  const parts = payload.split("|");
  const [version, cursorOrg, , lastId] = parts;
  if (parts.length !== 4 || version !== VERSION || lastId === undefined || !EVENT_ID_PATTERN.test(lastId)) throw invalid();
  if (cursorOrg !== org || parts[2] !== filtersKey(filters)) {
    throw new StsError("field_invalid", "cursor: was issued for another organization or other filters");
  }
  return lastId;
}

/** Filter values are IDs, enums and hex IDs: none contains `,` or `|`. */
function filtersKey(f: AuditFilters): string {
  return [f.projectId, f.kind, f.outcome, f.fromId, f.toId].map((v) => v ?? "").join(",");
}

async function checksum(payload: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`edge-sts audit cursor\n${payload}`));
  return toBase64Url(new Uint8Array(digest).slice(0, CHECKSUM_BYTES));
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
