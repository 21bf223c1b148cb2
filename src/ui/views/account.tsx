/**
 * The account page: who the session belongs to and, for a user, their user tokens (created
 * and deleted here). An organization token or the operator has no account; the page says
 * what they signed in with.
 */
import type { IssuedStaticToken, StaticTokenView } from "../../admin/static-tokens";
import type { FormState } from "../forms";
import type { UiSession } from "../session";
import { Notice } from "./forms";
import { Copyable, Page, Time } from "./layout";
import { TokenSection } from "./tokens";

export interface AccountPageState {
  notice?: string;
  token?: FormState;
  issued?: IssuedStaticToken;
  configError?: boolean;
}

export function AccountPage({ session, tokens, state = {} }: { session: UiSession; tokens: StaticTokenView[] | null; state?: AccountPageState }) {
  const who = session.who;
  return (
    <Page title="Account" session={session} section="account">
      <Notice text={state.notice} />
      <section class="card" aria-labelledby="identity-heading">
        <h2 id="identity-heading">Signed in as</h2>
        <dl class="facts">
          {who.kind === "user" && (
            <>
              <dt>Name</dt>
              <dd>{who.name}</dd>
              <dt>Email</dt>
              <dd>{who.email}</dd>
              <dt>User ID</dt>
              <dd>
                <Copyable id="user-id" value={who.userId} label="user ID" />
              </dd>
              <dt>Signed in with</dt>
              <dd>
                user token <code>{who.tokenId}</code>
              </dd>
            </>
          )}
          {who.kind === "organization" && (
            <>
              <dt>Organization</dt>
              <dd>
                <a href={`/settings/orgs/${who.orgId}`}>{who.name}</a>
              </dd>
              <dt>Signed in with</dt>
              <dd>
                organization token <code>{who.tokenId}</code>
              </dd>
            </>
          )}
          {who.kind === "operator" && (
            <>
              <dt>Signed in with</dt>
              <dd>the operator's ADMIN_TOKEN (rotating it ends this session)</dd>
            </>
          )}
          <dt>Session ends</dt>
          <dd>
            <Time at={session.expiresAt} /> at the latest
          </dd>
        </dl>
      </section>
      {tokens !== null && (
        <section class="card" aria-labelledby="tokens-heading">
          <h2 id="tokens-heading">Your user tokens</h2>
          <p class="hint">Each reaches every project of every organization you belong to. Deleting the one you signed in with ends this session.</p>
          <TokenSection
            session={session}
            tokens={tokens}
            kind="user"
            caption="Your user tokens"
            emptyText="No user tokens."
            action="/settings/account/tokens"
            page="/settings/account"
            issued={state.issued}
            state={state.token}
            configError={state.configError}
          />
        </section>
      )}
    </Page>
  );
}
