/** `POST /token` — the RFC 8693 token exchange over HTTP: parse, limit, exchange, audit, render. */
import { Hono } from "hono";
import * as z from "zod";
import { StsError } from "../errors";
import { exchange, type ExchangeResult } from "../exchange";
import { KeyCache } from "../providers/key-cache";
import { ID_PATTERN } from "../db/d1";
import { auditExchange } from "./audit";
import { readOAuthBody } from "./body";
import { nowSeconds, waitUntilOf, type AppEnv } from "./context";
import { enforceLimit, networkKey } from "./rate-limit";

const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
const SUBJECT_TOKEN_TYPES = ["urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt"];
const REQUESTED_TOKEN_TYPES = ["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:access_token"];
const ISSUED_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";

// Unknown parameters are ignored (RFC 6749 §3.2); known ones must be strings.
const TokenRequest = z.looseObject({
  grant_type: z.string().optional(),
  subject_token: z.string().optional(),
  subject_token_type: z.string().optional(),
  audience: z.string().optional(),
  scope: z.string().optional(),
  requested_token_type: z.string().optional(),
});

/** Provider signing keys live for the isolate's lifetime. */
const keyCache = new KeyCache();

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
  if (!SUBJECT_TOKEN_TYPES.includes(body.subject_token_type!)) throw new StsError("subject_token_type_unsupported");
  if (body.requested_token_type !== undefined && !REQUESTED_TOKEN_TYPES.includes(body.requested_token_type)) {
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
        keys: keyCache,
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
  }
  audit.record({ minted: result });
  log.project_id = result.grant.relationship.projectId;
  log.org_id = result.grant.relationship.orgId;
  return c.json(
    {
      access_token: result.accessToken,
      issued_token_type: ISSUED_TOKEN_TYPE,
      token_type: "Bearer",
      expires_in: result.expiresIn,
      scope: result.scopes.join(" "),
    },
    200,
  );
});
