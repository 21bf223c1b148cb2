/**
 * One mapping from a schema's first issue to `field_invalid` naming the field, so the admin
 * API and the settings page refuse the same input with the same words (the schemas' own, in
 * schema/).
 *
 * It reads no request (routes/body.ts reads HTTP bodies, the settings page its forms) and
 * says nothing about what a field means (the schemas beside each domain verb do).
 */
import type * as z from "./schema";
import { StsError } from "./errors";

/** The typed value, or `field_invalid` naming the first bad field. */
export function validate<T>(schema: z.Schema<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    throw new StsError("field_invalid", `unknown field: ${issue.keys.slice(0, 3).map(safeName).join(", ")}`);
  }
  const field = issue.path.length > 0 ? issue.path.map((p) => safeName(String(p))).join(".") : "body";
  throw new StsError("field_invalid", `${field}: ${issue.message}`);
}

/** A client-supplied name, cut short and stripped to printable ASCII before it is echoed. */
export function safeName(name: string): string {
  const printable = name.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > 64 ? `${printable.slice(0, 64)}…` : printable;
}
