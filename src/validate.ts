/**
 * zod at every door: one mapping from a schema's first issue to `field_invalid` naming the
 * field, so the admin API and the settings page refuse the same input with the same words.
 *
 * It reads no request (routes/body.ts reads HTTP bodies, the settings page its forms) and
 * says nothing about what a field means (the schemas beside each domain verb do).
 */
import { config, type z } from "zod/mini";
import en from "zod/v4/locales/en.js";
import { StsError } from "./errors";

// zod/mini installs no locale (classic zod does, on its first schema): without one every
// issue would read "Invalid input". English, once, so the words clients see stay the same.
config(en());

/** The typed value, or `field_invalid` naming the first bad field. */
export function validate<T>(schema: z.ZodMiniType<T>, value: unknown): T {
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
