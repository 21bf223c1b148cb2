/**
 * The admin API (SPEC §5) for organizations, projects and trust relationships, over HTTP:
 * path parameters and JSON bodies in, status and JSON out. Who may do what, and what each
 * verb does, is the domain's (`admin/`, deciding access through `access/`); a body is read
 * only once the verb knows the caller may act.
 */
import * as z from "../schema";
import { createOrganization, getOrganization, NewOrganization, OrganizationView } from "../admin/organizations";
import { createProject, deleteProject, getProject, listProjects, NewProject, ProjectView } from "../admin/projects";
import {
  createTrustRelationship,
  deleteTrustRelationship,
  getTrustRelationship,
  listTrustRelationships,
  parseRelationship,
  RelationshipBody,
  TrustRelationshipResponse,
} from "../admin/trust-relationships";
import type { ProviderName } from "../config";
import { documentedOnly } from "../documented";
import { audited } from "./audit";
import { readJsonBody } from "./body";
import { adminContext } from "./caller";
import type { AppEnv } from "./context";
import { ADMIN, BODY, type Example, type Operations } from "./document";
import { Hono } from "./hono";

const ProjectList = /* @__PURE__ */ documentedOnly(() => z.object({ projects: z.array(ProjectView) }));
const TrustRelationshipList = /* @__PURE__ */ documentedOnly(() => z.object({ trust_relationships: z.array(TrustRelationshipResponse) }));

/** One relationship per provider, as a project admin would write it (each is accepted: test/openapi). */
export const RELATIONSHIP_EXAMPLES: Record<ProviderName, Example> = {
  github: {
    summary: "GitHub Actions: one repository's deploy workflow on main",
    value: {
      provider: "github",
      owner: "acme",
      repository: "web",
      conditions: { ref: "refs/heads/main", workflow_ref: "acme/web/.github/workflows/deploy.yml@refs/heads/main" },
      description: "deploys from main",
    },
  },
  circleci: {
    summary: "CircleCI: one project, by its organization and project UUIDs",
    value: {
      provider: "circleci",
      organization_uuid: "0b8e1c2a-6f3d-4c1e-9a7b-2d5f8e0c4a11",
      project_uuid: "5c7d9e1f-2a3b-4c5d-8e9f-0a1b2c3d4e5f",
      conditions: { "oidc.circleci.com/vcs-ref": "refs/heads/main" },
    },
  },
  buildkite: {
    summary: "Buildkite: one pipeline, pinned to its UUIDs",
    value: {
      provider: "buildkite",
      organization_slug: "acme",
      pipeline_slug: "web-deploy",
      organization_uuid: "7f1e2d3c-4b5a-4968-8776-655443322110",
      pipeline_uuid: "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
      conditions: { build_branch: "main" },
      token_ttl_seconds: 900,
    },
  },
  rwx: {
    summary: "RWX: one vault's OIDC subject",
    value: { provider: "rwx", subject: "vaults/acme-production", description: "production vault" },
  },
};

const RELATIONSHIP_PARAMS = { id: "A trust relationship ID (`trl_…`)" };

/** The routes below, documented (a function, so the worker's bundle drops it: only `npm run openapi` calls it). */
export const adminOperations = (): Operations => ({
  "POST /v1/orgs": {
    tag: "organizations",
    summary: "Create an organization (the operator only)",
    security: "credential",
    body: { media: "json", schema: NewOrganization, required: true },
    responses: { 201: { description: "The organization", schema: OrganizationView } },
    errors: [...BODY, 401, 403, 429, 500, 503],
  },
  "GET /v1/orgs/{org_id}": {
    tag: "organizations",
    summary: "Read an organization",
    security: "credential",
    responses: { 200: { description: "The organization", schema: OrganizationView } },
    errors: ADMIN,
  },
  "POST /v1/orgs/{org_id}/projects": {
    tag: "organizations",
    summary: "Create a project (an admin of the organization)",
    security: "credential",
    body: { media: "json", schema: NewProject, required: true },
    responses: { 201: { description: "The project", schema: ProjectView } },
    errors: [...BODY, ...ADMIN],
  },
  "GET /v1/orgs/{org_id}/projects": {
    tag: "organizations",
    summary: "List an organization's projects",
    security: "credential",
    responses: { 200: { description: "The projects, oldest first", schema: ProjectList } },
    errors: ADMIN,
  },
  "GET /v1/projects/{project_id}": {
    tag: "organizations",
    summary: "Read a project",
    security: "credential",
    responses: { 200: { description: "The project", schema: ProjectView } },
    errors: ADMIN,
  },
  "DELETE /v1/projects/{project_id}": {
    tag: "organizations",
    summary: "Delete a project (an admin of the organization)",
    description: "Removes its trust relationships and static tokens; every token made for it stops being active.",
    security: "credential",
    responses: { 204: { description: "Deleted" } },
    errors: ADMIN,
  },
  "POST /v1/projects/{project_id}/trust-relationships": {
    tag: "trust relationships",
    summary: "Create a trust relationship (an admin of the organization)",
    description:
      "A discriminated union on `provider`; unknown fields are refused. `conditions` maps claim names (checked against the provider's claims) to anchored patterns where `*` matches any run of characters except `/`. Pinned IDs left out are pinned from the first token admitted.",
    security: "credential",
    body: { media: "json", schema: RelationshipBody, required: true, examples: RELATIONSHIP_EXAMPLES },
    responses: { 201: { description: "The relationship", schema: TrustRelationshipResponse } },
    errors: [...BODY, 409, ...ADMIN],
  },
  "GET /v1/projects/{project_id}/trust-relationships": {
    tag: "trust relationships",
    summary: "List a project's trust relationships, each with its pinned IDs once known",
    security: "credential",
    responses: { 200: { description: "The relationships", schema: TrustRelationshipList } },
    errors: ADMIN,
  },
  "GET /v1/projects/{project_id}/trust-relationships/{id}": {
    tag: "trust relationships",
    summary: "Read a trust relationship",
    security: "credential",
    params: RELATIONSHIP_PARAMS,
    responses: { 200: { description: "The relationship", schema: TrustRelationshipResponse } },
    errors: ADMIN,
  },
  "DELETE /v1/projects/{project_id}/trust-relationships/{id}": {
    tag: "trust relationships",
    summary: "Delete a trust relationship (an admin of the organization)",
    description: "Tokens minted through it stop being active.",
    security: "credential",
    params: RELATIONSHIP_PARAMS,
    responses: { 204: { description: "Deleted" } },
    errors: ADMIN,
  },
});

export const adminRoutes = new Hono<AppEnv>()
  .post("/v1/orgs", async (c) => {
    return c.json(await audited(c, (ctx) => createOrganization(ctx, () => readJsonBody(c, NewOrganization))), 201);
  })
  .get("/v1/orgs/:org_id", async (c) => c.json(await getOrganization(await adminContext(c), c.req.param("org_id"))))
  .post("/v1/orgs/:org_id/projects", async (c) => {
    return c.json(await audited(c, (ctx) => createProject(ctx, c.req.param("org_id"), () => readJsonBody(c, NewProject))), 201);
  })
  .get("/v1/orgs/:org_id/projects", async (c) => c.json({ projects: await listProjects(await adminContext(c), c.req.param("org_id")) }))
  .get("/v1/projects/:project_id", async (c) => c.json(await getProject(await adminContext(c), c.req.param("project_id"))))
  .delete("/v1/projects/:project_id", async (c) => {
    await audited(c, (ctx) => deleteProject(ctx, c.req.param("project_id")));
    return c.body(null, 204);
  })
  .post("/v1/projects/:project_id/trust-relationships", async (c) => {
    const read = async () => parseRelationship(await readJsonBody(c, z.unknown()));
    return c.json(await audited(c, (ctx) => createTrustRelationship(ctx, c.req.param("project_id"), read)), 201);
  })
  .get("/v1/projects/:project_id/trust-relationships", async (c) =>
    c.json({ trust_relationships: await listTrustRelationships(await adminContext(c), c.req.param("project_id")) }),
  )
  .get("/v1/projects/:project_id/trust-relationships/:id", async (c) =>
    c.json(await getTrustRelationship(await adminContext(c), c.req.param("project_id"), c.req.param("id"))),
  )
  .delete("/v1/projects/:project_id/trust-relationships/:id", async (c) => {
    await audited(c, (ctx) => deleteTrustRelationship(ctx, c.req.param("project_id"), c.req.param("id")));
    return c.body(null, 204);
  });
