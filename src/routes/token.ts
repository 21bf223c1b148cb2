/** `POST /token` — the RFC 8693 token exchange over HTTP: parse, limit, exchange, audit, render. */
import * as z from "../schema";
import { ID_PATTERN } from "../db/d1";
import { documentedOnly } from "../documented";
import { StsError } from "../errors";
import { exchange, type ExchangeResult } from "../exchange";
import { isolateKeyCache } from "../providers/key-cache";
import { shadowRecord } from "../trust/authorize";
import { auditExchange } from "./audit";
import { readOAuthBody } from "./body";
import { nowSeconds, waitUntilOf, type AppEnv } from "./context";
import { type Operations } from "./document";
import { Hono } from "./hono";
import { enforceLimit, networkKey } from "./rate-limit";

const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
const SUBJECT_TOKEN_TYPES = ["urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt"] as const;
const REQUESTED_TOKEN_TYPES = ["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:access_token"] as const;
const ISSUED_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";

// Unknown parameters are ignored (RFC 6749 §3.2); known ones must be strings.
const TokenRequest = z.looseObject({
  grant_type: z.optional(z.string()),
  subject_token: z.optional(z.string()),
  subject_token_type: z.optional(z.string()),
  audience: z.optional(z.string()),
  scope: z.optional(z.string()),
  requested_token_type: z.optional(z.string()),
});

/**
 * The request as documented: `TokenRequest` with what the handler checks after it, each
 * with its own error code (RFC 6749 §5.2 reports the grant type first): the required
 * fields, the token types, and `audience` as a project ID.
 */
const DocumentedTokenRequest = /* @__PURE__ */ documentedOnly(() => z.extend(TokenRequest, {
  grant_type: z.literal(GRANT_TYPE),
  subject_token: z.string().check(z.minLength(1)),
  subject_token_type: z.enum(SUBJECT_TOKEN_TYPES),
  audience: z.optional(z.string().check(z.regex(ID_PATTERN.prj))),
  requested_token_type: z.optional(z.enum(REQUESTED_TOKEN_TYPES)),
}));

/** RFC 8693 §2.2.1. */
const TokenResponse = /* @__PURE__ */ documentedOnly(() => z.object({
  access_token: z.string(),
  issued_token_type: z.literal(ISSUED_TOKEN_TYPE),
  token_type: z.literal("Bearer"),
  expires_in: z.number().check(z.int()),
  scope: z.string(),
}));

/** The route below, documented (a function, so the worker's bundle drops it: only `npm run openapi` calls it). */
export const tokenOperations = (): Operations => ({
  "POST /token": {
    tag: "exchange",
    summary: "Exchange a CI job's OIDC ID token for a project token (RFC 8693)",
    description:
      "Always send `audience` (the project ID). Without it the job goes to the one project whose relationships name its identity; when several do, `400 invalid_target`. `scope` narrows the granted scopes (space-separated). Refusals name the failed stage, never the token or which claim differed.",
    security: "none",
    body: { media: "oauth", schema: DocumentedTokenRequest, required: true },
    responses: { 200: { description: "The minted token", schema: TokenResponse } },
    errors: [400, 413, 415, 429, 500, 503],
  },
});

export const tokenRoutes = new Hono<AppEnv>().post("/token", async (c) => {
  const log = c.get("log");
  // The per-network limit overlaps reading the body; when both fail, the limit is the answer.
  const ipAdmitted = enforceLimit(c.env.EXCHANGE_IP_LIMITER, networkKey(c));
  ipAdmitted.catch(() => undefined); // handled below, after the body; not an unhandled rejection meanwhile
  let body: z.infer<typeof TokenRequest>;
  try {
    body = await readOAuthBody(c, TokenRequest);
  } finally {
    await ipAdmitted;
  }

  // RFC 6749 §5.2: an unsupported grant type is reported as such before anything else.
  if (body.grant_type !== undefined && body.grant_type !== GRANT_TYPE) throw new StsError("grant_type_unsupported");
  for (const field of ["grant_type", "subject_token", "subject_token_type"] as const) {
    if (!body[field]) throw new StsError("field_invalid", `${field}: is required`);
  }
  if (!(SUBJECT_TOKEN_TYPES as readonly string[]).includes(body.subject_token_type!)) throw new StsError("subject_token_type_unsupported");
  if (body.requested_token_type !== undefined && !(REQUESTED_TOKEN_TYPES as readonly string[]).includes(body.requested_token_type)) {
    throw new StsError("requested_token_type_unsupported");
  }
  if (body.audience !== undefined && !ID_PATTERN.prj.test(body.audience)) throw new StsError("target_invalid");
  const scope = body.scope?.split(" ").filter((s) => s.length > 0);

  // Every exchange of a verified token is audited, minted or refused, off the response path.
  const audit = auditExchange(c, body.audience);
  let result: ExchangeResult;
  try {
    result = await exchange(
      { subjectToken: body.subject_token!, audience: body.audience, scope: scope && scope.length > 0 ? scope : undefined },
      {
        config: c.get("config"),
        db: c.env.DB,
        keys: isolateKeyCache,
        now: nowSeconds(),
        waitUntil: waitUntilOf(c),
        // Per job owner (GitHub owner ID, CircleCI org, Buildkite org, RWX subject): one
        // tenant's replays or bursts spend its own budget, never another's on the same CI.
        limitOwner: (provider, owner) => enforceLimit(c.env.EXCHANGE_OWNER_LIMITER, `owner:${provider}:${owner}`),
        noteProvider: (name) => (log.provider = name),
        trace: audit.trace,
      },
    );
  } catch (error) {
    audit.record({ refused: error });
    throw error;
  } finally {
    // Recorded whatever the answer: a shadow relationship is watched on refusals too.
    const shadow = audit.trace.shadow;
    if (shadow && shadow.length > 0) log.shadow = shadow.map(shadowRecord);
  }
  audit.record({ minted: result });
  log.project_id = result.grant.relationship.projectId;
  log.org_id = result.grant.relationship.orgId;
  const minted: z.infer<typeof TokenResponse> = {
    access_token: result.accessToken,
    issued_token_type: ISSUED_TOKEN_TYPE,
    token_type: "Bearer",
    expires_in: result.expiresIn,
    scope: result.scopes.join(" "),
  };
  return c.json(minted, 200);
});
