/**
 * CircleCI ID tokens.
 *
 * Identity is by UUID, never by name: the organization is the UUID in a per-org `iss`
 * (or, from the root issuer, the `org-id` claim; both must agree when both exist), the
 * project is `project-id`. The audience must be ours, or — only for relationships that set
 * `accept_default_audience`, for clients that forward `$CIRCLE_OIDC_TOKEN_V2` unchanged —
 * the organization's UUID. That token is handed to every service the job talks to (AWS,
 * Vault, any SaaS), so any of them could replay it here: admitting it is opt-in.
 */
import * as z from "../schema";
import { pickClaims, UUID_PATTERN, type Provider } from "./provider";

const ORG_ID = "oidc.circleci.com/org-id";
const PROJECT_ID = "oidc.circleci.com/project-id";
const SSH_RERUN = "oidc.circleci.com/ssh-rerun";
const uuid = z.string().check(z.regex(UUID_PATTERN, "must be a lowercase UUID"));

const claims = z.looseObject({
  sub: z.string().check(z.minLength(1)),
  [ORG_ID]: z.optional(uuid),
  [PROJECT_ID]: uuid,
  [SSH_RERUN]: z.optional(z.boolean()),
  "oidc.circleci.com/context-ids": z.optional(z.array(z.string())),
});

const relationship = z.strictObject({
  organization_uuid: uuid,
  project_uuid: uuid,
  accept_default_audience: z._default(z.boolean(), false),
});
type CircleCiSubject = z.infer<typeof relationship>;

export const circleci: Provider<CircleCiSubject> = {
  name: "circleci",
  matchIssuer(iss, base) {
    if (iss === base) return "";
    const prefix = base + "/org/";
    if (!iss.startsWith(prefix)) return null;
    const org = iss.slice(prefix.length);
    return UUID_PATTERN.test(org) ? org : null;
  },
  maxLifetimeSeconds: 3600,
  maxAgeSeconds: 3600,
  claims,
  conditionClaims: [
    "sub", ORG_ID, PROJECT_ID, "oidc.circleci.com/pipeline-definition-id", "oidc.circleci.com/pipeline-id",
    "oidc.circleci.com/workflow-id", "oidc.circleci.com/job-id", "oidc.circleci.com/context-ids",
    "oidc.circleci.com/vcs-origin", "oidc.circleci.com/vcs-ref", SSH_RERUN,
  ],
  identify(c, tenant) {
    const claimed = c[ORG_ID];
    const org = tenant || (typeof claimed === "string" ? claimed : "");
    if (!UUID_PATTERN.test(org)) return null;
    if (claimed !== undefined && claimed !== org) return null;
    const project = c[PROJECT_ID];
    if (typeof project !== "string") return null;
    return { lookupKey: `${org}/${project}`, issuerTenant: org };
  },
  // Every CircleCI issuer names an organization (in `iss`, or the root issuer's org-id
  // claim): no key fetch until a relationship names the job's organization and project.
  keyFetchNeedsRelationship: () => true,
  owner: (_c, identity) => identity.issuerTenant,
  defaultAudience: (identity) => identity.issuerTenant,
  acceptsDefaultAudience: (s) => s.accept_default_audience,
  defaultDenials: (c) => (c[SSH_RERUN] === true ? [{ claim: SSH_RERUN, value: "true" }] : []),
  provenance: (c) =>
    pickClaims(c, [
      "sub", ORG_ID, PROJECT_ID, "oidc.circleci.com/pipeline-id", "oidc.circleci.com/workflow-id",
      "oidc.circleci.com/job-id", "oidc.circleci.com/vcs-origin", "oidc.circleci.com/vcs-ref",
    ]),

  relationshipSchema: relationship,
  relationshipIdentity: (s) => ({ lookupKey: `${s.organization_uuid}/${s.project_uuid}`, issuerTenant: s.organization_uuid }),
  // The organization is the one `identify` established (from `iss`, or the root issuer's
  // org-id claim); UUIDs hold no '/', so both pass exactly when the lookup keys are equal.
  matchRelationship(s, token) {
    const [org, project] = token.identity.lookupKey.split("/");
    return {
      checks: [
        { check: "identity", field: "organization_uuid", claim: token.issuerTenant ? "iss" : ORG_ID, expected: s.organization_uuid, actual: org, pass: org === s.organization_uuid },
        { check: "identity", field: "project_uuid", claim: PROJECT_ID, expected: s.project_uuid, actual: project, pass: project === s.project_uuid },
      ],
    };
  },
};
