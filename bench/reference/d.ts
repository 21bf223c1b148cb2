/**
 * Reference D: C + one indexed D1 select on the real schema — the exchange's physical floor.
 * The select is the real candidate lookup (index trust_by_lookup, joined to projects for
 * org_id); D does no replay write, which is why X2 (tokens with a jti) has a lower target.
 */
import { Hono } from "hono";
import { mint, parseBody, SELECT_CANDIDATES as SELECT, verifySubject, type CandidateRow as Row, type RefEnv } from "./shared";


export default new Hono<{ Bindings: RefEnv }>().post("/token", async (c) => {
  const body = await parseBody(c.req.raw);
  const subject = await verifySubject(c.env, body.subject_token);
  const { results } = await c.env.DB!.prepare(SELECT).bind("rwx", String(subject.sub)).all<Row>();
  const row = results[0];
  if (!row) return c.json({ error: "invalid_request" }, 400);
  return mint(c.env, subject, { relationshipId: row.id, projectId: row.project_id, orgId: row.org_id, ttl: row.token_ttl_seconds });
});
