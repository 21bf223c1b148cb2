/**
 * Creating and deleting static tokens from a settings form, for any owner (a user, an
 * organization, a project): the admin verbs of `admin/static-tokens.ts` with the session's
 * principal, and what the page renders afterwards.
 *
 * Creating answers with the owner's page itself (200) holding the plaintext once, never a
 * redirect: a redirect would need the plaintext stored somewhere to show it after. A
 * missing TOKEN_HASH_SALT is a configuration error on that page (500), with nothing written.
 */
import { createStaticToken, deleteStaticToken, listStaticTokens, NewStaticToken, type IssuedStaticToken, type OwnerRef } from "../../admin/static-tokens";
import { authorizeOrg, authorizeProject } from "../../access/reach";
import { StsError } from "../../errors";
import { adminContextFor, type AppContext } from "../../routes/context";
import { validate } from "../../validate";
import { logRefusal, perform, refusedForm, render, seeOther, type PageStatus } from "../context";
import { isConfirmed, isFormRefusal, valuesOf, type FormState } from "../forms";
import type { UiSession } from "../session";
import { ConfirmPage, CONSEQUENCES } from "../views/confirm";

/** What the owner's page shows after a creation attempt. */
export interface TokenOutcome {
  status: PageStatus;
  issued?: IssuedStaticToken;
  token?: FormState;
  configError?: boolean;
}

/** `POST …/tokens` from the form: the new token, or why not (in the form, or as a configuration error). */
export async function issueToken(c: AppContext, session: UiSession, ref: OwnerRef, form: Map<string, string>): Promise<TokenOutcome> {
  try {
    const read = async () => validate(NewStaticToken, { description: form.get("description") ?? "" });
    const issued = await perform(c, session, (ctx) => createStaticToken(ctx, ref, read));
    return { status: 200, issued };
  } catch (error) {
    if (error instanceof StsError && error.reason === "token_hash_salt_missing") {
      logRefusal(c, error);
      return { status: 500, configError: true, token: { values: valuesOf(form) } };
    }
    if (!isFormRefusal(error)) throw error;
    const { state, status } = refusedForm(c, error, form, ["description"]);
    return { status, token: state };
  }
}

const kindOf = (ref: OwnerRef) => (ref.kind === "organization" ? "organization" : ref.kind);

/**
 * `POST …/tokens/{id}/delete`: deleted once confirmed, then back to `page`; unconfirmed (no
 * script ran the dialog), a confirmation page, shown only to whoever may delete it.
 */
export async function deleteTokenFromForm(c: AppContext, session: UiSession, ref: OwnerRef, tokenId: string, form: Map<string, string>, page: string) {
  if (!isConfirmed(form)) {
    const ctx = adminContextFor(c, session.principal);
    if (ref.kind === "organization") await authorizeOrg(ctx, ref.orgId, "admin");
    if (ref.kind === "project") await authorizeProject(ctx, ref.projectId, "admin");
    const token = (await listStaticTokens(ctx, ref)).find((t) => t.id === tokenId);
    if (!token) throw new StsError("not_found");
    const what = `${kindOf(ref)} token ${token.preview}${token.description === "" ? "" : ` (${token.description})`}`;
    return render(c, <ConfirmPage session={session} confirm={{ what, consequence: CONSEQUENCES.token, action: c.req.path, back: page }} />);
  }
  await perform(c, session, (ctx) => deleteStaticToken(ctx, ref, tokenId));
  return seeOther(c, page, "token-deleted");
}
