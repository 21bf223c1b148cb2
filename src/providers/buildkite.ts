/**
 * Buildkite ID tokens.
 *
 * Identity is the organization and pipeline slugs. Slugs are mutable, so when a token
 * carries `organization_id`/`pipeline_id` (the job asked with `--claim`), they are pinned
 * like GitHub's IDs; once pinned, a token without them is refused, since leaving a claim
 * out must not be a way around the pin.
 */
import * as z from "../schema";
import { claimValue, newPins, pickClaims, UUID_PATTERN, type IdentityCheck, type Provider } from "./provider";

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,99})$/;
const uuid = z.string().check(z.regex(UUID_PATTERN, "must be a lowercase UUID"));

const claims = z.looseObject({
  sub: z.string().check(z.minLength(1)),
  organization_slug: z.string().check(z.regex(SLUG)),
  pipeline_slug: z.string().check(z.regex(SLUG)),
  organization_id: z.optional(uuid),
  pipeline_id: z.optional(uuid),
});

const relationship = z.strictObject({
  organization_slug: z.string().check(z.regex(SLUG, "must be a Buildkite slug")),
  pipeline_slug: z.string().check(z.regex(SLUG, "must be a Buildkite slug")),
  organization_uuid: z.optional(uuid),
  pipeline_uuid: z.optional(uuid),
});
type BuildkiteSubject = z.infer<typeof relationship>;

export const buildkite: Provider<BuildkiteSubject> = {
  name: "buildkite",
  matchIssuer: (iss, base) => (iss === base ? "" : null),
  maxLifetimeSeconds: 3600,
  maxAgeSeconds: 3600,
  claims,
  conditionClaims: [
    "sub", "organization_slug", "pipeline_slug", "build_number", "build_branch", "build_tag", "build_commit",
    "step_key", "job_id", "agent_id", "build_source", "runner_environment", "organization_id", "pipeline_id",
    "build_id", "cluster_id", "cluster_name", "queue_id", "queue_key",
  ],
  identify: (c) => ({ lookupKey: `${String(c.organization_slug)}/${String(c.pipeline_slug)}`, issuerTenant: "" }),
  keyFetchNeedsRelationship: () => false,
  // The slug, not `organization_id`: the slug is in every token, while the ID is there only
  // when the job asks for it, so keying on the ID would let a job pick between two budgets.
  owner: (c) => String(c.organization_slug),
  defaultAudience: () => null,
  acceptsDefaultAudience: () => false,
  defaultDenials: () => [],
  provenance: (c) =>
    pickClaims(c, [
      "organization_slug", "pipeline_slug", "organization_id", "pipeline_id", "build_number", "build_branch",
      "build_tag", "build_commit", "step_key", "job_id", "build_source",
    ]),

  relationshipSchema: relationship,
  relationshipIdentity: (s) => ({ lookupKey: `${s.organization_slug}/${s.pipeline_slug}`, issuerTenant: "" }),
  matchRelationship(s, token) {
    const c = token.claims;
    // Slugs hold no '/', so both pass exactly when the lookup keys are equal.
    const checks: IdentityCheck[] = [
      { check: "identity", field: "organization_slug", claim: "organization_slug", expected: s.organization_slug, actual: c.organization_slug, pass: c.organization_slug === s.organization_slug },
      { check: "identity", field: "pipeline_slug", claim: "pipeline_slug", expected: s.pipeline_slug, actual: c.pipeline_slug, pass: c.pipeline_slug === s.pipeline_slug },
    ];
    // Once pinned, a token without the claim fails too: leaving it out is no way around the pin.
    if (s.organization_uuid !== undefined) {
      checks.push({ check: "pinned_id", field: "organization_uuid", claim: "organization_id", expected: s.organization_uuid, actual: claimValue(c, "organization_id"), pass: c.organization_id === s.organization_uuid });
    }
    if (s.pipeline_uuid !== undefined) {
      checks.push({ check: "pinned_id", field: "pipeline_uuid", claim: "pipeline_id", expected: s.pipeline_uuid, actual: claimValue(c, "pipeline_id"), pass: c.pipeline_id === s.pipeline_uuid });
    }
    const pins = newPins([["organization_uuid", s.organization_uuid, c.organization_id], ["pipeline_uuid", s.pipeline_uuid, c.pipeline_id]]);
    return pins ? { checks, pins } : { checks };
  },
};
