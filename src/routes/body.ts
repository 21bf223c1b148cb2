/**
 * Reading request bodies at the door: size-capped before parsing, then form or JSON,
 * then a zod schema. Everything inward receives typed data.
 */
import type { z } from "zod";
import { StsError } from "../errors";
import { readCappedText } from "../read-capped";
import { safeName, validate } from "../validate";
import type { AppContext } from "./context";

export const MAX_BODY_BYTES = 32 * 1024;

/** Reads at most 32 KiB of body, refusing more without buffering it. */
async function readCapped(c: AppContext): Promise<string> {
  const read = await readCappedText(c.req.raw.body, c.req.header("content-length"), MAX_BODY_BYTES);
  if (read.ok) return read.text;
  throw new StsError(read.why === "too_large" ? "body_too_large" : "body_malformed");
}

function mediaType(c: AppContext): string {
  return (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new StsError("body_malformed");
  }
}

/**
 * An OAuth request body (RFC 6749 §3.2, RFC 8693 §2.1): form-encoded, or JSON with the
 * same field names. A parameter may appear only once (RFC 6749 §3.1).
 */
export async function readOAuthBody<T>(c: AppContext, schema: z.ZodType<T>): Promise<T> {
  const type = mediaType(c);
  const text = await readCapped(c);
  let fields: Record<string, unknown>;
  if (type === "application/x-www-form-urlencoded") {
    // A Set, not `name in fields`: an object already "has" inherited names such as
    // `constructor`, which would refuse a lone unknown parameter as repeated.
    const seen = new Set<string>();
    const entries: [string, string][] = [];
    for (const [name, value] of new URLSearchParams(text)) {
      if (seen.has(name)) throw new StsError("field_invalid", `${safeName(name)}: must not be repeated`);
      seen.add(name);
      entries.push([name, value]);
    }
    fields = Object.fromEntries(entries);
  } else if (type === "application/json") {
    const value = parseJson(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new StsError("body_malformed");
    fields = value as Record<string, unknown>;
  } else {
    throw new StsError("media_type_unsupported");
  }
  return validate(schema, fields);
}

/** A JSON body of the admin API. */
export async function readJsonBody<T>(c: AppContext, schema: z.ZodType<T>): Promise<T> {
  const type = mediaType(c);
  if (type !== "application/json") throw new StsError("media_type_unsupported");
  return validate(schema, parseJson(await readCapped(c)));
}
