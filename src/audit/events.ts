/**
 * "What happened?" — the audit log's events, one closed union: an exchange of a verified
 * subject token, or an admin change. The producer builds them, the queue carries them as
 * JSON, the consumer validates them against the schema here before storing them, and the
 * API renders the stored body as is; so this file is the one definition of their shape.
 *
 * An event never carries a token, a secret or a hash: exchange events name the minted
 * token by `jti` and the job by its CI's claims; admin events name credentials by ID.
 * It does not decide which organization an event belongs to (exchange-events.ts and the
 * callers of admin-events.ts do) nor store anything (store.ts).
 */
import * as z from "zod";

/** Bumped when a field changes meaning; the consumer refuses versions it does not know. */
export const AUDIT_EVENT_VERSION = 1 as const;

const ID_HEX_RANDOM = 20;
/** `evt_` + 12 hex digits of Unix milliseconds + 20 random hex digits (80 bits). */
export const EVENT_ID_PATTERN = /^evt_[0-9a-f]{12}[0-9a-f]{20}$/;

/** The smallest event ID at or after `ms`: every ID of an event at `ms` or later sorts ≥ it. */
export function eventIdFloor(ms: number): string {
  return `evt_${Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0")}`;
}

export function newEventId(ms: number): string {
  const random = crypto.getRandomValues(new Uint8Array(ID_HEX_RANDOM / 2));
  return eventIdFloor(ms) + Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Unix milliseconds an event ID was made at. */
export const eventIdMs = (id: string): number => parseInt(id.slice(4, 16), 16);

const Id = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[0-9a-f]{24}$`));
const Text = (max: number) => z.string().max(max);
const Scalar = z.union([Text(4096), z.number(), z.boolean()]);

const Base = {
  v: z.literal(AUDIT_EVENT_VERSION),
  id: z.string().regex(EVENT_ID_PATTERN),
  /** Unix seconds, like every other time in the API. The ID orders events within a second. */
  time: z.number().int().nonnegative(),
  /** The request's ID: its `X-Request-Id` header and its log line's `request_id`. */
  request_id: Text(64),
  /**
   * Null for changes to a user's own resources (they belong to no organization), and for
   * exchange events whose organization the consumer looks up from `project_id`.
   */
  org_id: Id("org").nullable(),
  project_id: Id("prj").nullable(),
};

/**
 * A shadow relationship's verdict on an exchange (issue 10 §3): recorded, never enforced.
 * Empty until shadow relationships exist.
 */
const ShadowResult = z.strictObject({
  relationship_id: Id("trl"),
  result: z.enum(["would_admit", "would_refuse"]),
  reason: Text(128).nullable(),
});

const ExchangeEvent = z.strictObject({
  ...Base,
  kind: z.literal("exchange"),
  outcome: z.enum(["minted", "refused"]),
  /** The refusal's reason (the closed union in errors.ts); null when minted. */
  reason: Text(64).nullable(),
  /** For authorization refusals: which checks failed (a fixed phrase, never a claim value). */
  detail: Text(256).nullable(),
  provider: z.enum(["github", "circleci", "buildkite", "rwx"]),
  issuer: Text(512),
  /** The token's `sub`; null when longer than the audit log keeps (then named in `omitted`). */
  subject: Text(4096).nullable(),
  /** The job's identity as relationships name it (GitHub "owner/repo", a pipeline, a vault). */
  identity: Text(4096),
  /** The provider's provenance claims (repository or pipeline, ref, sha, workflow, run). */
  provenance: z.record(z.string().max(128), Scalar),
  /** Claims left out of `subject` and `provenance` because they were too long to keep. */
  omitted: z.array(z.string().max(128)).max(64),
  /** The `audience` the job sent, if any. */
  audience: Id("prj").nullable(),
  relationship_id: Id("trl").nullable(),
  /** The minted token's `jti` (to find it at introspection or revoke it); null when refused. */
  jti: Text(128).nullable(),
  scope: Text(256).nullable(),
  /** Immutable IDs this exchange pinned on the relationship (first use). */
  pinned: z.record(z.string().max(64), Text(128)).nullable(),
  /** The client's network, truncated: an IPv4 /24 or an IPv6 /48, never an address. */
  client_network: Text(64),
  shadow: z.array(ShadowResult).max(100),
});

/** Who made an admin change: the operator, or a credential named by its public ID. */
const Actor = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("operator") }),
  z.strictObject({ type: z.literal("user"), user_id: Id("usr"), token_id: Id("tok") }),
  z.strictObject({ type: z.literal("organization"), token_id: Id("tok") }),
  z.strictObject({ type: z.literal("project"), token_id: Id("tok") }),
  z.strictObject({ type: z.enum(["oidc", "pull"]), jti: Text(128) }),
]);

/** What an admin change did: `<resource>.<verb>`, one per mutating verb of the admin API. */
export const ADMIN_ACTIONS = [
  "organization.create",
  "project.create",
  "project.delete",
  "trust_relationship.create",
  "trust_relationship.delete",
  "user.create",
  "member.add",
  "member.remove",
  "static_token.create",
  "static_token.delete",
  "pull_token.create",
] as const;

const AdminEvent = z.strictObject({
  ...Base,
  kind: z.literal("admin"),
  actor: Actor,
  action: z.enum(ADMIN_ACTIONS),
  /** The changed resource's public ID (a pull token's `jti`, a member's user ID). */
  resource_id: Text(128),
  /** The resource before and after the change as the admin API renders it, minus any secret. */
  before: z.record(z.string(), z.unknown()).nullable(),
  after: z.record(z.string(), z.unknown()).nullable(),
});

export const AuditEventSchema = z.discriminatedUnion("kind", [ExchangeEvent, AdminEvent]);

export type AuditEvent = z.infer<typeof AuditEventSchema>;
export type ExchangeEvent = z.infer<typeof ExchangeEvent>;
export type AdminEvent = z.infer<typeof AdminEvent>;
export type Actor = z.infer<typeof Actor>;
export type AdminAction = AdminEvent["action"];
export type ShadowResult = z.infer<typeof ShadowResult>;

export const EVENT_KINDS = ["exchange", "admin"] as const;
export const EXCHANGE_OUTCOMES = ["minted", "refused"] as const;
