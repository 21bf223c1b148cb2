/**
 * The first page after signing in. A user sees the organizations they belong to; the
 * operator opens an organization by its ID (there is no list of every organization) or
 * creates one.
 * Organization-token sessions are sent straight to their organization by the route.
 */
import type { Organization } from "../../db/organizations";
import type { Role } from "../../db/users";
import type { UiSession } from "../session";
import type { FormState } from "../forms";
import { CsrfField, FormAlert, TextField } from "./forms";
import { Alert, Page } from "./layout";

export function UserHome({ session, orgs }: { session: UiSession; orgs: { org: Organization; role: Role }[] }) {
  return (
    <Page title="Your organizations" session={session} section="home">
      <p class="lead">The organizations you are a member of. Your user token reaches every project in them.</p>
      <section class="card" aria-labelledby="orgs-heading">
        <h2 id="orgs-heading">Organizations</h2>
        {orgs.length === 0 ? (
          <p class="empty">You are not a member of any organization yet. Ask an organization admin to add your user ID.</p>
        ) : (
          <ul class="plain">
            {orgs.map(({ org, role }) => (
              <li>
                <a href={`/settings/orgs/${org.id}`}>{org.name}</a> <span class="badge">{role}</span> <code>{org.id}</code>
              </li>
            ))}
          </ul>
        )}
      </section>
    </Page>
  );
}

export function OperatorHome({ session, notFound, state }: { session: UiSession; notFound?: boolean; state?: FormState }) {
  return (
    <Page title="Operator" session={session} section="home">
      <p class="lead">You are signed in with the operator's ADMIN_TOKEN: every organization is within reach.</p>
      {notFound && <Alert code="not_found">No organization has that ID.</Alert>}
      <section class="card" aria-labelledby="open-org-heading">
        <h2 id="open-org-heading">Open an organization</h2>
        <form method="get" action="/settings/orgs">
          <div class="field">
            <label for="org_id">Organization ID</label>
            <span class="hint" id="org_id-hint">
              Starts with <code>org_</code>, as returned when the organization was created.
            </span>
            <input id="org_id" name="org_id" type="text" required spellcheck={false} autocapitalize="off" aria-describedby="org_id-hint" />
          </div>
          <div class="actions">
            <button type="submit">Open</button>
          </div>
        </form>
      </section>
      <section class="card" aria-labelledby="new-org-title">
        <h2 id="new-org-title">Create an organization</h2>
        <form method="post" action="/settings/orgs" class="stacked">
          <CsrfField session={session} />
          <FormAlert state={state} />
          <TextField form="new-org" name="name" label="Organization name" state={state} required maxlength={200} />
          <div class="actions">
            <button type="submit">Create organization</button>
          </div>
        </form>
      </section>
    </Page>
  );
}
