/**
 * Suggest (issue 10 §2): the tightest trust relationship that admits a given, validly
 * signed CI token, as a body ready to POST to `…/trust-relationships`, with one sentence
 * per choice and warnings where the token itself is a reason for care. A token whose names
 * no relationship could hold (a hand-made one) is refused as `claims_invalid`.
 *
 * Tightest means: the job's immutable IDs wherever the provider gives them, and every
 * stable claim that says which job this is (the exact ref, the called workflow, the
 * environment, the CircleCI VCS origin, the Buildkite step), never a per-run value (sha,
 * run IDs). Each choice says how to loosen it. Conditions are exact values, which a pattern
 * matches only as themselves (a value holding `*` would widen, so it is left out).
 *
 * Pure: a function of the verified token, the stages the verifier recorded, and this
 * service's audience. It checks its own output against the providers' relationship
 * schemas, and it neither reads nor writes anything (admin/suggest.ts runs the verifier).
 */
import * as z from "../schema";
import type { ProviderName } from "../config";
import { documentedOnly } from "../documented";
import { StsError } from "../errors";
import type { Claims, VerifiedToken } from "../providers/provider";
import { PROVIDERS } from "../providers/registry";
import type { StageResult } from "../providers/verify";
import { MAX_PATTERN_LENGTH } from "./conditions";

const WARNING_CODES = [
  "token_expired",
  "token_times",
  "audience_mismatch",
  "default_audience",
  "default_denied_event",
  "pull_request_ref",
  "fork_builds",
  "ids_missing",
  "value_left_out",
  "locked_vault",
] as const;

/** A sentence per choice, naming the body's field (`owner_id`, `conditions.ref`, …). */
const SuggestedChoice = /* @__PURE__ */ documentedOnly(() => z.object({ field: z.string(), text: z.string() }));
export type SuggestedChoice = z.infer<typeof SuggestedChoice>;

const SuggestionWarning = /* @__PURE__ */ documentedOnly(() => z.object({ code: z.enum(WARNING_CODES), text: z.string() }));
export type SuggestionWarning = z.infer<typeof SuggestionWarning>;

/** The suggest response. `trust_relationship` is a relationship body, ready to POST to /v1/projects/{project_id}/trust-relationships. */
export const Suggestion = /* @__PURE__ */ documentedOnly(() => z.object({
  trust_relationship: z.record(z.string(), z.unknown()),
  explanations: z.array(SuggestedChoice),
  warnings: z.array(SuggestionWarning),
}));
export type Suggestion = z.infer<typeof Suggestion>;

const MAX_DESCRIPTION_LENGTH = 500;

interface Builder {
  body: Record<string, unknown>;
  conditions: Record<string, string>;
  explanations: SuggestedChoice[];
  warnings: SuggestionWarning[];
}

export function suggestRelationship(token: VerifiedToken, stages: readonly StageResult[], audience: string): Suggestion {
  const b: Builder = { body: { provider: token.provider, mode: "enforce" }, conditions: {}, explanations: [], warnings: [] };
  b.explanations.push({
    field: "mode",
    text: `"enforce" admits matching tokens. To watch it first, POST it with "mode": "shadow": every exchange naming this job then records whether it would admit it, and nothing changes until you create it again in enforce mode.`,
  });
  switch (token.provider) {
    case "github":
      github(token, b);
      break;
    case "circleci":
      circleci(token, b, audience);
      break;
    case "buildkite":
      buildkite(token, b, audience);
      break;
    case "rwx":
      rwx(token, b);
      break;
  }
  if (Object.keys(b.conditions).length > 0) b.body.conditions = b.conditions;
  b.body.description = `Suggested from a ${token.provider} token of ${token.identity.lookupKey}`.slice(0, MAX_DESCRIPTION_LENGTH);
  b.warnings.push(...stageWarnings(token.provider, stages, audience));
  // The provider's own schema is the one POST applies: a value it would refuse never goes out.
  const provider = PROVIDERS[token.provider];
  const { provider: _p, mode: _m, conditions: _c, description: _d, ...subject } = b.body;
  const parsed = provider.relationshipSchema.safeParse(subject);
  if (!parsed.success) throw new StsError("claims_invalid", undefined, "names that no relationship may hold");
  return { trust_relationship: b.body, explanations: b.explanations, warnings: b.warnings };
}

/** Adds `claim` = its exact value as a condition, when the token carries it as a usable string. */
function exact(b: Builder, claims: Claims, claim: string, text: string): boolean {
  const value = claims[claim];
  if (typeof value !== "string" || value.length === 0) return false;
  if (value.includes("*") || value.length > MAX_PATTERN_LENGTH) {
    b.warnings.push({ code: "value_left_out", text: `${claim} is not a condition: its value ${value.length > MAX_PATTERN_LENGTH ? "is longer than a pattern may be" : "contains '*', which a pattern reads as a wildcard"}.` });
    return false;
  }
  b.conditions[claim] = value;
  b.explanations.push({ field: `conditions.${claim}`, text });
  return true;
}

function github(token: VerifiedToken, b: Builder): void {
  const c = token.claims;
  const [owner, repository] = String(c.repository).split("/") as [string, string];
  Object.assign(b.body, { owner, repository, owner_id: String(c.repository_owner_id), repository_id: String(c.repository_id) });
  b.explanations.push(
    { field: "owner/repository", text: `The repository the token names (compared without regard to case). Names can be re-registered by someone else once deleted or renamed; the IDs below cannot.` },
    { field: "owner_id", text: `The owner's immutable ID: a new account or organization registered under the name ${owner} later is refused.` },
    { field: "repository_id", text: `The repository's immutable ID: a repository re-created or transferred under the name ${owner}/${repository} is refused.` },
  );
  const enterprise = token.issuerTenant ?? (typeof c.enterprise === "string" ? c.enterprise.toLowerCase() : undefined);
  if (enterprise !== undefined && /^[a-z0-9][a-z0-9-]{0,62}$/.test(enterprise)) {
    b.body.enterprise = enterprise;
    b.explanations.push({
      field: "enterprise",
      text: token.issuerTenant
        ? `The token comes from enterprise ${enterprise}'s own issuer, which only relationships naming that enterprise accept.`
        : `The token says it belongs to enterprise ${enterprise}: tokens of the repository outside that enterprise are refused.`,
    });
  }
  const ref = typeof c.ref === "string" ? c.ref : "";
  if (exact(b, c, "ref", `Only this exact ref (${ref}). Use a pattern such as "refs/heads/*" or "refs/tags/v*" to admit more.`) && ref.startsWith("refs/pull/")) {
    b.warnings.push({
      code: "pull_request_ref",
      text: `The token is from a pull request (${ref}): this exact ref admits that pull request only. "refs/pull/*/merge" admits every pull request of this repository, including code not yet reviewed.`,
    });
  }
  exact(b, c, "job_workflow_ref", "Only this workflow file, at this ref: the workflow this job runs (for a reusable workflow, the called one). Another workflow of the repository, or this one changed on another branch, gets nothing.");
  if (typeof c.workflow_ref === "string" && c.workflow_ref !== c.job_workflow_ref) {
    exact(b, c, "workflow_ref", "The job runs a reusable workflow; this pins the caller, the workflow the run started from. Remove it to let any workflow of the repository call the reusable one.");
  }
  exact(b, c, "environment", "Only jobs running in this deployment environment, whose protection rules (reviewers, branches) GitHub enforces before the job gets its token.");
  const event = typeof c.event_name === "string" ? c.event_name : "";
  if (exact(b, c, "event_name", `Only ${event} runs. Remove it to admit other events on the same ref.`)) {
    if (PROVIDERS.github.defaultDenials(c).length > 0) {
      b.warnings.push({
        code: "default_denied_event",
        text: `${event} runs with this repository's identity while executing code a fork can control; it is denied unless a condition names it, and this suggestion names it. Keep it only if this workflow never hands the token to a pull request's code.`,
      });
    }
  }
}

function circleci(token: VerifiedToken, b: Builder, audience: string): void {
  const c = token.claims;
  const [org, project] = token.identity.lookupKey.split("/") as [string, string];
  Object.assign(b.body, { organization_uuid: org, project_uuid: project });
  b.explanations.push(
    { field: "organization_uuid", text: "The organization's UUID, from the token's issuer (organization names can change; UUIDs cannot)." },
    { field: "project_uuid", text: "The project's UUID (oidc.circleci.com/project-id)." },
  );
  if (exact(b, c, "oidc.circleci.com/vcs-origin", "Only builds of this repository. Fork builds that receive secrets keep the upstream organization and project but carry the fork's vcs-origin, so this refuses them.") === false) {
    b.warnings.push({ code: "fork_builds", text: "The token carries no oidc.circleci.com/vcs-origin: fork builds of this project cannot be told apart from the project's own." });
  }
  exact(b, c, "oidc.circleci.com/vcs-ref", "Only this exact ref. Use a pattern such as \"refs/heads/*\" to admit more.");
  if (c["oidc.circleci.com/ssh-rerun"] === true) {
    b.conditions["oidc.circleci.com/ssh-rerun"] = "true";
    b.explanations.push({ field: "conditions.oidc.circleci.com/ssh-rerun", text: "The token is from an SSH rerun, which is denied unless a condition names it." });
    b.warnings.push({ code: "default_denied_event", text: "This token is from a job rerun with SSH: a person had a shell in it. This suggestion admits such jobs; remove the ssh-rerun condition unless that is intended." });
  }
  if (token.defaultAudience) {
    b.body.accept_default_audience = true;
    b.explanations.push({ field: "accept_default_audience", text: "The token carries CircleCI's default audience (the organization UUID), as $CIRCLE_OIDC_TOKEN_V2 does; without this the relationship would refuse it." });
    b.warnings.push({
      code: "default_audience",
      text: `$CIRCLE_OIDC_TOKEN_V2 is handed to every service the job talks to, any of which could replay it here for an hour. Prefer a token for this service — circleci run oidc get --claims '{"aud":${JSON.stringify(audience)}}' — and leave accept_default_audience off.`,
    });
  }
}

function buildkite(token: VerifiedToken, b: Builder, audience: string): void {
  const c = token.claims;
  Object.assign(b.body, { organization_slug: c.organization_slug, pipeline_slug: c.pipeline_slug });
  b.explanations.push({ field: "organization_slug/pipeline_slug", text: "The pipeline the token names. Slugs can be renamed and taken; the UUIDs pin the real ones." });
  const ids: [field: string, claim: string][] = [["organization_uuid", "organization_id"], ["pipeline_uuid", "pipeline_id"]];
  const missing: string[] = [];
  for (const [field, claim] of ids) {
    if (typeof c[claim] === "string") {
      b.body[field] = c[claim];
      b.explanations.push({ field, text: `The ${claim} claim: a token without it, or with another, is refused from now on.` });
    } else {
      missing.push(claim);
    }
  }
  if (missing.length > 0) {
    b.warnings.push({
      code: "ids_missing",
      text: `The token carries no ${missing.join(" or ")}, so the pipeline is matched by its slugs only until a token that carries them pins them. Ask for them in every step: buildkite-agent oidc request-token --audience ${audience} --claim organization_id,pipeline_id`,
    });
  }
  exact(b, c, "build_branch", "Only builds of this branch. Use a pattern such as \"release-*\" to admit more.");
  exact(b, c, "build_tag", "Only builds of this tag.");
  exact(b, c, "step_key", "Only this step of the pipeline. Remove it to admit every step.");
  b.warnings.push({ code: "fork_builds", text: "Branch conditions do not protect pipelines that build forks: a fork's branch named like yours has the same build_branch. Keep fork builds off for such pipelines." });
}

function rwx(token: VerifiedToken, b: Builder): void {
  b.body.subject = token.identity.lookupKey;
  b.explanations.push({ field: "subject", text: "The vault's OIDC subject, compared exactly: RWX tokens name no repository or branch, the vault is the whole identity." });
  b.warnings.push({ code: "locked_vault", text: "Any run that can read this vault gets the token: use a locked vault for anything sensitive." });
}

/** What the stages after the signature said, turned into warnings: the suggestion is still sound, the token was not. */
function stageWarnings(provider: ProviderName, stages: readonly StageResult[], audience: string): SuggestionWarning[] {
  const warnings: SuggestionWarning[] = [];
  for (const s of stages) {
    if (!s.error) continue;
    if (s.stage === "times") {
      const expired = s.error.reason === "token_expired";
      warnings.push({
        code: expired ? "token_expired" : "token_times",
        text: expired
          ? "The token has expired. It was validly signed, so this suggestion holds for the job it came from; a fresh token from the same job is admitted."
          : "The token's times are outside what the exchange accepts (issued in the future, too old, or too long-lived); the suggestion holds, but this token would be refused.",
      });
    } else if (s.stage === "audience") {
      const line =
        provider === "github"
          ? `ask GitHub for the ID token with audience=${audience}`
          : provider === "circleci"
            ? `circleci run oidc get --claims '{"aud":${JSON.stringify(audience)}}'`
            : provider === "buildkite"
              ? `buildkite-agent oidc request-token --audience ${audience}`
              : `set the vault token's audience to ${audience}`;
      warnings.push({ code: "audience_mismatch", text: `The token's audience is not this service's, so the exchange refuses it whatever the relationship says: ${line}.` });
    }
  }
  return warnings;
}
