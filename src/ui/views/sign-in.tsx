/**
 * The sign-in page: one password field for a user token, an organization token or the
 * operator's ADMIN_TOKEN, posted (never in a URL) with the sign-in form's CSRF token.
 * The field is never filled back in after a refusal.
 */
import { Alert, Page } from "./layout";

export interface SignInError {
  /** The wire error code, also in `data-error`. */
  code: string;
  message: string;
}

export function SignInPage({ csrf, error }: { csrf: string; error?: SignInError }) {
  return (
    <Page title="Sign in" session={null}>
      <p class="lead">Manage organizations, projects, trust relationships and tokens of edge-sts.</p>
      {error && (
        <Alert code={error.code}>
          <strong>Not signed in.</strong> {error.message}
        </Alert>
      )}
      <div class="card">
        <form method="post" action="/settings/sign-in" autocomplete="off">
          <input type="hidden" name="csrf" value={csrf} />
          <div class="field">
            <label for="token">Token</label>
            <span class="hint" id="token-hint">
              Paste a user token (<code>sts_usr_…</code>), an organization token (<code>sts_org_…</code>) or the operator's{" "}
              <code>ADMIN_TOKEN</code>. It is checked once and not kept: your browser gets a session cookie that ends after 8
              hours, when you sign out, or when the token is deleted.
            </span>
            <input
              id="token"
              name="token"
              type="password"
              required
              autocomplete="off"
              spellcheck={false}
              autocapitalize="off"
              aria-describedby="token-hint"
              aria-invalid={error ? "true" : undefined}
              autofocus
            />
          </div>
          <div class="actions">
            <button type="submit">Sign in</button>
          </div>
        </form>
      </div>
    </Page>
  );
}
