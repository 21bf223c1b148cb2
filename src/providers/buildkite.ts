/**
 * Buildkite ID tokens.
 *
 * Identity is the organization and pipeline slugs. Slugs are mutable, so when a token
 * carries `organization_id`/`pipeline_id` (the job asked with `--claim`), they are pinned
 * like GitHub's IDs; once pinned, a token without them is refused, since leaving a claim
 * out must not be a way around the pin.
 */
import * as z from "zod";
import { pickClaims, UUID_PATTERN, type Provider } from "./provider";

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,99})$/;
const uuid = z.string().regex(UUID_PATTERN, "must be a lowercase UUID");

const claims = z.looseObject({
  sub: z.string().min(1),
  organization_slug: z.string().regex(SLUG),
  pipeline_slug: z.string().regex(SLUG),
  organization_id: uuid.optional(),
  pipeline_id: uuid.optional(),
});

const relationship = z.strictObject({
  organization_slug: z.string().regex(SLUG, "must be a Buildkite slug"),
  pipeline_slug: z.string().regex(SLUG, "must be a Buildkite slug"),
  organization_uuid: uuid.optional(),
  pipeline_uuid: uuid.optional(),
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
    if (token.identity.lookupKey !== `${s.organization_slug}/${s.pipeline_slug}`) return { match: false, why: "identity" };
    if (s.organization_uuid !== undefined && c.organization_id !== s.organization_uuid) return { match: false, why: "pinned_id" };
    if (s.pipeline_uuid !== undefined && c.pipeline_id !== s.pipeline_uuid) return { match: false, why: "pinned_id" };
    const pins: Record<string, string> = {};
    if (s.organization_uuid === undefined && typeof c.organization_id === "string") pins.organization_uuid = c.organization_id;
    if (s.pipeline_uuid === undefined && typeof c.pipeline_id === "string") pins.pipeline_uuid = c.pipeline_id;
    return Object.keys(pins).length > 0 ? { match: true, pins } : { match: true };
  },
};
