/**
 * From a settings form's fields to the admin verbs' input, and from the verbs' refusals back
 * to the field they name.
 *
 * The page builds the same body a client would send to the admin API (a relationship's
 * JSON object, a member's `{ user_id, role }`) and hands it to the domain's own validation
 * (`parseRelationship`, the verbs' schemas); nothing here decides what is valid beyond
 * turning text fields into the JSON types the API takes. Field errors come back as
 * `field_invalid` with the detail `"<field>: <problem>"`, which `fieldErrorOf` splits.
 */
import type { ProviderName } from "../config";
import { StsError, toWire } from "../errors";
import { MAX_CONDITIONS } from "../trust/conditions";
import { safeName } from "../validate";

/** A form as it was submitted, and what was wrong with it, to render it again. */
export interface FormState {
  values: Record<string, string>;
  error?: FormError;
}

export interface FormError {
  /** The field the refusal named, or "" for the form as a whole. */
  field: string;
  message: string;
  /** The wire's error code (`invalid_request`, `conflict`, …), for `data-error`. */
  code: string;
}

/** Refusals a form shows in place (status and all); any other error is a refusal page. */
const SHOWN_IN_FORM = new Set(["field_invalid", "conflict", "limit_exceeded"]);

export function isFormRefusal(error: unknown): error is StsError {
  return error instanceof StsError && SHOWN_IN_FORM.has(error.reason);
}

/**
 * Where a refusal belongs: `field_invalid` names its field before `": "`; when that field is
 * one of the form's, the message sits next to it, otherwise it is said for the whole form.
 */
export function fieldErrorOf(error: StsError, fields: readonly string[]): FormError {
  const wire = toWire(error.reason, error.detail);
  const at = wire.description.indexOf(": ");
  if (error.reason === "field_invalid" && at > 0) {
    const field = wire.description.slice(0, at);
    const base = field.split(".")[0]!;
    if (fields.includes(field) || fields.includes(base)) return { field, message: wire.description.slice(at + 2), code: wire.error };
  }
  return { field: "", message: wire.description, code: wire.error };
}

/** The form's text fields as submitted (the CSRF token and confirmation left out), to fill the form in again. */
export function valuesOf(form: Map<string, string>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of form) if (name !== "csrf" && name !== "confirmed") values[name] = value;
  return values;
}

/** A destructive form was confirmed (by the dialog's script, or on the confirmation page). */
export const isConfirmed = (form: Map<string, string>) => form.get("confirmed") === "yes";

/** How a provider's own fields of a trust relationship are asked for, in the API's names. */
export interface RelationshipField {
  name: string;
  kind: "text" | "checkbox";
  required: boolean;
}

/** Each provider's relationship fields (the API's schema is the authority; a test keeps these equal to it). */
export const RELATIONSHIP_FIELDS: Record<ProviderName, readonly RelationshipField[]> = {
  github: [
    { name: "owner", kind: "text", required: true },
    { name: "repository", kind: "text", required: true },
    { name: "owner_id", kind: "text", required: false },
    { name: "repository_id", kind: "text", required: false },
    { name: "enterprise", kind: "text", required: false },
  ],
  circleci: [
    { name: "organization_uuid", kind: "text", required: true },
    { name: "project_uuid", kind: "text", required: true },
    { name: "accept_default_audience", kind: "checkbox", required: false },
  ],
  buildkite: [
    { name: "organization_slug", kind: "text", required: true },
    { name: "pipeline_slug", kind: "text", required: true },
    { name: "organization_uuid", kind: "text", required: false },
    { name: "pipeline_uuid", kind: "text", required: false },
  ],
  rwx: [{ name: "subject", kind: "text", required: true }],
};

/** Fields every provider's form has besides its own. */
export const COMMON_RELATIONSHIP_FIELDS = ["description", "token_ttl_seconds", "conditions", "mode"] as const;

export const conditionClaimField = (row: number) => `condition_claim_${row}`;
export const conditionPatternField = (row: number) => `condition_pattern_${row}`;
export const CONDITION_ROWS = MAX_CONDITIONS;

/**
 * A relationship form → the JSON body the admin API takes. Empty fields are left out (as a
 * client would omit them, so a missing required one "is required"), a checkbox is a boolean, the lifetime a number, and
 * the condition rows an object of claim → pattern. Built with `Object.fromEntries`, so a
 * claim named `__proto__` stays a key and `parseRelationship` refuses it by name.
 */
export function relationshipBodyOf(provider: ProviderName, form: Map<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = { provider };
  for (const field of RELATIONSHIP_FIELDS[provider]) {
    const value = (form.get(field.name) ?? "").trim();
    if (field.kind === "checkbox") body[field.name] = value === "true";
    else if (value !== "") body[field.name] = value;
  }
  const description = (form.get("description") ?? "").trim();
  if (description !== "") body.description = description;
  // Passed as posted: the admin API names anything but "enforce" or "shadow" as refused.
  const mode = form.get("mode");
  if (mode !== undefined && mode !== "") body.mode = mode;
  const ttl = (form.get("token_ttl_seconds") ?? "").trim();
  if (ttl !== "") {
    if (!/^[0-9]{1,9}$/.test(ttl)) throw new StsError("field_invalid", "token_ttl_seconds: must be a whole number of seconds");
    body.token_ttl_seconds = Number(ttl);
  }
  const conditions: [string, string][] = [];
  for (let row = 0; row < CONDITION_ROWS; row++) {
    const claim = (form.get(conditionClaimField(row)) ?? "").trim();
    const pattern = (form.get(conditionPatternField(row)) ?? "").trim();
    if (claim === "" && pattern === "") continue;
    if (claim === "") throw new StsError("field_invalid", `conditions: the pattern in row ${row + 1} needs a claim name`);
    if (conditions.some(([c]) => c === claim)) throw new StsError("field_invalid", `conditions: ${safeName(claim)} is given twice`);
    conditions.push([claim, pattern]);
  }
  body.conditions = Object.fromEntries(conditions);
  return body;
}

/** Does this look like a URL or an `owner/name` path where a bare name belongs? */
export function looksLikeUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /(^|\.)(github\.com|buildkite\.com|circleci\.com)(\/|$)/i.test(value) || value.includes("/");
}

/** Where each provider's identity values are found, said beside the API's own words when a value is refused. */
const WHERE_TO_FIND: Partial<Record<ProviderName, Record<string, string>>> = {
  github: {
    owner: "enter only the user or organization name: acme for https://github.com/acme/widgets",
    repository: "enter only the repository's name: widgets for https://github.com/acme/widgets",
  },
  buildkite: {
    organization_slug: "enter only the slug: acme for https://buildkite.com/acme/widgets",
    pipeline_slug: "enter only the slug: widgets for https://buildkite.com/acme/widgets",
  },
};

/**
 * The API's refusal of a relationship field, with a pointer when the value looks like a URL
 * or path pasted where a bare name belongs (the commonest mistake with these forms).
 */
export function withPastingHint(provider: ProviderName, error: FormError, values: Record<string, string>): FormError {
  const hint = WHERE_TO_FIND[provider]?.[error.field];
  const value = values[error.field] ?? "";
  if (hint === undefined || !looksLikeUrl(value)) return error;
  return { ...error, message: `${error.message}. That looks like a URL: ${hint}.` };
}
