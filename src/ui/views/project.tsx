/**
 * A project's details and settings as the signed-in principal may read them: its ID (CI
 * jobs pass it as `audience`), its trust relationships with their pinned IDs and
 * conditions (adding and deleting them), a link to its recent exchanges (admins), its project
 * tokens, and deleting the project.
 * Every value shown here was typed by someone and is rendered as text.
 */
import type { IssuedStaticToken, StaticTokenView } from "../../admin/static-tokens";
import type { TrustRelationshipView } from "../../admin/trust-relationships";
import type { Organization, Project } from "../../db/organizations";
import type { FormState } from "../forms";
import type { UiSession } from "../session";
import { CONSEQUENCES } from "./confirm";
import { DeleteButton, Notice } from "./forms";
import { Copyable, Page, Time } from "./layout";
import { administers, type Standing } from "./org";
import { RelationshipList } from "./relationships";
import { TokenSection } from "./tokens";

export interface ProjectPageData {
  org: Organization;
  project: Project;
  standing: Standing;
  relationships: TrustRelationshipView[];
  tokens: StaticTokenView[];
}

export interface ProjectPageState {
  notice?: string;
  token?: FormState;
  issued?: IssuedStaticToken;
  configError?: boolean;
}

export function ProjectPage({ session, data, state = {} }: { session: UiSession; data: ProjectPageData; state?: ProjectPageState }) {
  const { org, project, standing, relationships, tokens } = data;
  const admin = administers(standing);
  const base = `/settings/projects/${project.id}`;
  return (
    <Page title={project.name} session={session} section="home" breadcrumbs={[{ href: `/settings/orgs/${org.id}`, label: org.name }]}>
      <Notice text={state.notice} />
      <section class="card" aria-labelledby="project-heading">
        <h2 id="project-heading">Project settings</h2>
        <dl class="facts">
          <dt>Project ID</dt>
          <dd>
            <Copyable id="project-id" value={project.id} label="project ID" />
          </dd>
          <dt>Created</dt>
          <dd>
            <Time at={project.created_at} />
          </dd>
        </dl>
        <p class="hint">
          CI jobs pass the project ID as the exchange's <code>audience</code> (the edge-sts client's <code>--project</code>).
        </p>
      </section>
      <section class="card" aria-labelledby="relationships-heading">
        <div class="section-head">
          <h2 id="relationships-heading">Trust relationships</h2>
          {admin && (
            <a class="button" href={`${base}/trust-relationships/new`}>
              Add trust relationship
            </a>
          )}
        </div>
        <p class="hint">Which CI jobs may exchange their ID token for a token of this project.</p>
        <RelationshipList session={session} relationships={relationships} admin={admin} />
      </section>
      <section class="card" aria-labelledby="exchanges-heading">
        <h2 id="exchanges-heading">Recent exchanges</h2>
        {admin ? (
          <p>
            <a href={`${base}/exchanges`}>See recent exchanges</a>: which jobs got a token for this project, and which were refused and why, from the
            audit log. Explain a refused one from there.
          </p>
        ) : (
          <p class="hint">The audit log, and so this project's exchanges, is for the organization's admins.</p>
        )}
      </section>
      <section class="card" aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">Project tokens</h2>
        <p class="hint">
          Static credentials for this project alone (builds and the registry), for places that cannot use a CI's OIDC token. They cannot
          administer anything.
        </p>
        <TokenSection
          session={session}
          tokens={tokens}
          kind="project"
          caption="Project tokens"
          emptyText="No project tokens."
          action={admin ? `${base}/tokens` : null}
          page={base}
          issued={state.issued}
          state={state.token}
          configError={state.configError}
        />
      </section>
      {admin && (
        <section class="card danger-zone" aria-labelledby="delete-project-heading">
          <h2 id="delete-project-heading">Delete this project</h2>
          <p class="hint">Removes its trust relationships and revokes its tokens, including tokens CI jobs already hold.</p>
          <div class="actions">
            <DeleteButton
              session={session}
              id="project"
              action={`${base}/delete`}
              what={`project ${project.name}`}
              consequence={CONSEQUENCES.project}
              text="Delete project"
            />
          </div>
        </section>
      )}
    </Page>
  );
}
