/**
 * Static tokens of one owner (a user, an organization or a project): the table
 * (description, masked preview, created, last used, and a trash button for an admin), the
 * form that creates one, and the configuration error shown when the hash salt is missing.
 * It never sees a stored token's plaintext or hash (the listing selects neither); the one
 * plaintext it may show is the token just created, in `IssuedTokenDialog`.
 */
import type { IssuedStaticToken, StaticTokenView } from "../../admin/static-tokens";
import type { FormState } from "../forms";
import type { UiSession } from "../session";
import { CONSEQUENCES } from "./confirm";
import { CsrfField, DeleteButton, FormAlert, IssuedTokenDialog, TextField } from "./forms";
import { Alert, TableWrap, Time } from "./layout";

export interface TokenSectionProps {
  session: UiSession;
  tokens: StaticTokenView[];
  /** "project", "organization" or "user", as the page names the token. */
  kind: string;
  caption: string;
  emptyText: string;
  /** Where this owner's tokens are posted (`…/tokens`); null when the principal may only read. */
  action: string | null;
  /** The page the owner's tokens are on (where closing the dialog leads). */
  page: string;
  issued?: IssuedStaticToken;
  state?: FormState;
  /** TOKEN_HASH_SALT is missing: creating failed and nothing was written. */
  configError?: boolean;
}

export function TokenTable({ session, tokens, kind, caption, emptyText, action }: Omit<TokenSectionProps, "page">) {
  if (tokens.length === 0) return <p class="empty">{emptyText}</p>;
  return (
    <TableWrap label={caption}>
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Description</th>
            <th scope="col">Token</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            {action && (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr id={t.id} data-token-id={t.id}>
              <td>{t.description === "" ? <span class="empty">(no description)</span> : t.description}</td>
              <td>
                <code>{t.preview}</code>
              </td>
              <td>
                <Time at={t.created_at} />
              </td>
              <td>
                <Time at={t.last_used_at} />
              </td>
              {action && (
                <td class="row-actions">
                  <DeleteButton
                    session={session}
                    id={t.id}
                    action={`${action}/${t.id}/delete`}
                    what={`${kind} token ${t.preview}${t.description === "" ? "" : ` (${t.description})`}`}
                    consequence={CONSEQUENCES.token}
                  />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

export function TokenSection(props: TokenSectionProps) {
  const { session, kind, action, page, issued, state, configError } = props;
  const form = `new-${kind}-token`;
  return (
    <>
      {configError && (
        <Alert code="server_error">
          <strong>Configuration error: no token was created.</strong> TOKEN_HASH_SALT is not configured, so edge-sts cannot store new
          tokens (nothing was written). Ask the operator to set the <code>TOKEN_HASH_SALT</code> secret.
        </Alert>
      )}
      <TokenTable {...props} />
      {action && (
        <form method="post" action={action} class="stacked" aria-labelledby={`${form}-title`}>
          <h3 id={`${form}-title`}>{`Create a ${kind} token`}</h3>
          <CsrfField session={session} />
          <FormAlert state={state} />
          <TextField
            form={form}
            name="description"
            label="Description"
            hint="What it is for, so you can tell tokens apart later (e.g. “deploy from staging”). Up to 500 characters."
            state={state}
            maxlength={500}
          />
          <div class="actions">
            <button type="submit">Create token</button>
          </div>
        </form>
      )}
      {issued && <IssuedTokenDialog token={issued.token} preview={issued.preview} kind={kind} back={page} />}
    </>
  );
}
