/**
 * An organization: its ID, its projects (and creating one), its members (adding and
 * removing them) and its organization tokens, as the signed-in principal may read them.
 * Forms are shown to those who administer the organization; members only read.
 */
import type { IssuedStaticToken, StaticTokenView } from "../../admin/static-tokens";
import type { Organization, Project } from "../../db/organizations";
import type { Membership } from "../../db/users";
import type { FormState } from "../forms";
import type { UiSession } from "../session";
import { CONSEQUENCES } from "./confirm";
import { CsrfField, DeleteButton, FormAlert, Notice, SelectField, TextField } from "./forms";
import { Copyable, Page, TableWrap, Time } from "./layout";
import { TokenSection } from "./tokens";

/** How the signed-in principal relates to the organization. */
export type Standing = "operator" | "organization token" | "admin" | "member";

export const administers = (standing: Standing) => standing !== "member";

export interface OrgPageData {
  org: Organization;
  standing: Standing;
  projects: Project[];
  members: Membership[];
  tokens: StaticTokenView[];
}

/** What a POST adds to the page it renders again: a refused form, a new token, a notice. */
export interface OrgPageState {
  notice?: string;
  project?: FormState;
  member?: FormState;
  token?: FormState;
  issued?: IssuedStaticToken;
  configError?: boolean;
}

export function OrgPage({ session, data, state = {} }: { session: UiSession; data: OrgPageData; state?: OrgPageState }) {
  const { org, standing, projects, members, tokens } = data;
  const admin = administers(standing);
  const base = `/settings/orgs/${org.id}`;
  return (
    <Page title={org.name} session={session} section="home">
      <Notice text={state.notice} />
      <section class="card" aria-labelledby="org-heading">
        <h2 id="org-heading">Organization</h2>
        <dl class="facts">
          <dt>Organization ID</dt>
          <dd>
            <Copyable id="org-id" value={org.id} label="organization ID" />
          </dd>
          <dt>Created</dt>
          <dd>
            <Time at={org.created_at} />
          </dd>
          <dt>You are</dt>
          <dd>{standing === "organization token" ? "signed in with an organization token" : standing}</dd>
        </dl>
        {!admin && <p class="hint">Members can look; only the organization's admins can change anything here.</p>}
      </section>
      <section class="card" aria-labelledby="projects-heading">
        <h2 id="projects-heading">Projects</h2>
        {projects.length === 0 ? (
          <p class="empty">No projects yet.</p>
        ) : (
          <TableWrap label="Projects">
            <table>
              <caption class="visually-hidden">Projects of this organization</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Project ID</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {projects.map((p) => (
                  <tr>
                    <td>
                      <a href={`/settings/projects/${p.id}`}>{p.name}</a>
                    </td>
                    <td>
                      <code>{p.id}</code>
                    </td>
                    <td>
                      <Time at={p.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        {admin && (
          <form method="post" action={`${base}/projects`} class="stacked" aria-labelledby="new-project-title">
            <h3 id="new-project-title">Create a project</h3>
            <CsrfField session={session} />
            <FormAlert state={state.project} />
            <TextField
              form="new-project"
              name="name"
              label="Project name"
              hint="Shown on these pages; CI jobs name the project by its ID, which you get once it is created."
              state={state.project}
              required
              maxlength={200}
            />
            <div class="actions">
              <button type="submit">Create project</button>
            </div>
          </form>
        )}
      </section>
      <section class="card" aria-labelledby="members-heading">
        <h2 id="members-heading">Members</h2>
        {members.length === 0 ? (
          <p class="empty">No members yet.</p>
        ) : (
          <TableWrap label="Members">
            <table>
              <caption class="visually-hidden">Members of this organization</caption>
              <thead>
                <tr>
                  <th scope="col">User ID</th>
                  <th scope="col">Role</th>
                  <th scope="col">Since</th>
                  {admin && (
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {members.map((m) => (
                  <tr id={m.user_id}>
                    <td>
                      <code>{m.user_id}</code>
                    </td>
                    <td>{m.role}</td>
                    <td>
                      <Time at={m.created_at} />
                    </td>
                    {admin && (
                      <td class="row-actions">
                        <DeleteButton
                          session={session}
                          id={m.user_id}
                          action={`${base}/members/${m.user_id}/delete`}
                          what={`member ${m.user_id}`}
                          consequence={CONSEQUENCES.member}
                          confirmLabel="Remove"
                        />
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        {admin && (
          <form method="post" action={`${base}/members`} class="stacked" aria-labelledby="new-member-title">
            <h3 id="new-member-title">Add a member</h3>
            <CsrfField session={session} />
            <FormAlert state={state.member} />
            <TextField
              form="new-member"
              name="user_id"
              label="User ID"
              hint={
                <>
                  The person's user ID (<code>usr_…</code>): they find it on their Account page. The operator creates users.
                </>
              }
              state={state.member}
              required
            />
            <SelectField
              form="new-member"
              name="role"
              label="Role"
              hint="Admins manage projects, trust relationships, tokens and members; members can only look."
              options={[
                { value: "member", label: "member" },
                { value: "admin", label: "admin" },
              ]}
              state={state.member}
            />
            <div class="actions">
              <button type="submit">Add member</button>
            </div>
          </form>
        )}
      </section>
      <section class="card" aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">Organization tokens</h2>
        <p class="hint">Each reaches every project of this organization, as its admin.</p>
        <TokenSection
          session={session}
          tokens={tokens}
          kind="organization"
          caption="Organization tokens"
          emptyText="No organization tokens."
          action={admin ? `${base}/tokens` : null}
          page={base}
          issued={state.issued}
          state={state.token}
          configError={state.configError}
        />
      </section>
    </Page>
  );
}
