/**
 * Trust relationships on the page: the list (each provider's identity in words, the pinned
 * immutable IDs or that they are not pinned yet, conditions, lifetime, a trash button),
 * choosing a provider, and one form per provider with its own wording and help.
 *
 * The fields are posted under the API's names and checked by the API's own validation;
 * this file only says what each field means and where to find its value.
 */
import type { TrustRelationshipView } from "../../admin/trust-relationships";
import type { ProviderName } from "../../config";
import type { Organization, Project } from "../../db/organizations";
import { PROVIDERS, PROVIDER_NAMES } from "../../providers/registry";
import { MAX_PATTERN_LENGTH } from "../../trust/conditions";
import { CONDITION_ROWS, conditionClaimField, conditionPatternField, RELATIONSHIP_FIELDS, type FormState } from "../forms";
import type { UiSession } from "../session";
import { CONSEQUENCES } from "./confirm";
import { CsrfField, DeleteButton, errorFor, FieldError, FormAlert, LITERAL_TEXT, SelectField, TextField } from "./forms";
import { Page, Rich } from "./layout";

export const PROVIDER_LABEL: Record<ProviderName, string> = {
  github: "GitHub Actions",
  circleci: "CircleCI",
  buildkite: "Buildkite",
  rwx: "RWX",
};

const PROVIDER_SUMMARY: Record<ProviderName, string> = {
  github: "A repository's workflows, by the user or organization that owns it and the repository's name.",
  circleci: "A CircleCI project, by its organization's and project's UUIDs.",
  buildkite: "A Buildkite pipeline, by its organization and pipeline slugs.",
  rwx: "An RWX vault, by its OIDC subject.",
};

interface FieldText {
  label: string;
  /** Help in `Rich` text: `code`, **strong**. */
  hint: string;
  placeholder?: string;
  /** Shown in the list when the relationship has no value yet: an ID pinned from the first verified token. */
  unpinned?: string;
}

const PINNED_LATER = "not pinned yet: pinned from the first verified token";

/** What each provider's fields are called and where their values are found. */
const FIELD_TEXT: Record<ProviderName, Record<string, FieldText>> = {
  github: {
    owner: {
      label: "GitHub user or organization",
      hint: "The account that owns the repository: `acme` for `github.com/acme/widgets`. Compared ignoring case.",
      placeholder: "acme",
    },
    repository: {
      label: "Repository name",
      hint: "The repository's name only, not its URL and without the owner: `widgets` for `github.com/acme/widgets`.",
      placeholder: "widgets",
    },
    owner_id: {
      label: "Owner ID",
      hint: "The owner's immutable numeric ID (`repository_owner_id`). Leave empty to pin it from the first verified token; from then on a re-registered owner with the same name is refused.",
      unpinned: PINNED_LATER,
    },
    repository_id: {
      label: "Repository ID",
      hint: "The repository's immutable numeric ID (`repository_id`; `gh api repos/acme/widgets --jq .id`). Leave empty to pin it from the first verified token.",
      unpinned: PINNED_LATER,
    },
    enterprise: {
      label: "Enterprise",
      hint: "Your GitHub Enterprise's slug, to restrict this relationship to it. Required for jobs that use the enterprise's own issuer (`token.actions.githubusercontent.com/<enterprise>`).",
    },
  },
  circleci: {
    organization_uuid: {
      label: "Organization ID (UUID)",
      hint: "A UUID, not the organization's name: in CircleCI, **Organization Settings → Overview**, “Organization ID”.",
      placeholder: "c9f0b1a2-3d4e-4f50-8a6b-7c8d9e0f1a2b",
    },
    project_uuid: {
      label: "Project ID (UUID)",
      hint: "A UUID, not the project's name: in CircleCI, **Project Settings → Overview**, “Project ID”.",
      placeholder: "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9",
    },
    accept_default_audience: {
      label: "Also accept CircleCI's default audience",
      hint: "**Leave this off unless your client can only forward `$CIRCLE_OIDC_TOKEN_V2` unchanged.** That token's audience is your organization's UUID, and CircleCI hands the same token to every service the job talks to (AWS, Vault, any SaaS): any of them could replay it here for an hour. Prefer `circleci run oidc get` with this service's audience.",
    },
  },
  buildkite: {
    organization_slug: {
      label: "Organization slug",
      hint: "As in `buildkite.com/<org-slug>/<pipeline-slug>`: `acme` for `buildkite.com/acme/widgets`.",
      placeholder: "acme",
    },
    pipeline_slug: {
      label: "Pipeline slug",
      hint: "As in `buildkite.com/<org-slug>/<pipeline-slug>`: `widgets` for `buildkite.com/acme/widgets`.",
      placeholder: "widgets",
    },
    organization_uuid: {
      label: "Organization UUID",
      hint: "Slugs can be renamed and reused. Leave empty to pin the UUID from the first token that carries `organization_id` (ask with `--claim organization_id,pipeline_id`); once pinned, a token without it is refused.",
      unpinned: "not pinned yet: pinned from the first token carrying organization_id",
    },
    pipeline_uuid: {
      label: "Pipeline UUID",
      hint: "Pinned like the organization's, from `pipeline_id`.",
      unpinned: "not pinned yet: pinned from the first token carrying pipeline_id",
    },
  },
  rwx: {
    subject: {
      label: "Vault OIDC subject",
      hint: "Copy it from the vault's page in RWX; it is compared exactly. Any run that can read the vault gets the token, so use a **locked vault** for anything sensitive.",
      placeholder: "mint:8a3c2f9e-1b7d-4e2a-9c0f-5d6e7f8a9b0c:production",
    },
  },
};

/** What a provider's form says above its fields (`Rich` text). */
const PROVIDER_NOTES: Partial<Record<ProviderName, string>> = {
  github:
    "Pull requests from the same repository get a token that says “this repository” too: a relationship meant for `main` only needs the condition `ref` = `refs/heads/main`. `pull_request_target` and `workflow_run` jobs are refused unless a condition names that event (`event_name`).",
  circleci:
    "Fork builds that receive secrets keep your organization and project but carry the fork's `oidc.circleci.com/vcs-origin`: add a condition on it if that matters. SSH reruns are refused unless a condition names `oidc.circleci.com/ssh-rerun`.",
  buildkite: "Branch conditions do not protect pipelines that build forks: a fork's branch named main shows `build_branch` “main”.",
};

const CONDITION_EXAMPLE: Record<ProviderName, [string, string]> = {
  github: ["ref", "refs/heads/main"],
  circleci: ["oidc.circleci.com/vcs-ref", "refs/heads/main"],
  buildkite: ["build_branch", "main"],
  rwx: ["task_url", "https://cloud.rwx.com/*"],
};

function relationshipLabel(r: TrustRelationshipView): string {
  const s = r as unknown as Record<string, unknown>;
  switch (r.provider as ProviderName) {
    case "github":
      return `${String(s.owner)}/${String(s.repository)}`;
    case "circleci":
      return `project ${String(s.project_uuid)}`;
    case "buildkite":
      return `${String(s.organization_slug)}/${String(s.pipeline_slug)}`;
    case "rwx":
      return String(s.subject);
  }
}

function FieldValue({ value, unpinned }: { value: unknown; unpinned?: string }) {
  if (value === undefined || value === null || value === "") return <span class="empty">{unpinned ?? "none"}</span>;
  if (typeof value === "boolean") return <span>{value ? "yes" : "no"}</span>;
  return <code>{String(value)}</code>;
}

function Relationship({ session, r, admin }: { session: UiSession; r: TrustRelationshipView; admin: boolean }) {
  const provider = r.provider as ProviderName;
  const conditions = Object.entries(r.conditions);
  const values = r as unknown as Record<string, unknown>;
  const label = relationshipLabel(r);
  return (
    <li id={r.id} data-relationship-id={r.id}>
      <div class="item-head">
        <p>
          <strong>{PROVIDER_LABEL[provider]}</strong> <span>{label}</span>
          {r.description !== "" && <span class="muted"> · {r.description}</span>}
        </p>
        {admin && (
          <DeleteButton
            session={session}
            id={r.id}
            action={`/settings/projects/${r.project_id}/trust-relationships/${r.id}/delete`}
            what={`trust relationship ${PROVIDER_LABEL[provider]} ${label}`}
            consequence={CONSEQUENCES.relationship}
          />
        )}
      </div>
      <dl class="facts">
        <dt>ID</dt>
        <dd>
          <code>{r.id}</code>
        </dd>
        {RELATIONSHIP_FIELDS[provider].map((f) => (
          <>
            <dt>{FIELD_TEXT[provider][f.name]?.label ?? f.name}</dt>
            <dd>
              <FieldValue value={values[f.name]} unpinned={FIELD_TEXT[provider][f.name]?.unpinned} />
            </dd>
          </>
        ))}
        <dt>Conditions</dt>
        <dd>
          {conditions.length === 0 ? (
            <span class="empty">none</span>
          ) : (
            <ul class="plain compact">
              {conditions.map(([claim, pattern]) => (
                <li>
                  <code>{claim}</code> = <code>{pattern}</code>
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>Token lifetime</dt>
        <dd>{`${r.token_ttl_seconds} s`}</dd>
        <dt>Mode</dt>
        <dd>{r.mode === "shadow" ? "shadow (recorded only, never mints)" : "enforce"}</dd>
      </dl>
    </li>
  );
}

export function RelationshipList({ session, relationships, admin }: { session: UiSession; relationships: TrustRelationshipView[]; admin: boolean }) {
  if (relationships.length === 0) return <p class="empty">No trust relationships yet: no CI job can get a token for this project.</p>;
  return (
    <ul class="plain">
      {relationships.map((r) => (
        <Relationship session={session} r={r} admin={admin} />
      ))}
    </ul>
  );
}

interface FormPageProps {
  session: UiSession;
  org: Organization;
  project: Project;
}

function breadcrumbs(org: Organization, project: Project) {
  return [
    { href: `/settings/orgs/${org.id}`, label: org.name },
    { href: `/settings/projects/${project.id}`, label: project.name },
  ];
}

/** Step one: which CI the jobs run on (a GET form, so it works without the script). */
export function ProviderPickerPage({ session, org, project }: FormPageProps) {
  return (
    <Page title="Add trust relationship" session={session} section="home" breadcrumbs={breadcrumbs(org, project)}>
      <p class="lead">A trust relationship lets CI jobs exchange their OIDC ID token for a short-lived token of this project.</p>
      <form method="get" action={`/settings/projects/${project.id}/trust-relationships/new`} class="card">
        <fieldset>
          <legend>Where do the jobs run?</legend>
          {PROVIDER_NAMES.map((name, i) => (
            <div class="choice">
              <input type="radio" id={`provider-${name}`} name="provider" value={name} checked={i === 0} aria-describedby={`provider-${name}-hint`} />
              <label for={`provider-${name}`}>{PROVIDER_LABEL[name]}</label>
              <span class="hint" id={`provider-${name}-hint`}>
                {PROVIDER_SUMMARY[name]}
              </span>
            </div>
          ))}
        </fieldset>
        <div class="actions">
          <button type="submit">Continue</button>
          <a href={`/settings/projects/${project.id}`}>Cancel</a>
        </div>
      </form>
    </Page>
  );
}

function ConditionRow({ row, state, claims }: { row: number; state?: FormState; claims: string }) {
  const claimName = conditionClaimField(row);
  const patternName = conditionPatternField(row);
  const claim = state?.values[claimName] ?? "";
  const error = state?.error;
  // The API names a bad condition by its claim; mark the row that holds it.
  const invalid = claim !== "" && error !== undefined && (error.field === `conditions.${claim}` || error.message.startsWith(`${claim} is `));
  return (
    <div class="condition" role="group" aria-label={`Condition ${row + 1}`}>
      <ConditionCell label="Claim" name={claimName} value={claim} invalid={invalid} list={claims} />
      <ConditionCell label="Pattern" name={patternName} value={state?.values[patternName] ?? ""} invalid={invalid} maxlength={MAX_PATTERN_LENGTH} />
    </div>
  );
}

/** One input of a condition row; an invalid row points both of its inputs at the conditions' error. */
function ConditionCell({ label, name, value, invalid, list, maxlength }: { label: string; name: string; value: string; invalid: boolean; list?: string; maxlength?: number }) {
  return (
    <div>
      <label for={`rel-${name}`}>{label}</label>
      <input
        id={`rel-${name}`}
        name={name}
        {...LITERAL_TEXT}
        list={list}
        value={value}
        maxlength={maxlength}
        aria-invalid={invalid ? "true" : undefined}
        aria-describedby={invalid ? "rel-conditions-error" : undefined}
      />
    </div>
  );
}

/** Rows shown at first; the rest wait behind "More conditions" (a `<details>`, no script needed). */
const VISIBLE_CONDITION_ROWS = 3;

function Conditions({ provider, state }: { provider: ProviderName; state?: FormState }) {
  const claims = `claims-${provider}`;
  const error = errorFor(state, "conditions");
  const [exampleClaim, examplePattern] = CONDITION_EXAMPLE[provider];
  const filled = Array.from({ length: CONDITION_ROWS }, (_, row) => row).filter(
    (row) => (state?.values[conditionClaimField(row)] ?? "") !== "" || (state?.values[conditionPatternField(row)] ?? "") !== "",
  );
  const visible = Math.max(VISIBLE_CONDITION_ROWS, (filled.at(-1) ?? -1) + 2);
  const rows = Array.from({ length: CONDITION_ROWS }, (_, row) => row);
  return (
    <fieldset class="conditions" aria-describedby={error ? "rel-conditions-hint rel-conditions-error" : "rel-conditions-hint"}>
      <legend>
        Conditions <span class="optional">(optional)</span>
      </legend>
      <span class="hint" id="rel-conditions-hint">
        Claims of the job's ID token and the pattern each must match, all of them. A pattern matches the whole value; <code>*</code> matches
        any run of characters except <code>/</code>; there are no regular expressions. For example <code>{exampleClaim}</code> ={" "}
        <code>{examplePattern}</code>. Claim names are checked against {PROVIDER_LABEL[provider]}'s claims.
      </span>
      <FieldError id="rel-conditions-error" error={error} />
      <datalist id={claims}>
        {PROVIDERS[provider].conditionClaims.map((claim) => (
          <option value={claim} />
        ))}
      </datalist>
      {rows.slice(0, Math.min(visible, CONDITION_ROWS)).map((row) => (
        <ConditionRow row={row} state={state} claims={claims} />
      ))}
      {visible < CONDITION_ROWS && (
        <details>
          <summary>More conditions</summary>
          {rows.slice(visible).map((row) => (
            <ConditionRow row={row} state={state} claims={claims} />
          ))}
        </details>
      )}
    </fieldset>
  );
}

function ProviderField({ provider, name, required, kind, state }: { provider: ProviderName; name: string; required: boolean; kind: string; state?: FormState }) {
  const text = FIELD_TEXT[provider][name]!;
  if (kind === "checkbox") {
    const id = `rel-${name}`;
    const error = errorFor(state, name);
    return (
      <div class="field choice">
        <input
          type="checkbox"
          id={id}
          name={name}
          value="true"
          checked={state?.values[name] === "true"}
          aria-describedby={`${id}-hint${error ? ` ${id}-error` : ""}`}
          aria-invalid={error ? "true" : undefined}
        />
        <label for={id}>{text.label}</label>
        <span class="hint warning" id={`${id}-hint`}>
          <Rich text={text.hint} />
        </span>
        <FieldError id={`${id}-error`} error={error} />
      </div>
    );
  }
  return <TextField form="rel" name={name} label={text.label} hint={<Rich text={text.hint} />} placeholder={text.placeholder} state={state} required={required} />;
}

/** Step two: the provider's own form, then what every relationship has. */
export function RelationshipFormPage({ session, org, project, provider, state }: FormPageProps & { provider: ProviderName; state?: FormState }) {
  const fields = RELATIONSHIP_FIELDS[provider];
  const required = fields.filter((f) => f.required);
  const optional = fields.filter((f) => !f.required);
  return (
    <Page title={`Add trust relationship: ${PROVIDER_LABEL[provider]}`} session={session} section="home" breadcrumbs={breadcrumbs(org, project)}>
      <p class="lead">{PROVIDER_SUMMARY[provider]}</p>
      <form method="post" action={`/settings/projects/${project.id}/trust-relationships`} class="card" novalidate>
        <CsrfField session={session} />
        <input type="hidden" name="provider" value={provider} />
        <FormAlert state={state} />
        {PROVIDER_NOTES[provider] && (
          <p class="hint">
            <Rich text={PROVIDER_NOTES[provider]} />
          </p>
        )}
        {required.map((f) => (
          <ProviderField provider={provider} name={f.name} kind={f.kind} required state={state} />
        ))}
        {optional.map((f) => (
          <ProviderField provider={provider} name={f.name} kind={f.kind} required={false} state={state} />
        ))}
        <Conditions provider={provider} state={state} />
        <TextField
          form="rel"
          name="token_ttl_seconds"
          label="Token lifetime (seconds)"
          hint="How long a minted token lives: 60 to 43200 seconds. Empty means 3600 (one hour)."
          inputmode="numeric"
          placeholder="3600"
          state={state}
        />
        <SelectField
          form="rel"
          name="mode"
          label="Mode"
          hint="Shadow: every exchange naming these jobs records whether this relationship would admit them (in Recent exchanges), but it never mints a token. Roll a tighter relationship out as shadow, then add it as enforce once it admits what it should."
          options={[
            { value: "enforce", label: "Enforce: jobs it admits get tokens" },
            { value: "shadow", label: "Shadow: recorded only, never mints" },
          ]}
          state={state}
        />
        <TextField form="rel" name="description" label="Description" hint="What it is for, shown in the list." state={state} maxlength={500} />
        <div class="actions">
          <button type="submit">Add trust relationship</button>
          <a href={`/settings/projects/${project.id}/trust-relationships/new`}>Choose another provider</a>
          <a href={`/settings/projects/${project.id}`}>Cancel</a>
        </div>
      </form>
    </Page>
  );
}
