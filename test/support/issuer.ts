/**
 * Test-side client of the fake CI issuer at the network edge, and realistic claim sets
 * for each provider. Tokens are real RS256 JWTs signed by the issuer's own key.
 */
export const ISSUERS = {
  github: "https://token.actions.githubusercontent.com",
  circleci: "https://oidc.circleci.com",
  buildkite: "https://agent.buildkite.com",
  rwx: "https://cloud.rwx.com/mint",
} as const;

export const AUDIENCE = "https://sts.test";
const CONTROL = "http://fake-issuer.control/__control";

async function control<T>(action: string, body: Record<string, unknown>): Promise<T> {
  const response = await fetch(`${CONTROL}/${action}`, { method: "POST", body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`fake issuer ${action} failed: ${response.status}`);
  return response.json() as Promise<T>;
}

export async function signToken(issuer: string, claims: Record<string, unknown>, header?: Record<string, unknown>, kid?: string) {
  return (await control<{ token: string }>("sign", { issuer, claims, header, kid })).token;
}

export type Fault =
  | "ok" | "down" | "hang" | "html" | "empty-object" | "empty-keys" | "huge" | "redirect" | "wrong-issuer" | "foreign-jwks-uri" | "throw";

export const setFault = (issuer: string, mode: Fault) => control("fault", { issuer, mode });
export const rotateKey = (issuer: string, keep = false) => control<{ kid: string }>("rotate", { issuer, keep });
export const publicKey = (issuer: string) => control<{ kid: string; jwk: JsonWebKey & { kid: string } }>("key", { issuer });
export const issuerRequests = async (issuer: string) => (await control<{ requests: number }>("stats", { issuer })).requests;

export const now = () => Math.floor(Date.now() / 1000);
export const uuid = () => crypto.randomUUID();
const digits = () => String(100000 + Math.floor(Math.random() * 899999999));
const unique = () => Math.random().toString(36).slice(2, 10);

/** A GitHub Actions push token for a fresh repository. */
export function githubClaims(overrides: Record<string, unknown> = {}) {
  const owner = `octo-${unique()}`;
  const repo = `repo-${unique()}`;
  const t = now();
  return {
    iss: ISSUERS.github,
    aud: AUDIENCE,
    sub: `repo:${owner}/${repo}:ref:refs/heads/main`,
    jti: uuid(),
    iat: t,
    nbf: t - 600,
    exp: t + 300,
    repository: `${owner}/${repo}`,
    repository_id: digits(),
    repository_owner: owner,
    repository_owner_id: digits(),
    repository_visibility: "private",
    ref: "refs/heads/main",
    ref_type: "branch",
    sha: "a".repeat(40),
    workflow: "ci",
    workflow_ref: `${owner}/${repo}/.github/workflows/ci.yml@refs/heads/main`,
    job_workflow_ref: `${owner}/${repo}/.github/workflows/ci.yml@refs/heads/main`,
    event_name: "push",
    run_id: digits(),
    run_attempt: "1",
    runner_environment: "github-hosted",
    ...overrides,
  };
}

/** A CircleCI V2 token from a per-org issuer, with our audience. */
export function circleciClaims(org = uuid(), project = uuid(), overrides: Record<string, unknown> = {}) {
  const t = now();
  return {
    iss: `${ISSUERS.circleci}/org/${org}`,
    aud: AUDIENCE,
    sub: `org/${org}/project/${project}/user/${uuid()}`,
    iat: t,
    exp: t + 3600,
    "oidc.circleci.com/org-id": org,
    "oidc.circleci.com/project-id": project,
    "oidc.circleci.com/pipeline-id": uuid(),
    "oidc.circleci.com/workflow-id": uuid(),
    "oidc.circleci.com/job-id": uuid(),
    "oidc.circleci.com/context-ids": [uuid()],
    "oidc.circleci.com/vcs-origin": "github.com/acme/app",
    "oidc.circleci.com/vcs-ref": "refs/heads/main",
    "oidc.circleci.com/ssh-rerun": false,
    ...overrides,
  };
}

export function buildkiteClaims(overrides: Record<string, unknown> = {}) {
  const org = `org-${unique()}`;
  const pipeline = `pipe-${unique()}`;
  const t = now();
  return {
    iss: ISSUERS.buildkite,
    aud: AUDIENCE,
    sub: `organization:${org}:pipeline:${pipeline}:ref:refs/heads/main:commit:${"b".repeat(40)}:step:build`,
    jti: uuid(),
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
    job_id: uuid(),
    agent_id: uuid(),
    build_source: "webhook",
    runner_environment: "buildkite-hosted",
    ...overrides,
  };
}

export function rwxClaims(overrides: Record<string, unknown> = {}) {
  const t = now();
  return {
    iss: ISSUERS.rwx,
    aud: AUDIENCE,
    sub: `mint:${uuid()}:vault-${unique()}`,
    iat: t,
    exp: t + 900,
    run_id: unique(),
    run_url: "https://cloud.rwx.com/mint/acme/runs/1",
    task_id: unique(),
    task_url: "https://cloud.rwx.com/mint/acme/tasks/1",
    ...overrides,
  };
}
