/**
 * A project's settings as the signed-in principal may read them: its ID (to give CI jobs
 * as `audience`), its trust relationships with their pinned IDs and conditions, and its
 * project tokens. Every value shown here was typed by someone and is rendered as text.
 */
import type { StaticTokenView } from "../../admin/static-tokens";
import type { TrustRelationshipView } from "../../admin/trust-relationships";
import type { Organization, Project } from "../../db/organizations";
import type { UiSession } from "../session";
import { Copyable, Page, Time } from "./layout";
import { TokenTable } from "./tokens";

export interface ProjectPageData {
  org: Organization;
  project: Project;
  relationships: TrustRelationshipView[];
  tokens: StaticTokenView[];
}

const PROVIDER_LABEL: Record<string, string> = {
  github: "GitHub Actions",
  circleci: "CircleCI",
  buildkite: "Buildkite",
  rwx: "RWX",
};

/** The view's fields every provider has; the rest are the provider's identity and pinned IDs. */
const COMMON_FIELDS = new Set(["id", "project_id", "provider", "conditions", "description", "token_ttl_seconds", "created_at"]);

function Relationship({ r }: { r: TrustRelationshipView }) {
  const conditions = Object.entries(r.conditions);
  const identity = Object.entries(r).filter(([field]) => !COMMON_FIELDS.has(field));
  return (
    <li>
      <p>
        <strong>{PROVIDER_LABEL[r.provider] ?? r.provider}</strong> <code>{r.id}</code>
        {r.description !== "" && <span> · {r.description}</span>}
      </p>
      <dl class="facts">
        {identity.map(([field, value]) => (
          <>
            <dt>{field}</dt>
            <dd>
              <code>{String(value)}</code>
            </dd>
          </>
        ))}
        <dt>conditions</dt>
        <dd>
          {conditions.length === 0 ? (
            <span class="empty">none</span>
          ) : (
            <ul class="plain">
              {conditions.map(([claim, pattern]) => (
                <li>
                  <code>{claim}</code> = <code>{pattern}</code>
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>token lifetime</dt>
        <dd>{`${r.token_ttl_seconds} s`}</dd>
        <dt>created</dt>
        <dd>
          <Time at={r.created_at} />
        </dd>
      </dl>
    </li>
  );
}

export function ProjectPage({ session, data }: { session: UiSession; data: ProjectPageData }) {
  const { org, project, relationships, tokens } = data;
  return (
    <Page
      title={project.name}
      session={session}
      section="home"
      breadcrumbs={[{ href: `/settings/orgs/${org.id}`, label: org.name }]}
    >
      <section class="card" aria-labelledby="project-heading">
        <h2 id="project-heading">Project</h2>
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
      </section>
      <section class="card" aria-labelledby="relationships-heading">
        <h2 id="relationships-heading">Trust relationships</h2>
        <p class="hint">Which CI jobs may exchange their ID token for a token of this project.</p>
        {relationships.length === 0 ? (
          <p class="empty">No trust relationships yet.</p>
        ) : (
          <ul class="plain">
            {relationships.map((r) => (
              <Relationship r={r} />
            ))}
          </ul>
        )}
      </section>
      <section class="card" aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">Project tokens</h2>
        <TokenTable tokens={tokens} caption="Project tokens" emptyText="No project tokens." />
      </section>
    </Page>
  );
}
