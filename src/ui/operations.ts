/**
 * The settings page's routes, documented for the OpenAPI document: what every page and form
 * post has in common, and the form fields each post reads. Each route file declares its own
 * operations with these; `settingsOperations()` (settings.tsx) gathers them.
 *
 * Only `npm run openapi` calls these functions, so none of this is in the worker's bundle.
 * The schemas document the forms (the generator keeps no descriptions inside a body: what
 * a field means is said in the operation's description); the handlers read the fields one
 * by one and hand them to the admin verbs, whose own schemas decide what is valid.
 */
import * as z from "../schema";
import type { ErrorStatus, Operation, Operations, Reply } from "../routes/document";
import { CONDITION_ROWS, RELATIONSHIP_FIELDS } from "./forms";

export const html = (description: string): Reply => ({ description, text: ["text/html"] });
export const to = (where: string, description = `Redirect to ${where}`): Reply => ({ description, headers: { Location: where } });

/** A page or form of a signed-in session (a missing session is a redirect to sign in). */
export const SIGNED_IN = { tag: "settings page", security: "session", page: true } as const satisfies Partial<Operation>;
/** Refusals of a page that reads: not found or out of reach, budget, misconfiguration, database. */
export const READING: readonly ErrorStatus[] = [404, 429, 500, 503];
/**
 * Refusals of a form post: a refused field (the form again, with the error beside it), a
 * cross-site post or a member's (403), out of reach (404), a conflict or limit (409), the
 * body (413, 415), budget, misconfiguration (a missing TOKEN_HASH_SALT), database.
 */
export const POSTING: readonly ErrorStatus[] = [400, 403, 404, 409, 413, 415, 429, 500, 503];

/** Every form carries the session's CSRF token (`csrf`), as its page rendered it. */
export const form = <T extends z.Shape>(shape: T) => z.object({ csrf: z.string(), ...shape });

// Schemas are made by functions, not at module load: a `z.object()` call at the top level
// would keep this file in the worker's bundle.

/** A delete: `confirmed=yes` (the dialog's confirm, or the confirmation page) deletes; anything else shows the confirmation page. */
export const deleteForm = () => form({ confirmed: z.optional(z.string()) });
export const DELETING =
  "`confirmed=yes` (set by the confirmation dialog, or by the confirmation page's form) deletes; without it the answer is that confirmation page (200), so nothing is deleted unasked.";

export const newTokenForm = () => form({ description: z.optional(z.string().check(z.maxLength(500))) });

/** A trust relationship's form: the provider, its fields under the API's names, the common ones, and condition rows. */
export function relationshipForm() {
  const fields: Record<string, z.Schema> = {};
  for (const list of Object.values(RELATIONSHIP_FIELDS)) {
    for (const f of list) fields[f.name] = f.kind === "checkbox" ? z.optional(z.literal("true")) : z.optional(z.string());
  }
  return z.catchall(form({
    provider: z.enum(Object.keys(RELATIONSHIP_FIELDS) as [string, ...string[]]),
    ...fields,
    description: z.optional(z.string()),
    token_ttl_seconds: z.optional(z.string()),
  }), z.string());
}
export const relationshipFormDescription = () => `The provider's own fields under the admin API's names (each provider's form asks for its own; \`accept_default_audience=true\` is the checkbox), \`description\`, \`token_ttl_seconds\` (whole seconds, 60–43200; empty means 3600), and conditions as rows \`condition_claim_N\` = claim, \`condition_pattern_N\` = pattern, N from 0 to ${CONDITION_ROWS - 1}. Built into the JSON body \`POST /v1/projects/{project_id}/trust-relationships\` takes and checked by the same validation; a refused field is answered with the form again (400), the error beside the field.`;

/** `?done=`: what a change just did, said as a notice on the page it redirected to. */
export const noticeQuery = () =>
  z.object({ done: z.optional(z.string()).check(z.describe("What a change just did, said as a notice (one of a fixed list; anything else is ignored)")) });

/** The page a token's creation answers with (200): the owner's page with the new token in a dialog, once. */
export const ISSUED: Reply = { description: "The owner's page with the new token's plaintext in a dialog, the only time it is shown", text: ["text/html"] };
export const ISSUING =
  "Answers with the owner's page itself (never a redirect), holding the plaintext in a dialog once. Without TOKEN_HASH_SALT the same page shows a configuration error instead (500) and nothing is written.";
export const CONFIRM: Reply = { description: "Unconfirmed: a page asking to confirm the deletion", text: ["text/html"] };

/**
 * Creating and deleting one owner's static tokens from its page: `path` is where the tokens
 * are posted, `what` names a token of that owner, `back` is the owner's page.
 */
export function tokenFormOperations(path: string, what: string, back: string): Operations {
  return {
    [`POST ${path}`]: {
      ...SIGNED_IN,
      summary: `Create ${what}, shown once`,
      description: ISSUING,
      body: { media: "form", schema: newTokenForm(), required: true },
      responses: { 200: ISSUED, 303: to("/settings/sign-in") },
      errors: POSTING,
    },
    [`POST ${path}/{token_id}/delete`]: {
      ...SIGNED_IN,
      summary: `Delete ${what}`,
      description: DELETING,
      body: { media: "form", schema: deleteForm(), required: true },
      responses: { 200: CONFIRM, 303: to(`${back}?done=token-deleted or /settings/sign-in`) },
      errors: POSTING,
    },
  } as Operations;
}
