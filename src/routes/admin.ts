/**
 * The admin API (SPEC §5) for organizations, projects and trust relationships.
 * HTTP only: authenticate, validate with zod, check tenancy, call `db/`, render.
 */
import { Hono } from "hono";
import * as z from "zod";
import { ID_PATTERN } from "../db/d1";
import { createOrganization, createProject, deleteProject, listProjects, type Organization, type Project } from "../db/organizations";
import {
  createTrustRelationship,
  deleteTrustRelationship,
  findTrustRelationship,
  listTrustRelationships,
  type StoredTrustRelationship,
} from "../db/trust-relationships";
import { StsError } from "../errors";
import { PROVIDERS, PROVIDER_NAMES } from "../providers/registry";
import { isKnownClaim, MAX_CONDITIONS, MAX_PATTERN_LENGTH } from "../trust/conditions";
import { authorizeOrg, authorizeProject, pathId, requireOperator, resolvePrincipal, type Access } from "./access";
import { readJsonBody, safeName, validate } from "./body";
import { nowSeconds, type AppContext, type AppEnv } from "./context";

const Name = z.strictObject({ name: z.string().trim().min(1).max(200) });

const DEFAULT_TOKEN_TTL_SECONDS = 3600;
const CommonRelationshipFields = z.object({
  provider: z.enum(PROVIDER_NAMES),
  description: z.string().max(500).default(""),
  token_ttl_seconds: z.number().int().min(60).max(43_200).default(DEFAULT_TOKEN_TTL_SECONDS),
  conditions: z
    .record(z.string().min(1).max(128), z.string().min(1).max(MAX_PATTERN_LENGTH))
    .refine((c) => Object.keys(c).length <= MAX_CONDITIONS, `at most ${MAX_CONDITIONS} conditions`)
    .default({}),
});
const COMMON_KEYS = Object.keys(CommonRelationshipFields.shape);

/** A relationship body: the common fields, then the provider's own strict schema for the rest. */
function parseRelationship(body: unknown) {
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
  return { ...common, subject, identity: provider.relationshipIdentity(subject) };
}

function renderRelationship(r: StoredTrustRelationship) {
  return {
    id: r.id,
    project_id: r.projectId,
    provider: r.provider,
    ...r.subject,
    conditions: r.conditions,
    description: r.description,
    token_ttl_seconds: r.tokenTtlSeconds,
    created_at: r.createdAt,
  };
}

/** The organization, when the principal may read or administer it (tenancy lives in access.ts). */
async function orgFor(c: AppContext, id: string, access: Access): Promise<Organization> {
  return (await authorizeOrg(c, id, access)).org;
}

/** The project, when the principal may read or administer its organization; else 404. */
async function projectFor(c: AppContext, id: string, access: Access): Promise<Project> {
  return (await authorizeProject(c, id, access)).project;
}

export const adminRoutes = new Hono<AppEnv>()
  .post("/v1/orgs", async (c) => {
    requireOperator(await resolvePrincipal(c));
    const { name } = await readJsonBody(c, Name);
    return c.json(await createOrganization(c.env.DB, name, nowSeconds()), 201);
  })
  .get("/v1/orgs/:org_id", async (c) => {
    return c.json(await orgFor(c, c.req.param("org_id"), "read"));
  })
  .post("/v1/orgs/:org_id/projects", async (c) => {
    const org = await orgFor(c, c.req.param("org_id"), "admin");
    const { name } = await readJsonBody(c, Name);
    return c.json(await createProject(c.env.DB, org.id, name, nowSeconds()), 201);
  })
  .get("/v1/orgs/:org_id/projects", async (c) => {
    const org = await orgFor(c, c.req.param("org_id"), "read");
    return c.json({ projects: await listProjects(c.env.DB, org.id) });
  })
  .get("/v1/projects/:project_id", async (c) => c.json(await projectFor(c, c.req.param("project_id"), "read")))
  .delete("/v1/projects/:project_id", async (c) => {
    const project = await projectFor(c, c.req.param("project_id"), "admin");
    await deleteProject(c.env.DB, project.id);
    return c.body(null, 204);
  })
  .post("/v1/projects/:project_id/trust-relationships", async (c) => {
    const project = await projectFor(c, c.req.param("project_id"), "admin");
    const input = parseRelationship(await readJsonBody(c, z.unknown()));
    const config = c.get("config");
    const created = await createTrustRelationship(
      c.env.DB,
      {
        projectId: project.id,
        orgId: project.org_id,
        provider: input.provider,
        identity: input.identity,
        subject: input.subject,
        conditions: input.conditions,
        description: input.description,
        tokenTtlSeconds: input.token_ttl_seconds,
      },
      config.maxTrustRelationshipsPerProject,
      nowSeconds(),
    );
    if (!created) throw new StsError("limit_exceeded", "project has the maximum number of trust relationships");
    return c.json(renderRelationship(created), 201);
  })
  .get("/v1/projects/:project_id/trust-relationships", async (c) => {
    const project = await projectFor(c, c.req.param("project_id"), "read");
    const relationships = await listTrustRelationships(c.env.DB, project.id);
    return c.json({ trust_relationships: relationships.map(renderRelationship) });
  })
  .get("/v1/projects/:project_id/trust-relationships/:id", async (c) => {
    const project = await projectFor(c, c.req.param("project_id"), "read");
    const found = await findTrustRelationship(c.env.DB, project.id, pathId(ID_PATTERN.trl, c.req.param("id")));
    if (!found) throw new StsError("not_found");
    return c.json(renderRelationship(found));
  })
  .delete("/v1/projects/:project_id/trust-relationships/:id", async (c) => {
    const project = await projectFor(c, c.req.param("project_id"), "admin");
    const deleted = await deleteTrustRelationship(c.env.DB, project.id, pathId(ID_PATTERN.trl, c.req.param("id")));
    if (!deleted) throw new StsError("not_found");
    return c.body(null, 204);
  });
