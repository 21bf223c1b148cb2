/**
 * GitHub Actions ID tokens.
 *
 * Identity is the repository, matched by its names (case-insensitively) and by the
 * immutable `repository_owner_id`/`repository_id`, pinned from the first verified token
 * when not given, so a re-registered owner or repository with the same names is refused.
 * `sub` is never parsed: repositories choose its shape.
 */
import * as z from "../schema";
import { claimValue, newPins, pickClaims, type Claims, type IdentityCheck, type Provider } from "./provider";

// An enterprise slug as relationships may spell it (compared in lower case), and as an
// issuer URL must spell it: canonical lower case only, so each enterprise has one issuer
// URL and case variants of it cost nothing (no D1 read, no discovery fetch). No `i` flag:
// a JSON Schema pattern has no flags, and the OpenAPI document shows this one.
const ENTERPRISE_SLUG = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})$/;
const ISSUER_ENTERPRISE_SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62})$/;
const NUMERIC_ID = z.string().check(z.regex(/^[1-9][0-9]{0,19}$/));
// GitHub's owner and repository name alphabets (repository names also allow '.').
const OWNER = z.string().check(z.regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/, "must be a GitHub owner name"));
const REPOSITORY = z.string().check(z.regex(/^[A-Za-z0-9._-]{1,100}$/, "must be a repository name without the owner"));

const claims = z.looseObject({
  sub: z.string().check(z.minLength(1)),
  repository: z.string().check(z.regex(/^[^/\s]+\/[^/\s]+$/)),
  repository_id: NUMERIC_ID,
  repository_owner: z.string().check(z.minLength(1)),
  repository_owner_id: NUMERIC_ID,
  event_name: z.optional(z.string()),
  enterprise: z.optional(z.string()),
});

const relationship = z.strictObject({
  owner: OWNER,
  repository: REPOSITORY,
  owner_id: z.optional(NUMERIC_ID),
  repository_id: z.optional(NUMERIC_ID),
  enterprise: z.optional(z.string().check(z.regex(ENTERPRISE_SLUG, "must be an enterprise slug"))),
});
type GitHubSubject = z.infer<typeof relationship>;

// Events that run with the base repository's identity while executing a fork's code.
const DENIED_EVENTS = new Set(["pull_request_target", "workflow_run"]);

export const github: Provider<GitHubSubject> = {
  name: "github",
  matchIssuer(iss, base) {
    if (iss === base) return "";
    if (!iss.startsWith(base + "/")) return null;
    const slug = iss.slice(base.length + 1);
    return ISSUER_ENTERPRISE_SLUG.test(slug) ? slug : null;
  },
  maxLifetimeSeconds: 3600,
  maxAgeSeconds: 3600,
  claims,
  conditionClaims: [
    "sub", "repository", "repository_id", "repository_owner", "repository_owner_id",
    "repository_visibility", "ref", "ref_type", "ref_protected", "sha", "workflow", "workflow_ref",
    "workflow_sha", "job_workflow_ref", "job_workflow_sha", "event_name", "head_ref", "base_ref",
    "environment", "run_id", "run_number", "run_attempt", "actor", "actor_id", "runner_environment",
    "enterprise", "enterprise_id", "repo_property_*",
  ],
  identify: (c, tenant) => ({ lookupKey: String(c.repository).toLowerCase(), issuerTenant: tenant }),
  keyFetchNeedsRelationship: (tenant) => tenant !== "",
  // The owner's immutable ID: a renamed owner keeps its budget, a re-registered name gets its own.
  owner: (c) => String(c.repository_owner_id),
  defaultAudience: () => null,
  acceptsDefaultAudience: () => false,
  defaultDenials(c) {
    const event = c.event_name;
    return typeof event === "string" && DENIED_EVENTS.has(event) ? [{ claim: "event_name", value: event }] : [];
  },
  provenance: (c: Claims) =>
    pickClaims(c, [
      "repository", "repository_id", "repository_owner", "repository_owner_id", "ref", "sha",
      "workflow_ref", "job_workflow_ref", "event_name", "environment", "run_id", "run_attempt",
      "runner_environment",
    ]),

  relationshipSchema: relationship,
  relationshipIdentity: (s) => ({
    lookupKey: `${s.owner}/${s.repository}`.toLowerCase(),
    issuerTenant: s.enterprise?.toLowerCase() ?? "",
  }),
  matchRelationship(s, token) {
    const c = token.claims;
    const checks: IdentityCheck[] = [
      // The verified `repository` is "owner/name", so this is the lookup key's comparison.
      {
        check: "identity",
        field: "owner/repository",
        claim: "repository",
        expected: `${s.owner}/${s.repository}`,
        actual: c.repository,
        pass: token.identity.lookupKey === `${s.owner}/${s.repository}`.toLowerCase(),
      },
    ];
    // An enterprise issuer is accepted only by a relationship naming that enterprise, and a
    // relationship naming an enterprise accepts only tokens of that enterprise.
    if (token.issuerTenant) {
      checks.push({
        check: "enterprise",
        field: "enterprise",
        claim: "iss",
        expected: s.enterprise ?? null,
        actual: token.issuerTenant,
        pass: token.issuerTenant === s.enterprise?.toLowerCase(),
      });
    }
    if (s.enterprise) {
      checks.push({
        check: "enterprise",
        field: "enterprise",
        claim: "enterprise",
        expected: s.enterprise,
        actual: claimValue(c, "enterprise"),
        pass: String(c.enterprise ?? "").toLowerCase() === s.enterprise.toLowerCase(),
      });
    }
    const ownerId = String(c.repository_owner_id);
    const repositoryId = String(c.repository_id);
    if (s.owner_id !== undefined) {
      checks.push({ check: "pinned_id", field: "owner_id", claim: "repository_owner_id", expected: s.owner_id, actual: ownerId, pass: s.owner_id === ownerId });
    }
    if (s.repository_id !== undefined) {
      checks.push({ check: "pinned_id", field: "repository_id", claim: "repository_id", expected: s.repository_id, actual: repositoryId, pass: s.repository_id === repositoryId });
    }
    const pins = newPins([["owner_id", s.owner_id, ownerId], ["repository_id", s.repository_id, repositoryId]]);
    return pins ? { checks, pins } : { checks };
  },
};
