/**
 * Explain (issue 10 §1): the whole story of one subject token against one project, for the
 * project's admins: every verification stage with its checks, every relationship of the
 * project (enforce and shadow) with every check, expected vs actual, hints for the pitfalls
 * each CI is known for, and what `POST /token` with this project as `audience` would answer.
 *
 * Pure, and a renderer only: the stages are the verifier's own record (`inspectIdToken`),
 * the relationship checks the trust trace (`traceRelationships`), and the predicted answer
 * is `authorize`'s verdict on that trace, so explain cannot drift from the exchange. It
 * reads and writes nothing (admin/explain.ts does the I/O) and says nothing about other
 * projects: it sees only this project's relationships, and with an audience the exchange
 * never routes.
 */
import * as z from "../schema";
import type { ProviderName } from "../config";
import { documentedOnly } from "../documented";
import { StsError, toWire } from "../errors";
import { PROVIDER_NAMES, providerForIssuer } from "../providers/registry";
import { unusedCheck, type Inspection, type Stage, type StageCheck, type StageResult } from "../providers/verify";
import {
  authorize,
  shadowRecord,
  shadowVerdicts,
  traceRelationships,
  type CheckResult,
  RELATIONSHIP_MODES,
  type Evaluation,
  type ShadowRecord,
  type TrustRelationship,
} from "./authorize";
import { claimStrings, conditionHolds, matchesPattern } from "./conditions";

const STAGES = ["format", "header", "issuer", "key", "signature", "times", "claims", "audience", "replay"] as const satisfies readonly Stage[];

export const HINT_CODES = [
  "case_differs",
  "caller_vs_called_workflow",
  "pinned_id_differs",
  "buildkite_uuid_claims_missing",
  "default_denied_event",
  "default_audience_not_accepted",
  "audience_mismatch",
  "claim_absent",
  "enterprise_issuer",
  "issuer_not_named",
  "keys_unavailable",
  "key_unknown",
  "signature_invalid",
  "token_expired",
  "token_not_yet_valid",
  "token_too_old",
  "token_lifetime_too_long",
  "claims_invalid",
  "token_replayed",
] as const;
export type HintCode = (typeof HINT_CODES)[number];

// The response's schemas: what the OpenAPI document shows, and the types this file builds.

/** What to look at, and where there is one, the line or relationship field to change. */
const Hint = /* @__PURE__ */ documentedOnly(() => z.object({ code: z.enum(HINT_CODES), message: z.string(), fix: z.optional(z.string()) }));
export type Hint = z.infer<typeof Hint>;

/**
 * One check. Relationship checks also name the relationship's `field` and the token's
 * `claim` compared. `expected`: for a stage, what it requires; for a relationship, its value
 * (a condition's pattern; null when it sets none). `actual`: the token's value as it
 * carried it (null when absent).
 */
const ExplainedCheck = /* @__PURE__ */ documentedOnly(() => z.object({
  check: z.string(),
  field: z.optional(z.string()),
  claim: z.optional(z.string()),
  expected: z.unknown(),
  actual: z.unknown(),
  pass: z.boolean(),
  hints: z.array(Hint),
}));
export type ExplainedCheck = z.infer<typeof ExplainedCheck>;

/** What `POST /token` answers, as the wire says it. */
const WireAnswer = /* @__PURE__ */ documentedOnly(() => z.object({ status: z.number().check(z.int()), error: z.nullable(z.string()), error_description: z.nullable(z.string()) }));
export type WireAnswer = z.infer<typeof WireAnswer>;

/** `skipped`: not run, because an earlier stage that proves the token's origin failed; `refusal`: the exchange's, for a failed stage. */
const ExplainedStage = /* @__PURE__ */ documentedOnly(() => z.object({ stage: z.enum(STAGES), result: z.enum(["pass", "fail", "skipped"]), checks: z.array(ExplainedCheck), refusal: z.nullable(WireAnswer) }));
export type ExplainedStage = z.infer<typeof ExplainedStage>;

/**
 * `result` `not_evaluated`: the token did not verify far enough for its claims to mean
 * anything. `failed_check`: the verdict, the first failing check. `would_pin`: the IDs this
 * token would pin on it if it granted.
 */
const ExplainedRelationship = /* @__PURE__ */ documentedOnly(() => z.object({
  id: z.string(),
  provider: z.string(),
  mode: z.enum(RELATIONSHIP_MODES),
  description: z.string(),
  result: z.enum(["admits", "refuses", "not_evaluated"]),
  failed_check: z.nullable(z.string()),
  checks: z.array(ExplainedCheck),
  would_pin: z.nullable(z.record(z.string(), z.string())),
}));
export type ExplainedRelationship = z.infer<typeof ExplainedRelationship>;

/** The explain response. `exchange`: what `POST /token` with `audience` = this project would answer now (rate limits aside). */
export const Explanation = /* @__PURE__ */ documentedOnly(() => z.object({
  project_id: z.string(),
  /** Unix seconds: the "now" every time check used. */
  evaluated_at: z.number().check(z.int()),
  /** Decoded, once the token is a well-formed JWS; `signature_verified` says whether the claims prove anything. */
  token: z.object({
    header: z.nullable(z.record(z.string(), z.unknown())),
    claims: z.nullable(z.record(z.string(), z.unknown())),
    provider: z.nullable(z.enum(PROVIDER_NAMES)),
    signature_verified: z.boolean(),
  }),
  verification: z.array(ExplainedStage),
  relationships: z.array(ExplainedRelationship),
  exchange: z.extend(WireAnswer, {
    relationship_id: z.nullable(z.string()),
    would_pin: z.nullable(z.record(z.string(), z.string())),
    shadow: z.array(z.object({ relationship_id: z.string(), result: z.enum(["would_admit", "would_refuse"]), reason: z.nullable(z.string()) })),
    retry_after: z.nullable(z.number().check(z.int())),
  }),
}));
export type Explanation = z.infer<typeof Explanation>;

export interface ExplainInput {
  projectId: string;
  now: number;
  /** AUDIENCE: the `aud` a CI ID token must carry here (public: it is in the discovery document). */
  audience: string;
  issuers: Record<ProviderName, string>;
  inspection: Inspection;
  /** Every relationship of the project. */
  relationships: readonly (TrustRelationship & { description: string })[];
  /** Whether the token's replay record exists (read, never written). */
  usedBefore: boolean;
  /** The exchange refuses before anything else when the signing keys are not configured. */
  signingKeysConfigured: boolean;
}

export function explain(input: ExplainInput): Explanation {
  const { inspection } = input;
  const token = inspection.token;
  const stages = withReplayStatus(inspection.stages, input);
  const trace = token ? traceRelationships(token, { relationships: input.relationships, ambiguous: false }) : undefined;
  const target = { audience: input.projectId, scope: undefined };
  const ctx: HintContext = { input, provider: inspection.provider, claims: token?.claims ?? inspection.payload ?? {} };

  const byStage = new Map(stages.map((s) => [s.stage, s]));
  const verification = STAGES.map((name): ExplainedStage => {
    const result = byStage.get(name);
    if (!result) return { stage: name, result: "skipped", checks: [], refusal: null };
    return {
      stage: name,
      result: result.error ? "fail" : "pass",
      checks: result.checks.map((check) => ({ ...check, hints: check.pass ? [] : stageHints(name, check, result, ctx) })),
      refusal: result.error ? wire(result.error) : null,
    };
  });

  const evaluations = new Map((trace?.evaluations ?? []).map((e) => [e.relationship.id, e]));
  const relationships = input.relationships.map((r): ExplainedRelationship => {
    const evaluation = evaluations.get(r.id);
    const base = { id: r.id, provider: r.provider, mode: r.mode, description: r.description };
    if (!evaluation) return { ...base, result: "not_evaluated", failed_check: null, checks: [], would_pin: null };
    return {
      ...base,
      result: evaluation.admits ? "admits" : "refuses",
      failed_check: evaluation.admits ? null : evaluation.failed,
      checks: evaluation.checks.map((check) => ({ ...check, hints: check.pass ? [] : relationshipHints(check, evaluation, ctx) })),
      would_pin: (evaluation.admits && evaluation.pins) || null,
    };
  });

  return {
    project_id: input.projectId,
    evaluated_at: input.now,
    token: {
      header: inspection.header ?? null,
      claims: inspection.payload ?? null,
      provider: inspection.provider ?? null,
      signature_verified: stages.some((s) => s.stage === "signature" && !s.error),
    },
    verification,
    relationships,
    exchange: predictAnswer(input, stages, trace, target),
  };
}

/** The replay stage ends with the exchange's own question, asked here as a read. */
function withReplayStatus(stages: readonly StageResult[], input: ExplainInput): StageResult[] {
  const token = input.inspection.token;
  if (!token) return [...stages];
  return stages.map((s) => {
    if (s.stage !== "replay") return s;
    const unused = unusedCheck(token, input.usedBefore);
    return { ...s, checks: [...s.checks, unused], ...(s.error ? {} : unused.pass ? {} : { error: new StsError("token_replayed") }) };
  });
}

/** The exchange's order: configuration, then each stage, then the replay record, then the relationships' verdict. */
function predictAnswer(input: ExplainInput, stages: readonly StageResult[], trace: ReturnType<typeof traceRelationships> | undefined, target: { audience: string; scope: undefined }): Explanation["exchange"] {
  const none = { relationship_id: null, would_pin: null, shadow: [] as ShadowRecord[], retry_after: null };
  if (!input.signingKeysConfigured) return { ...wire(new StsError("signing_keys_missing")), ...none };
  const failed = stages.find((s) => s.error);
  const shadow = trace ? shadowVerdicts(trace, target).map(shadowRecord) : [];
  if (failed?.error) {
    // The exchange reads the relationships (and so records shadow verdicts) only once the
    // token verified: of the refusals here, only a replay comes after that read.
    const recorded = failed.error.reason === "token_replayed" ? shadow : [];
    return { ...wire(failed.error), ...none, shadow: recorded, retry_after: retryAfterOf(failed.error) };
  }
  // Every stage passed, so the token verified and `trace` exists.
  try {
    const grant = authorize(trace!, target);
    return { status: 200, error: null, error_description: null, relationship_id: grant.relationship.id, would_pin: grant.pins ?? null, shadow, retry_after: null };
  } catch (error) {
    if (!(error instanceof StsError)) throw error;
    return { ...wire(error), ...none, shadow };
  }
}

function wire(error: StsError): WireAnswer {
  const answer = toWire(error.reason, error.detail);
  return { status: answer.status, error: answer.error, error_description: answer.description };
}

function retryAfterOf(error: StsError): number | null {
  const answer = toWire(error.reason, error.detail);
  if (answer.retryAfter === undefined) return null;
  return error.retryAfter ?? answer.retryAfter;
}

// ---------- hints ----------

interface HintContext {
  input: ExplainInput;
  provider: ProviderName | undefined;
  claims: Record<string, unknown>;
}

const code = (value: unknown): string => JSON.stringify(value);

function stageHints(stage: Stage, check: StageCheck, result: StageResult, ctx: HintContext): Hint[] {
  const { input } = ctx;
  switch (stage) {
    case "issuer": {
      const iss = typeof check.actual === "string" ? check.actual : "";
      if (iss !== iss.toLowerCase() && providerForIssuer(iss.toLowerCase(), input.issuers)) {
        return [{ code: "case_differs", message: `The issuer differs from a supported one only in letter case: per-tenant issuers (a CircleCI organization, a GitHub enterprise) are accepted in canonical lower case only.` }];
      }
      return [];
    }
    case "key":
      return keyHints(result, ctx);
    case "signature":
      return [{ code: "signature_invalid", message: "The signature does not verify with the issuer's key: the token was altered or not issued by this issuer. Its claims prove nothing, so no relationship was evaluated." }];
    case "times":
      return timeHints(check, ctx);
    case "claims":
      return [{ code: "claims_invalid", message: `The token lacks a claim this provider always issues, or carries one with the wrong type (${code(check.actual)}). A token from the real CI has them all: it was probably made by hand.` }];
    case "audience":
      return [audienceHint(check, ctx)];
    case "replay":
      if (check.check === "unused") {
        return [{ code: "token_replayed", message: "This token's jti was exchanged before; a token with a jti is exchanged once. Request a new ID token for each exchange." }];
      }
      return [];
    default:
      return [];
  }
}

function keyHints(result: StageResult, ctx: HintContext): Hint[] {
  const reason = result.error?.reason;
  if (reason === "target_invalid") {
    const what = ctx.provider === "circleci" ? "this CircleCI organization's" : "this GitHub enterprise's";
    const names = ctx.provider === "circleci" ? "its organization_uuid and project_uuid" : "its repository and `enterprise`";
    return [{
      code: "issuer_not_named",
      message: `Keys of ${what} issuer are fetched only once a relationship of this project names ${names}; none does, so the token could not be verified. Create that relationship (POST …/trust-relationships/suggest proposes one), then explain again.`,
    }];
  }
  if (reason === "keys_unavailable") {
    return [{ code: "keys_unavailable", message: `The issuer's keys cannot be had right now (it is down, answering garbage, or was asked moments ago). The exchange answers 503 and a retry after ${result.error?.retryAfter ?? "a few"} s can succeed.` }];
  }
  if (reason === "key_unknown") {
    return [{ code: "key_unknown", message: "The issuer does not publish the key this token names (kid): the token was not signed by this issuer, or with a key it has retired." }];
  }
  return [];
}

function timeHints(check: StageCheck, ctx: HintContext): Hint[] {
  const now = ctx.input.now;
  const actual = typeof check.actual === "number" ? check.actual : undefined;
  switch (check.check) {
    case "exp": {
      const ago = actual === undefined ? "" : ` ${now - actual} s ago`;
      const circleci = ctx.provider === "circleci" ? " $CIRCLE_OIDC_TOKEN_V2 is made when the job starts: in a long job ask for a fresh one with `circleci run oidc get`." : "";
      return [{ code: "token_expired", message: `The token expired${ago}. Request the ID token in the step that exchanges it, right before the exchange.${circleci}` }];
    }
    case "iat":
    case "nbf":
      return [{ code: "token_not_yet_valid", message: "The token claims to be issued, or valid, in the future: the runner's clock or this service's is off by more than 60 s." }];
    case "age":
      return [{ code: "token_too_old", message: "The token was issued more than an hour ago. Request a fresh ID token right before the exchange." }];
    case "lifetime": {
      const fix = ctx.provider === "buildkite" ? `buildkite-agent oidc request-token --audience ${ctx.input.audience} --lifetime 300` : undefined;
      return [{ code: "token_lifetime_too_long", message: "The token is valid for longer than this provider's tokens may be (1 h).", ...(fix ? { fix } : {}) }];
    }
    default:
      return [];
  }
}

/** The line to change in the job's CI so its ID token carries this service's audience. */
function audienceFix(provider: ProviderName | undefined, audience: string): { where: string; fix: string } | undefined {
  switch (provider) {
    case "github":
      return {
        where: "GitHub: ask for the ID token with `audience=` (or `core.getIDToken(\"…\")` in a JavaScript action)",
        fix: `curl -sSf -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=${audience}"`,
      };
    case "circleci":
      return { where: "CircleCI: ask for a token with this audience instead of using $CIRCLE_OIDC_TOKEN_V2", fix: `circleci run oidc get --claims '{"aud":${JSON.stringify(audience)}}'` };
    case "buildkite":
      return { where: "Buildkite: pass --audience to the agent", fix: `buildkite-agent oidc request-token --audience ${audience}` };
    case "rwx":
      return { where: "RWX: the audience is set per token in the vault; set it on the vault's OIDC token", fix: `audience: ${audience}` };
    default:
      return undefined;
  }
}

function audienceHint(check: StageCheck, ctx: HintContext): Hint {
  const several = Array.isArray(check.actual) && check.actual.length > 1;
  const line = audienceFix(ctx.provider, ctx.input.audience);
  const why = several ? "The token carries several audiences; it must carry exactly one, this service's" : `The token's audience ${code(check.actual)} is not this service's (${ctx.input.audience})`;
  return { code: "audience_mismatch", message: line ? `${why}. ${line.where}.` : `${why}.`, ...(line ? { fix: line.fix } : {}) };
}

const WORKFLOW_PAIRS: Record<string, string> = {
  workflow_ref: "job_workflow_ref",
  job_workflow_ref: "workflow_ref",
  workflow_sha: "job_workflow_sha",
  job_workflow_sha: "workflow_sha",
};

function relationshipHints(check: CheckResult, evaluation: Evaluation, ctx: HintContext): Hint[] {
  const hints: Hint[] = [];
  const provider = evaluation.relationship.provider;
  if (differsOnlyInCase(check)) {
    hints.push({ code: "case_differs", message: `${code(check.expected)} and ${code(check.actual)} differ only in letter case; ${check.field} is compared exactly.` });
  }
  switch (check.check) {
    case "conditions": {
      const pattern = String(check.expected);
      const other = WORKFLOW_PAIRS[check.claim];
      if (provider === "github" && other && conditionHolds(pattern, other, ctx.claims)) hints.push(workflowHint(check.claim, other, pattern));
      if (check.actual === null) {
        const note = provider === "github" && check.claim === "environment" ? " GitHub sets `environment` only for jobs that declare one." : "";
        hints.push({ code: "claim_absent", message: `The token carries no ${code(check.claim)} claim, so no pattern holds for it.${note}` });
      }
      break;
    }
    case "pinned_id":
      hints.push(pinnedHint(check, evaluation, ctx));
      break;
    case "enterprise":
      hints.push({
        code: "enterprise_issuer",
        message:
          check.claim === "iss"
            ? `This token comes from the issuer of GitHub enterprise ${code(check.actual)}: only a relationship naming "enterprise": ${code(check.actual)} accepts it.`
            : `This relationship accepts only tokens of enterprise ${code(check.expected)}; the token's enterprise claim is ${code(check.actual)}.`,
      });
      break;
    case "default_audience":
      hints.push({
        code: "default_audience_not_accepted",
        message:
          "The token carries CircleCI's default audience, the organization UUID, as $CIRCLE_OIDC_TOKEN_V2 does. CircleCI hands that same token to every service the job talks to, any of which could replay it here for an hour, so it is admitted only by relationships that set accept_default_audience. Better: ask CircleCI for a token with this service's audience.",
        fix: `circleci run oidc get --claims '{"aud":${JSON.stringify(ctx.input.audience)}}'`,
      });
      break;
    case "default_denial":
      hints.push(denialHint(check));
      break;
  }
  return hints;
}

function differsOnlyInCase(check: CheckResult): boolean {
  if (check.pass || typeof check.expected !== "string") return false;
  if (check.check === "conditions") {
    const pattern = check.expected.toLowerCase();
    return claimStrings(check.actual).some((value) => matchesPattern(pattern, value.toLowerCase()));
  }
  return typeof check.actual === "string" && check.expected.toLowerCase() === check.actual.toLowerCase();
}

function workflowHint(claim: string, other: string, pattern: string): Hint {
  const caller = claim.startsWith("workflow_");
  const message = caller
    ? `${claim} names the caller: the workflow the run started from. The reusable workflow it called is ${other}, and that matches this pattern. To trust the reusable workflow whoever calls it, put the pattern on ${other}.`
    : `${claim} names the workflow this job runs (for a reusable workflow, the called one); this pattern matches ${other}, the caller the run started from. To trust the calling workflow, put the pattern on ${other}.`;
  return { code: "caller_vs_called_workflow", message, fix: `"conditions": { ${code(other)}: ${code(pattern)} }` };
}

function pinnedHint(check: CheckResult, evaluation: Evaluation, ctx: HintContext): Hint {
  const subject = evaluation.relationship.subject;
  if (evaluation.relationship.provider === "buildkite" && check.actual === null) {
    return {
      code: "buildkite_uuid_claims_missing",
      message: `This relationship has ${check.field} pinned, and the token carries no ${check.claim} claim: Buildkite adds organization_id and pipeline_id only when the job asks for them. Once pinned, a token without them is refused, so that leaving a claim out is no way around the pin.`,
      fix: `buildkite-agent oidc request-token --audience ${ctx.input.audience} --claim organization_id,pipeline_id`,
    };
  }
  const what =
    check.field === "owner_id"
      ? `The owner ${code(subject.owner)} now has ID ${code(check.actual)}, but ${code(check.expected)} is pinned: the account or organization was deleted and its name registered again, or renamed and the name taken by another.`
      : check.field === "repository_id"
        ? `The repository ${code(`${subject.owner}/${subject.repository}`)} now has ID ${code(check.actual)}, but ${code(check.expected)} is pinned: it was deleted and created again, or renamed or transferred and another repository took the name.`
        : `The ${check.field === "organization_uuid" ? "organization" : "pipeline"} behind this slug now has UUID ${code(check.actual)}, but ${code(check.expected)} is pinned: it was deleted and created again, or its slug was taken by another.`;
  return {
    code: "pinned_id_differs",
    message: `${what} If you trust what is behind the name now, delete this relationship and create it again (without IDs they are pinned from the next exchange).`,
  };
}

function denialHint(check: CheckResult): Hint {
  const value = String(check.actual);
  const why =
    check.claim === "event_name"
      ? `GitHub's ${value} event runs with this repository's identity while executing code that a fork can control, so it is denied by default.`
      : check.claim === "oidc.circleci.com/ssh-rerun"
        ? "This job was rerun with SSH: a person had a shell in it, so it is denied by default."
        : `${check.claim} = ${value} is denied by default.`;
  const pattern = check.expected === null ? "" : ` The condition ${code(check.expected)} matches it but does not name it: a pattern never lifts a default denial.`;
  return {
    code: "default_denied_event",
    message: `${why}${pattern} Only a condition naming the value exactly lifts it; add it only if this job never hands the token to code it did not review.`,
    fix: `"conditions": { ${code(check.claim)}: ${code(value)} }`,
  };
}
