/**
 * The confirmation a destructive form gets when the script did not ask (no JavaScript):
 * what is about to go, what that does, and the same post again with `confirmed=yes`.
 */
import type { UiSession } from "../session";
import { CsrfField } from "./forms";
import { Page } from "./layout";

export interface Confirmation {
  what: string;
  consequence: string;
  action: string;
  back: string;
  confirmLabel?: string;
}

export function ConfirmPage({ session, confirm }: { session: UiSession; confirm: Confirmation }) {
  return (
    <Page title={`Delete ${confirm.what}?`} session={session}>
      <div class="card">
        <p>{confirm.consequence}</p>
        <form method="post" action={confirm.action} class="actions">
          <CsrfField session={session} />
          <input type="hidden" name="confirmed" value="yes" />
          <button type="submit" class="danger">
            {confirm.confirmLabel ?? "Delete"}
          </button>
          <a href={confirm.back}>Cancel</a>
        </form>
      </div>
    </Page>
  );
}

/** What each deletion does, said the same way in the dialog and on the confirmation page. */
export const CONSEQUENCES = {
  token: "It stops working at once, everywhere: anything still using it is refused. This cannot be undone.",
  member:
    "They lose access to this organization at once, and their user tokens no longer reach its projects. To change a role, remove and add again.",
  relationship:
    "Jobs it admits can no longer get tokens for this project. Tokens already minted through it stay valid until they expire.",
  project: "Its trust relationships are removed and every token made for it stops working at once. This cannot be undone.",
} as const;
