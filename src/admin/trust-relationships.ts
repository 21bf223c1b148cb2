/**
 * Trust relationships of a project (SPEC §5): what a relationship body may say, and
 * creating, listing, reading and deleting them, rendered as the API shows them.
 *
 * A body is the common fields, then the provider's own strict schema for the rest
 * (`providers/`), with condition claim names checked against the provider's claims. Every
 * door parses with `parseRelationship`, so the API and the settings page accept and refuse
 * the same bodies with the same field names. Matching a relationship against a token is
 * not here: `trust/` does that.
 */
import * as z from "../schema";
import { authorizeProject, pathId } from "../access/reach";
import { ID_PATTERN } from "../db/d1";
import * as stored from "../db/trust-relationships";
import type { StoredTrustRelationship } from "../db/trust-relationships";
import { documentedOnly } from "../documented";
import { StsError } from "../errors";
import { PROVIDERS, PROVIDER_NAMES } from "../providers/registry";
import { RELATIONSHIP_MODES } from "../trust/authorize";
import { isKnownClaim, MAX_CONDITIONS, MAX_PATTERN_LENGTH } from "../trust/conditions";
import { safeName, validate } from "../validate";
import type { Changed } from "./changes";
import { readInput, type AdminContext, type Input } from "./context";

export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

/** The fields every provider's relationship takes; the provider's schema takes the rest. */
export const CommonRelationshipFields = z.object({
  provider: z.enum(PROVIDER_NAMES),
  // `shadow`: evaluated and recorded on every exchange naming the job, never admitting it.
  mode: z._default(z.enum(RELATIONSHIP_MODES), "enforce"),
  description: z._default(z.string().check(z.maxLength(500)), ""),
  token_ttl_seconds: z._default(z.number().check(z.int(), z.gte(60), z.lte(43_200)), DEFAULT_TOKEN_TTL_SECONDS),
  conditions: z._default(
    z
      .record(z.string().check(z.minLength(1), z.maxLength(128)), z.string().check(z.minLength(1), z.maxLength(MAX_PATTERN_LENGTH)))
      .check(z.refine((c) => Object.keys(c).length <= MAX_CONDITIONS, `at most ${MAX_CONDITIONS} conditions`)),
    {},
  ),
});
const COMMON_KEYS = Object.keys(CommonRelationshipFields.shape);

/**
 * The whole body per provider, as documented: the common fields and the provider's own,
 * unknown fields refused. `parseRelationship` validates with the same two schemas, in two
 * steps, so that a bad `provider` is named before the fields that depend on it.
 */
export const RelationshipBody = z.discriminatedUnion(
  "provider",
  PROVIDER_NAMES.map((name) =>
    z.strictObject({ ...CommonRelationshipFields.shape, provider: z.literal(name), ...PROVIDERS[name].relationshipSchema.shape }),
  ) as unknown as [z.ObjectSchema, ...z.ObjectSchema[]],
);

/** A relationship as the API shows it (`renderRelationship`), per provider: its fields flattened in, pinned IDs once known. */
export const TrustRelationshipResponse = /* @__PURE__ */ documentedOnly(() => z.discriminatedUnion(
  "provider",
  PROVIDER_NAMES.map((name) =>
    z.object({
      id: z.string().check(z.regex(ID_PATTERN.trl)),
      project_id: z.string().check(z.regex(ID_PATTERN.prj)),
      provider: z.literal(name),
      mode: z.enum(RELATIONSHIP_MODES),
      ...PROVIDERS[name].relationshipSchema.shape,
      conditions: z.record(z.string(), z.string()),
      description: z.string(),
      token_ttl_seconds: z.number().check(z.int()),
      created_at: z.number().check(z.int()),
    }),
  ) as unknown as [z.ObjectSchema, ...z.ObjectSchema[]],
));

/** A relationship body, validated: the common fields and the provider's own (`subject`). */
export type NewRelationship = z.infer<typeof CommonRelationshipFields> & { subject: Record<string, unknown> };

/** A relationship body as sent (JSON, or a form's fields built into one) → typed, or `field_invalid`. */
export function parseRelationship(body: unknown): NewRelationship {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new StsError("field_invalid", "body: must be an object");
  const common = validate(CommonRelationshipFields, body);
  const provider = PROVIDERS[common.provider];
  const rest = Object.fromEntries(Object.entries(body).filter(([k]) => !COMMON_KEYS.includes(k)));
  const subject = validate(provider.relationshipSchema, rest);
  // Check the names as sent: a parsed record silently loses a key such as "__proto__".
  const sent = (body as Record<string, unknown>).conditions;
  for (const claim of Object.keys(typeof sent === "object" && sent !== null ? sent : {})) {
    if (!isKnownClaim(claim, provider.conditionClaims)) {
      throw new StsError("field_invalid", `conditions: ${safeName(claim)} is not a ${provider.name} claim`);
    }
  }
  return { ...common, subject };
}

/** A relationship as the API shows it: the provider's fields (pinned IDs once known) flattened in. */
export function renderRelationship(r: StoredTrustRelationship) {
  return {
    id: r.id,
    project_id: r.projectId,
    provider: r.provider,
    mode: r.mode,
    ...r.subject,
    conditions: r.conditions,
    description: r.description,
    token_ttl_seconds: r.tokenTtlSeconds,
    created_at: r.createdAt,
  };
}

export type TrustRelationshipView = ReturnType<typeof renderRelationship>;

/** `POST /v1/projects/{project_id}/trust-relationships`: an admin of the project's organization. */
export async function createTrustRelationship(
  ctx: AdminContext,
  projectId: string,
  input: Input<NewRelationship>,
): Promise<Changed<TrustRelationshipView>> {
  const project = await authorizeProject(ctx, projectId, "admin");
  const relationship = await readInput(input);
  const created = await stored.createTrustRelationship(
    ctx.db,
    {
      projectId: project.id,
      orgId: project.org_id,
      provider: relationship.provider,
      mode: relationship.mode,
      identity: PROVIDERS[relationship.provider].relationshipIdentity(relationship.subject),
      subject: relationship.subject,
      conditions: relationship.conditions,
      description: relationship.description,
      tokenTtlSeconds: relationship.token_ttl_seconds,
    },
    ctx.config.maxTrustRelationshipsPerProject,
    ctx.now,
  );
  if (!created) throw new StsError("limit_exceeded", "project has the maximum number of trust relationships");
  const after = renderRelationship(created);
  return {
    result: after,
    change: { action: "trust_relationship.create", orgId: project.org_id, projectId: project.id, trustRelationshipId: created.id, after },
  };
}

/** `GET /v1/projects/{project_id}/trust-relationships`, each with its pinned IDs once known. */
export async function listTrustRelationships(ctx: AdminContext, projectId: string): Promise<TrustRelationshipView[]> {
  const project = await authorizeProject(ctx, projectId, "read");
  return (await stored.listTrustRelationships(ctx.db, project.id)).map(renderRelationship);
}

/** `GET /v1/projects/{project_id}/trust-relationships/{id}`. */
export async function getTrustRelationship(ctx: AdminContext, projectId: string, id: string): Promise<TrustRelationshipView> {
  const project = await authorizeProject(ctx, projectId, "read");
  const found = await stored.findTrustRelationship(ctx.db, project.id, pathId(ID_PATTERN.trl, id));
  if (!found) throw new StsError("not_found");
  return renderRelationship(found);
}

/** `DELETE /v1/projects/{project_id}/trust-relationships/{id}`: an admin; the change holds the relationship as deleted. */
export async function deleteTrustRelationship(ctx: AdminContext, projectId: string, id: string): Promise<Changed<null>> {
  const project = await authorizeProject(ctx, projectId, "admin");
  const deleted = await stored.deleteTrustRelationship(ctx.db, project.id, pathId(ID_PATTERN.trl, id));
  if (!deleted) throw new StsError("not_found");
  return {
    result: null,
    change: { action: "trust_relationship.delete", orgId: project.org_id, projectId: project.id, trustRelationshipId: deleted.id, before: renderRelationship(deleted) },
  };
}
