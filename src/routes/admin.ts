/**
 * The admin API (SPEC §5) for organizations, projects and trust relationships, over HTTP:
 * path parameters and JSON bodies in, status and JSON out. Who may do what, and what each
 * verb does, is the domain's (`admin/`, deciding access through `access/`); a body is read
 * only once the verb knows the caller may act.
 */
import { Hono } from "hono";
import * as z from "zod";
import { createOrganization, getOrganization, NewOrganization } from "../admin/organizations";
import { createProject, deleteProject, getProject, listProjects, NewProject } from "../admin/projects";
import {
  createTrustRelationship,
  deleteTrustRelationship,
  getTrustRelationship,
  listTrustRelationships,
  parseRelationship,
} from "../admin/trust-relationships";
import { audited } from "./audit";
import { readJsonBody } from "./body";
import { adminContext } from "./caller";
import type { AppEnv } from "./context";

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
