/**
 * "What happened?" — the audit log's events, one closed union: an exchange of a verified
 * subject token, or an admin change. The producer builds them (typed), the queue carries
 * them as JSON, the consumer checks them (`isAuditEvent`) before storing them, and the API
 * renders the stored body as is; so this file is the one definition of their shape.
 *
 * An event never carries a token, a secret or a hash: exchange events name the minted
 * token by `jti` and the job by its CI's claims; admin events name credentials by ID.
 * It does not decide which organization an event belongs to (exchange-events.ts and
 * admin-events.ts do) nor store anything (store.ts).
 */
import type { ProviderName } from "../config";
import { ID_PATTERN } from "../db/d1";
import type { ShadowRecord } from "../trust/authorize";

/** Bumped when a field changes meaning; the consumer refuses versions it does not know. */
export const AUDIT_EVENT_VERSION = 1 as const;

const ID_HEX_RANDOM = 20;
/** `evt_` + 12 hex digits of Unix milliseconds + 20 random hex digits (80 bits). */
export const EVENT_ID_PATTERN = /^evt_[0-9a-f]{12}[0-9a-f]{20}$/;

/** The smallest event ID at or after `ms`: every ID of an event at `ms` or later sorts ≥ it. */
export function eventIdFloor(ms: number): string {
  return `evt_${Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0")}`;
}

/** The millisecond an event ID was made at (`eventIdFloor`'s inverse); for an ID `EVENT_ID_PATTERN` accepts. */
export const eventIdMs = (id: string): number => parseInt(id.slice(4, 16), 16);

export function newEventId(ms: number): string {
  const random = crypto.getRandomValues(new Uint8Array(ID_HEX_RANDOM / 2));
  return eventIdFloor(ms) + Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
}

interface EventBase {
  v: typeof AUDIT_EVENT_VERSION;
  id: string;
  /** Unix seconds, like every other time in the API. The ID orders events within a second. */
  time: number;
  /** The request's ID: its `X-Request-Id` header and its log line's `request_id`. */
  request_id: string;
  /**
   * Null for changes to a user's own resources (they belong to no organization), and for
   * exchange events whose organization the consumer looks up from `project_id`.
   */
  org_id: string | null;
  project_id: string | null;
}


export interface ExchangeEvent extends EventBase {
  kind: "exchange";
  outcome: "minted" | "refused";
  /** The refusal's reason (the closed union in errors.ts); null when minted. */
  reason: string | null;
  /** For authorization refusals: which checks failed (a fixed phrase, never a claim value). */
  detail: string | null;
  provider: ProviderName;
  issuer: string;
  /** The token's `sub`; null when too long to keep (then named in `omitted`). */
  subject: string | null;
  /** The job's identity as relationships name it (GitHub "owner/repo", a pipeline, a vault). */
  identity: string;
  /** The provider's provenance claims (repository or pipeline, ref, sha, workflow, run). */
  provenance: Record<string, string | number | boolean>;
  /** Claims left out of `subject` and `provenance` because they were too long to keep. */
  omitted: string[];
  /** The `audience` the job sent, if any. */
  audience: string | null;
  relationship_id: string | null;
  /** The minted token's `jti` (to find it at introspection or revoke it); null when refused. */
  jti: string | null;
  scope: string | null;
  /** Immutable IDs this exchange pinned on the relationship (first use). */
  pinned: Record<string, string> | null;
  /** The client's network, truncated: an IPv4 /24 or an IPv6 /48, never an address. */
  client_network: string;
  /** What each shadow relationship of the project would have done: recorded, never enforced. */
  shadow: ShadowRecord[];
}

/** Who made an admin change: the operator, or a credential named by its public ID. */
export type Actor =
  | { type: "operator" }
  | { type: "user"; user_id: string; token_id: string }
  | { type: "organization" | "project"; token_id: string }
  | { type: "oidc" | "pull"; jti: string };

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
  "project.explain",
] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

export interface AdminEvent extends EventBase {
  kind: "admin";
  actor: Actor;
  action: AdminAction;
  /** The changed resource's public ID (a pull token's `jti`, a member's user ID). */
  resource_id: string;
  /** The resource before and after the change as the admin API renders it, minus any secret. */
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export type AuditEvent = ExchangeEvent | AdminEvent;

export const EVENT_KINDS = ["exchange", "admin"] as const;
export const EXCHANGE_OUTCOMES = ["minted", "refused"] as const;

/** Every field of each kind, sorted: an event has exactly these, no more (nothing slips in). */
const EXCHANGE_FIELDS =
  "audience,client_network,detail,id,identity,issuer,jti,kind,omitted,org_id,outcome,pinned,project_id,provenance,provider,reason,relationship_id,request_id,scope,shadow,subject,time,v" as const;
const ADMIN_FIELDS = "action,actor,after,before,id,kind,org_id,project_id,request_id,resource_id,time,v" as const;
const FIELDS: Record<AuditEvent["kind"], string> = { exchange: EXCHANGE_FIELDS, admin: ADMIN_FIELDS };

// The compiler checks that each list is exactly its interface's keys.
type Split<S extends string> = S extends `${infer H},${infer T}` ? H | Split<T> : S;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const FIELDS_MATCH: [Same<keyof ExchangeEvent, Split<typeof EXCHANGE_FIELDS>>, Same<keyof AdminEvent, Split<typeof ADMIN_FIELDS>>] = [true, true];
void FIELDS_MATCH;

const idOrNull = (value: unknown, pattern: RegExp) => value === null || (typeof value === "string" && pattern.test(value));

/**
 * Is a queue message an event of this version? Checks what the table keeps in columns (ID,
 * organization, project, kind, outcome) and that the fields are exactly the kind's; the
 * nested values are the producer's, which builds them typed.
 */
export function isAuditEvent(body: unknown): body is AuditEvent {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  const e = body as Record<string, unknown>;
  if (e.v !== AUDIT_EVENT_VERSION || typeof e.id !== "string" || !EVENT_ID_PATTERN.test(e.id)) return false;
  if (!Number.isSafeInteger(e.time) || typeof e.request_id !== "string" || e.request_id.length > 64) return false;
  if (!idOrNull(e.org_id, ID_PATTERN.org) || !idOrNull(e.project_id, ID_PATTERN.prj)) return false;
  if (e.kind !== "exchange" && e.kind !== "admin") return false;
  if (Object.keys(e).sort().join(",") !== FIELDS[e.kind]) return false;
  return e.kind === "exchange" ? (EXCHANGE_OUTCOMES as readonly unknown[]).includes(e.outcome) : (ADMIN_ACTIONS as readonly unknown[]).includes(e.action);
}
