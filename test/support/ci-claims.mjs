/**
 * Realistic ID-token claims for each CI provider, in one place for everything that signs
 * tokens at the fake issuer: the tests (in workerd), the benchmark, the soak and the demo
 * (in Node). Plain JavaScript so both runtimes import it as it is.
 *
 * A job's identity (repository, organization, pipeline, vault subject) is fixed by the
 * caller or made up fresh; times, `jti` and run identifiers are fresh on every call.
 */

export const ISSUERS = {
  github: "https://token.actions.githubusercontent.com",
  circleci: "https://oidc.circleci.com",
  buildkite: "https://agent.buildkite.com",
  rwx: "https://cloud.rwx.com/mint",
};

const now = () => Math.floor(Date.now() / 1000);
const unique = () => Math.random().toString(36).slice(2, 10);
const digits = () => String(100000 + Math.floor(Math.random() * 899999999));

/** A GitHub Actions push token on main; `job` fixes owner, repository and their IDs. */
export function githubClaims(audience, job = {}, overrides = {}) {
  const owner = job.owner ?? `octo-${unique()}`;
  const repository = job.repository ?? `repo-${unique()}`;
  const t = now();
  return {
    iss: ISSUERS.github,
    aud: audience,
    sub: `repo:${owner}/${repository}:ref:refs/heads/main`,
    jti: crypto.randomUUID(),
    iat: t,
    nbf: t - 600,
    exp: t + 300,
    repository: `${owner}/${repository}`,
    repository_id: job.repositoryId ?? digits(),
    repository_owner: owner,
    repository_owner_id: job.ownerId ?? digits(),
    repository_visibility: "private",
    ref: "refs/heads/main",
    ref_type: "branch",
    sha: "a".repeat(40),
    workflow: "ci",
    workflow_ref: `${owner}/${repository}/.github/workflows/ci.yml@refs/heads/main`,
    job_workflow_ref: `${owner}/${repository}/.github/workflows/ci.yml@refs/heads/main`,
    event_name: "push",
    run_id: digits(),
    run_attempt: "1",
    runner_environment: "github-hosted",
    ...overrides,
  };
}

/** A CircleCI V2 token from the organization's own issuer. */
export function circleciClaims(audience, org = crypto.randomUUID(), project = crypto.randomUUID(), overrides = {}) {
  const t = now();
  return {
    iss: `${ISSUERS.circleci}/org/${org}`,
    aud: audience,
    sub: `org/${org}/project/${project}/user/${crypto.randomUUID()}`,
    iat: t,
    exp: t + 3600,
    "oidc.circleci.com/org-id": org,
    "oidc.circleci.com/project-id": project,
    "oidc.circleci.com/pipeline-id": crypto.randomUUID(),
    "oidc.circleci.com/workflow-id": crypto.randomUUID(),
    "oidc.circleci.com/job-id": crypto.randomUUID(),
    "oidc.circleci.com/context-ids": [crypto.randomUUID()],
    "oidc.circleci.com/vcs-origin": "github.com/acme/app",
    "oidc.circleci.com/vcs-ref": "refs/heads/main",
    "oidc.circleci.com/ssh-rerun": false,
    ...overrides,
  };
}

/** A Buildkite step token; `job` fixes the organization and pipeline slugs. */
export function buildkiteClaims(audience, job = {}, overrides = {}) {
  const org = job.org ?? `org-${unique()}`;
  const pipeline = job.pipeline ?? `pipe-${unique()}`;
  const t = now();
  return {
    iss: ISSUERS.buildkite,
    aud: audience,
    sub: `organization:${org}:pipeline:${pipeline}:ref:refs/heads/main:commit:${"b".repeat(40)}:step:build`,
    jti: crypto.randomUUID(),
    iat: t,
    nbf: t,
    exp: t + 300,
    organization_slug: org,
    pipeline_slug: pipeline,
    build_number: 42,
    build_branch: "main",
    build_tag: null,
    build_commit: "b".repeat(40),
    step_key: "build",
    job_id: crypto.randomUUID(),
    agent_id: crypto.randomUUID(),
    build_source: "webhook",
    runner_environment: "buildkite-hosted",
    ...overrides,
  };
}

/** An RWX vault token (no jti: reusable until it expires). */
export function rwxClaims(audience, subject = `mint:${crypto.randomUUID()}:vault-${unique()}`, overrides = {}) {
  const t = now();
  return {
    iss: ISSUERS.rwx,
    aud: audience,
    sub: subject,
    iat: t,
    exp: t + 900,
    run_id: unique(),
    run_url: "https://cloud.rwx.com/mint/acme/runs/1",
    task_id: unique(),
    task_url: "https://cloud.rwx.com/mint/acme/tasks/1",
    ...overrides,
  };
}
