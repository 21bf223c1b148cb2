/** Reference C: A + zod-parse the form body, jose-verify the RS256 ID token (in-memory JWKS), jose-sign ES256. */
import { Hono } from "hono";
import { mint, parseBody, verifySubject, type RefEnv } from "./shared";

const FIXED = { relationshipId: "trl_000000000000000000000000", projectId: "prj_000000000000000000000000", orgId: "org_000000000000000000000000", ttl: 3600 };

export default new Hono<{ Bindings: RefEnv }>().post("/token", async (c) => {
  const body = await parseBody(c.req.raw);
  const subject = await verifySubject(c.env, body.subject_token);
  return mint(c.env, subject, FIXED);
});
