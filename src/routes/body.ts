/**
 * Reading request bodies at the door: size-capped before parsing, then form or JSON, each
 * with one meaning (no repeated parameter or member), then a schema. Everything inward
 * receives typed data.
 *
 * One rule for every route: a request with no content type and an empty body has no
 * parameters, so it is validated as `{}` (schemas with defaults take them; required fields
 * are named as missing). Runtimes differ in how they hand such a request over: Miniflare
 * gives the worker a `null` body, `wrangler dev` an empty stream (with or without a
 * `Content-Length: 0`); both mean the same. Content of another type, or content with no
 * type, is 415.
 *
 * It does not decide what a field means; the route's schema does.
 */
import type * as z from "../schema";
import { StsError } from "../errors";
import { readRequestText } from "../read-capped";
import { parseStrictJson } from "../strict-json";
import { safeName, validate } from "../validate";
import type { AppContext } from "./context";

export const MAX_BODY_BYTES = 32 * 1024;

const FORM = "application/x-www-form-urlencoded";
const JSON_TYPE = "application/json";

/**
 * Reads at most 32 KiB of body, refusing more without buffering it. A refused body is never
 * cancelled, so the client's keep-alive connection stays usable: see `unread` in
 * read-capped.ts for what breaks otherwise.
 */
async function readCapped(c: AppContext): Promise<string> {
  const read = await readRequestText(c.req.raw, c.req.header("content-length"), MAX_BODY_BYTES);
  if (read.ok) return read.text;
  if (read.why === "too_large") throw new StsError("body_too_large");
  throw new StsError("body_malformed", undefined, read.why === "length_invalid" ? "Content-Length is not a number of bytes" : "body is not readable UTF-8");
}

/** The media type without parameters, lower case; `undefined` when no Content-Type was sent. */
function mediaType(c: AppContext): string | undefined {
  const header = c.req.header("content-type");
  return header === undefined ? undefined : header.split(";")[0]!.trim().toLowerCase();
}

/**
 * The body's fields as sent, before any schema. `accepted` lists the media types the route
 * takes; any other is refused before the body is read.
 */
async function readFields(c: AppContext, accepted: readonly string[]): Promise<unknown> {
  const type = mediaType(c);
  if (type !== undefined && !accepted.includes(type)) throw new StsError("media_type_unsupported");
  const text = await readCapped(c);
  if (type === undefined) {
    if (text === "") return {};
    throw new StsError("media_type_unsupported");
  }
  return type === FORM ? parseForm(text) : parseJson(text);
}

/** RFC 6749 §3.1: a parameter may appear only once. */
function parseForm(text: string): Record<string, string> {
  // A Set, not `name in fields`: an object already "has" inherited names such as
  // `constructor`, which would refuse a lone unknown parameter as repeated.
  const seen = new Set<string>();
  const entries: [string, string][] = [];
  for (const [name, value] of new URLSearchParams(text)) {
    if (seen.has(name)) throw new StsError("field_invalid", `${safeName(name)}: must not be repeated`);
    seen.add(name);
    entries.push([name, value]);
  }
  return Object.fromEntries(entries);
}

/** JSON whose objects name each member once, at any depth, as form parameters must be. */
function parseJson(text: string): unknown {
  const parsed = parseStrictJson(text);
  if (parsed.ok) return parsed.value;
  if (parsed.why === "duplicate") throw new StsError("field_invalid", `${safeName(parsed.path.join("."))}: must not be repeated`);
  throw new StsError("body_malformed", undefined, parsed.why === "too_deep" ? "JSON nested too deep" : undefined);
}

/**
 * An OAuth request body (RFC 6749 §3.2, RFC 8693 §2.1): form-encoded, or JSON with the
 * same field names as a single object.
 */
export async function readOAuthBody<T>(c: AppContext, schema: z.Schema<T>): Promise<T> {
  const fields = await readFields(c, [FORM, JSON_TYPE]);
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) throw new StsError("body_malformed");
  return validate(schema, fields);
}

/** A JSON body of the admin API. */
export async function readJsonBody<T>(c: AppContext, schema: z.Schema<T>): Promise<T> {
  return validate(schema, await readFields(c, [JSON_TYPE]));
}
