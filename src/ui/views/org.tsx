/**
 * An organization: its ID, its projects, its members and its organization tokens, as the
 * signed-in principal may read them.
 */
import type { Organization, Project } from "../../db/organizations";
import type { StaticTokenView } from "../../admin/static-tokens";
import type { Membership } from "../../db/users";
import type { UiSession } from "../session";
import { Copyable, Page, TableWrap, Time } from "./layout";
import { TokenTable } from "./tokens";

/** How the signed-in principal relates to the organization. */
export type Standing = "operator" | "organization token" | "admin" | "member";

export interface OrgPageData {
  org: Organization;
  standing: Standing;
  projects: Project[];
  members: Membership[];
  tokens: StaticTokenView[];
}

export function OrgPage({ session, data }: { session: UiSession; data: OrgPageData }) {
  const { org, standing, projects, members, tokens } = data;
  return (
    <Page title={org.name} session={session} section="home">
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
                </tr>
              </thead>
              <tbody>
                {members.map((m) => (
                  <tr>
                    <td>
                      <code>{m.user_id}</code>
                    </td>
                    <td>{m.role}</td>
                    <td>
                      <Time at={m.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </section>
      <section class="card" aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">Organization tokens</h2>
        <p class="hint">Each reaches every project of this organization, as its admin.</p>
        <TokenTable tokens={tokens} caption="Organization tokens" emptyText="No organization tokens." />
      </section>
    </Page>
  );
}
