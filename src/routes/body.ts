/**
 * Reading request bodies at the door: size-capped before parsing, then form or JSON,
 * then a zod schema. Everything inward receives typed data.
 */
import type { z } from "zod";
import { StsError } from "../errors";
import { readCappedText } from "../read-capped";
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

/** zod at the door: the first issue becomes `field_invalid` naming the field. */
export function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    throw new StsError("field_invalid", `unknown field: ${issue.keys.slice(0, 3).map(safeName).join(", ")}`);
  }
  const field = issue.path.length > 0 ? issue.path.map((p) => safeName(String(p))).join(".") : "body";
  const problem = issue.code === "invalid_type" && issue.input === undefined ? "is required" : issue.message;
  throw new StsError("field_invalid", `${field}: ${problem}`);
}

/** A client-supplied name, cut short and stripped to printable ASCII before it is echoed. */
export function safeName(name: string): string {
  const printable = name.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > 64 ? `${printable.slice(0, 64)}…` : printable;
}
