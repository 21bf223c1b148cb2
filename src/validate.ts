/**
 * zod at every door: one mapping from a schema's first issue to `field_invalid` naming the
 * field, so the admin API and the settings page refuse the same input with the same words.
 *
 * It reads no request (routes/body.ts reads HTTP bodies, the settings page its forms) and
 * says nothing about what a field means (the schemas beside each domain verb do).
 */
import { config, type z } from "zod/mini";
import type { $ZodRawIssue as Issue } from "zod/v4/core";
import { StsError } from "./errors";

const UNITS: Record<string, string> = { string: "character", array: "item" };

/**
 * The words of an issue whose schema gave none of its own. zod/mini installs no locale
 * (without one every issue reads "Invalid input"), and its English one is a kilobyte of the
 * Worker's bundle for formats and types no schema here has; these say the same things for
 * the checks the schemas use, in the README's style ("ttl_seconds: must be at most 3600").
 */
function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case "invalid_type":
      // Only the raw issue still holds the input: a field that is not there is missing, not mistyped.
      if (issue.input === undefined) return "is required";
      return `must be ${issue.expected === "int" ? "an integer" : /^[aeiou]/.test(issue.expected) ? `an ${issue.expected}` : `a ${issue.expected}`}`;
    case "invalid_value":
      return issue.values.length === 1 ? `must be ${JSON.stringify(issue.values[0])}` : oneOf(issue.values);
    case "too_big":
    case "too_small": {
      const bound = issue.code === "too_big" ? issue.maximum : issue.minimum;
      const relation = issue.exact ? "exactly" : issue.code === "too_big" ? (issue.inclusive ? "at most" : "less than") : issue.inclusive ? "at least" : "more than";
      const unit = UNITS[issue.origin];
      if (!unit) return `must be ${relation} ${String(bound)}`;
      return `must be ${relation} ${String(bound)} ${unit}${Number(bound) === 1 ? "" : "s"} long`;
    }
    case "invalid_format":
      return issue.format === "regex" && issue.pattern ? `must match ${issue.pattern}` : `must be a valid ${issue.format}`;
    case "invalid_union":
      // A discriminated union names its discriminator's accepted values (`provider`).
      return Array.isArray(issue.options) ? oneOf(issue.options) : "matches none of the accepted forms";
    default:
      return "is invalid";
  }
}

const oneOf = (values: readonly unknown[]): string => `must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;

config({ localeError: describeIssue });

/** The typed value, or `field_invalid` naming the first bad field. */
export function validate<T>(schema: z.ZodMiniType<T>, value: unknown): T {
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
