/**
 * Explain and suggest over HTTP (issue 10 §1–2): `POST /v1/projects/{project_id}/explain`
 * and `POST /v1/projects/{project_id}/trust-relationships/suggest`, each `{ subject_token }`.
 *
 * Who may call them (a project's admins) and what they do is the domain's (admin/explain.ts,
 * admin/suggest.ts); the body is read only once the caller may act. This door supplies the
 * isolate's CI key cache and the caller's own budget for these calls, `EXPLAIN_LIMITER`
 * per credential identity, on top of the admin API's.
 */
import { Hono } from "hono";
import { credentialIdentity } from "../access/principal";
import { explainSubjectToken, SubjectTokenInput, type InspectContext } from "../admin/explain";
import { suggestTrustRelationship } from "../admin/suggest";
import { isolateKeyCache } from "../providers/key-cache";
import { readJsonBody } from "./body";
import { adminContext } from "./caller";
import type { AppContext, AppEnv } from "./context";
import { enforceLimit } from "./rate-limit";

async function inspectContext(c: AppContext): Promise<InspectContext> {
  const ctx = await adminContext(c);
  const log = c.get("log");
  return {
    ...ctx,
    keys: isolateKeyCache,
    noteProvider: (name) => (log.provider = name),
    limit: () => enforceLimit(c.env.EXPLAIN_LIMITER, `cred:${credentialIdentity(ctx.principal)}`),
  };
}

export const explainRoutes = new Hono<AppEnv>()
  .post("/v1/projects/:project_id/explain", async (c) =>
    c.json(await explainSubjectToken(await inspectContext(c), c.req.param("project_id"), () => readJsonBody(c, SubjectTokenInput))),
  )
  .post("/v1/projects/:project_id/trust-relationships/suggest", async (c) =>
    c.json(await suggestTrustRelationship(await inspectContext(c), c.req.param("project_id"), () => readJsonBody(c, SubjectTokenInput))),
  );
