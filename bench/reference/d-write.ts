/**
 * Diagnostic reference Dw (bench/profile.mjs only, not part of `npm run bench`): D plus the
 * replay write batched with the select, i.e. the floor of an exchange whose token has a
 * `jti` (X2). Shows how much of X2's distance from D is the write itself.
 */
import { Hono } from "hono";
import { mint, parseBody, SELECT_CANDIDATES as SELECT, verifySubject, type CandidateRow as Row, type RefEnv } from "./shared";

const INSERT = "INSERT INTO used_subject_tokens (token_key, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING";

export default new Hono<{ Bindings: RefEnv }>().post("/token", async (c) => {
  const body = await parseBody(c.req.raw);
  const subject = await verifySubject(c.env, body.subject_token);
  const github = typeof subject.repository === "string";
  const select = c.env.DB!.prepare(SELECT).bind(github ? "github" : "rwx", github ? String(subject.repository).toLowerCase() : String(subject.sub));
  let row: Row | undefined;
  if (subject.jti) {
    const [found, inserted] = await c.env.DB!.batch<Row>([select, c.env.DB!.prepare(INSERT).bind(`${subject.iss}#${subject.jti}`, subject.exp! + 60)]);
    if (!inserted?.meta.changes) return c.json({ error: "invalid_request" }, 400);
    row = found?.results[0];
  } else {
    row = (await select.all<Row>()).results[0];
  }
  if (!row) return c.json({ error: "invalid_request" }, 400);
  return mint(c.env, subject, { relationshipId: row.id, projectId: row.project_id, orgId: row.org_id, ttl: row.token_ttl_seconds }, github ? "github" : "rwx");
});
