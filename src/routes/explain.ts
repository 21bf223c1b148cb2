/**
 * Explain and suggest over HTTP (issue 10 §1–2): `POST /v1/projects/{project_id}/explain`
 * and `POST /v1/projects/{project_id}/trust-relationships/suggest`, each `{ subject_token }`.
 *
 * Who may call them (a project's admins) and what they do is the domain's (admin/explain.ts,
 * admin/suggest.ts); the body is read only once the caller may act. This door supplies the
 * isolate's CI key cache and the caller's own budget for these calls, `EXPLAIN_LIMITER`
 * per credential identity, on top of the admin API's.
 */
import { credentialIdentity } from "../access/principal";
import type { AdminContext } from "../admin/context";
import { explainSubjectToken, SubjectTokenInput, type InspectContext } from "../admin/explain";
import { suggestTrustRelationship } from "../admin/suggest";
import { isolateKeyCache } from "../providers/key-cache";
import { Explanation } from "../trust/explain";
import { Suggestion } from "../trust/suggest";
import { performAudited } from "./audit";
import { readJsonBody } from "./body";
import { adminContext } from "./caller";
import type { AppContext, AppEnv } from "./context";
import { ADMIN, BODY, type Operations } from "./document";
import { Hono } from "./hono";
import { enforceLimit } from "./rate-limit";

/**
 * An admin context made into explain's and suggest's: the isolate's key cache and the
 * credential's own EXPLAIN_LIMITER budget. The settings page's explain form uses it too,
 * so a credential has one budget whichever door it calls through.
 */
export function inspectContextOf(c: AppContext, ctx: AdminContext): InspectContext {
  const log = c.get("log");
  return {
    ...ctx,
    keys: isolateKeyCache,
    noteProvider: (name) => (log.provider = name),
    limit: () => enforceLimit(c.env.EXPLAIN_LIMITER, `cred:${credentialIdentity(ctx.principal)}`),
  };
}

const inspectContext = async (c: AppContext) => inspectContextOf(c, await adminContext(c));

/** The routes below, documented (a function, so the worker's bundle drops it: only `npm run openapi` calls it). */
export const explainOperations = (): Operations => ({
  "POST /v1/projects/{project_id}/explain": {
    tag: "trust relationships",
    summary: "Explain what POST /token answers for a subject token, and why (an admin of the project)",
    description:
      "Runs the exchange's own verifier and authorizer with this project as `audience`: every verification stage with its checks, every relationship of the project (enforce and shadow) with every check (expected vs actual, pass, hints), and the exchange's answer. Mints nothing, spends no `jti`, pins nothing and writes nothing but its audit entry (`project.explain`: who asked, and the answer's status and error, never the token). Stages after a failed issuer, key or signature are `skipped`. A `200` whatever the token: its verdict is in the body.",
    security: "credential",
    body: { media: "json", schema: SubjectTokenInput, required: true },
    responses: { 200: { description: "The explanation", schema: Explanation } },
    errors: [...BODY, ...ADMIN],
  },
  "POST /v1/projects/{project_id}/trust-relationships/suggest": {
    tag: "trust relationships",
    summary: "Suggest the tightest trust relationship that admits a subject token (an admin of the project)",
    description:
      "The token must verify as issued by its CI (an expired one, or one for another audience, still gets a suggestion, with a warning); otherwise the exchange's own refusal. Writes nothing.",
    security: "credential",
    body: { media: "json", schema: SubjectTokenInput, required: true },
    responses: { 200: { description: "A relationship body ready to POST, a sentence per choice, and warnings", schema: Suggestion } },
    errors: [...BODY, ...ADMIN],
  },
});

export const explainRoutes = new Hono<AppEnv>()
  .post("/v1/projects/:project_id/explain", async (c) =>
    c.json(await performAudited(c, await inspectContext(c), (ctx) => explainSubjectToken(ctx, c.req.param("project_id"), () => readJsonBody(c, SubjectTokenInput)))),
  )
  .post("/v1/projects/:project_id/trust-relationships/suggest", async (c) =>
    c.json(await suggestTrustRelationship(await inspectContext(c), c.req.param("project_id"), () => readJsonBody(c, SubjectTokenInput))),
  );
