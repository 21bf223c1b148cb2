/**
 * Diagnostic reference Dw (bench/profile.mjs only, not part of `npm run bench`): D plus the
 * replay write, its insert returning the candidates as the real worker's does (one
 * statement), i.e. the floor of an exchange whose token has a `jti` (X2). Shows how much of
 * X2's distance from D is the write itself.
 */
import { Hono } from "hono";
import { mint, parseBody, SELECT_CANDIDATES, verifySubject, type CandidateRow as Row, type RefEnv } from "./shared";

const CLAIM = `INSERT INTO used_subject_tokens (token_key, expires_at) VALUES (?3, ?4) ON CONFLICT DO NOTHING
  RETURNING json((SELECT json_group_array(json_object('id', id, 'project_id', project_id, 'org_id', org_id, 'token_ttl_seconds', token_ttl_seconds))
                  FROM (${SELECT_CANDIDATES.replace("t.provider = ?", "t.provider = ?1").replace("t.lookup_key = ?", "t.lookup_key = ?2")}))) AS candidates`;

export default new Hono<{ Bindings: RefEnv }>().post("/token", async (c) => {
  const body = await parseBody(c.req.raw);
  const subject = await verifySubject(c.env, body.subject_token);
  const github = typeof subject.repository === "string";
  const key = [github ? "github" : "rwx", github ? String(subject.repository).toLowerCase() : String(subject.sub)];
  let row: Row | undefined;
  if (subject.jti) {
    const claimed = await c.env.DB!.prepare(CLAIM).bind(...key, `${subject.iss}#${subject.jti}`, subject.exp! + 60).first<{ candidates: string }>();
    if (!claimed) return c.json({ error: "invalid_request" }, 400);
    row = (JSON.parse(claimed.candidates) as Row[])[0];
  } else {
    row = (await c.env.DB!.prepare(SELECT_CANDIDATES).bind(...key).all<Row>()).results[0];
  }
  if (!row) return c.json({ error: "invalid_request" }, 400);
  return mint(c.env, subject, { relationshipId: row.id, projectId: row.project_id, orgId: row.org_id, ttl: row.token_ttl_seconds }, github ? "github" : "rwx");
});
