/** Types for ci-claims.mjs: the fields each builder always sets, plus whatever overrides add. */
type Overrides = Record<string, unknown>;

interface BaseClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  exp: number;
  [claim: string]: unknown;
}

export interface GithubClaims extends BaseClaims {
  jti: string;
  nbf: number;
  repository: string;
  repository_id: string;
  repository_owner: string;
  repository_owner_id: string;
  repository_visibility: string;
  ref: string;
  ref_type: string;
  sha: string;
  workflow: string;
  workflow_ref: string;
  job_workflow_ref: string;
  event_name: string;
  run_id: string;
  run_attempt: string;
  runner_environment: string;
}

export interface CircleciClaims extends BaseClaims {
  "oidc.circleci.com/org-id": string;
  "oidc.circleci.com/project-id": string;
  "oidc.circleci.com/ssh-rerun": boolean;
}

export interface BuildkiteClaims extends BaseClaims {
  jti: string;
  nbf: number;
  organization_slug: string;
  pipeline_slug: string;
  build_number: number;
  build_branch: string;
}

export interface RwxClaims extends BaseClaims {
  run_id: string;
  task_id: string;
}

export declare const ISSUERS: {
  readonly github: "https://token.actions.githubusercontent.com";
  readonly circleci: "https://oidc.circleci.com";
  readonly buildkite: "https://agent.buildkite.com";
  readonly rwx: "https://cloud.rwx.com/mint";
};
export declare function githubClaims(
  audience: string,
  job?: { owner?: string; repository?: string; ownerId?: string; repositoryId?: string },
  overrides?: Overrides,
): GithubClaims;
export declare function circleciClaims(audience: string, org?: string, project?: string, overrides?: Overrides): CircleciClaims;
export declare function buildkiteClaims(audience: string, job?: { org?: string; pipeline?: string }, overrides?: Overrides): BuildkiteClaims;
export declare function rwxClaims(audience: string, subject?: string, overrides?: Overrides): RwxClaims;
