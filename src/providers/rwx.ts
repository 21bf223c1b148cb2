/**
 * RWX ID tokens.
 *
 * The vault is the whole identity: `sub` is opaque and compared exactly (case included).
 * There is no repository, branch or commit to condition on.
 */
import * as z from "../schema";
import { pickClaims, type Provider } from "./provider";

const SUBJECT = z.string().check(z.minLength(1), z.maxLength(512), z.regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"));

const claims = z.looseObject({ sub: SUBJECT });
const relationship = z.strictObject({ subject: SUBJECT });
type RwxSubject = z.infer<typeof relationship>;

export const rwx: Provider<RwxSubject> = {
  name: "rwx",
  matchIssuer: (iss, base) => (iss === base ? "" : null),
  maxLifetimeSeconds: 3600,
  maxAgeSeconds: 3600,
  claims,
  conditionClaims: ["sub", "run_id", "run_url", "task_id", "task_url"],
  identify: (c) => ({ lookupKey: String(c.sub), issuerTenant: "" }),
  keyFetchNeedsRelationship: () => false,
  // RWX tokens name no organization: the vault subject is the whole identity.
  owner: (c) => String(c.sub),
  defaultAudience: () => null,
  acceptsDefaultAudience: () => false,
  defaultDenials: () => [],
  provenance: (c) => pickClaims(c, ["sub", "run_id", "run_url", "task_id", "task_url"]),

  relationshipSchema: relationship,
  relationshipIdentity: (s) => ({ lookupKey: s.subject, issuerTenant: "" }),
  matchRelationship: (s, token) => ({
    checks: [{ check: "identity", field: "subject", claim: "sub", expected: s.subject, actual: token.identity.lookupKey, pass: token.identity.lookupKey === s.subject }],
  }),
};
