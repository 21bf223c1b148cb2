/**
 * What the reference workers C and D share with the real exchange: the same form body
 * schema, jose RS256 verification against an in-memory JWKS, and an ES256 token of the
 * same shape signed with the same key. Bench-only; never shipped.
 *
 * It deliberately does none of the real worker's policy (issuer allowlist, provider claim
 * schemas, trust matching, replay, logging): C and D are the floor the exchange is
 * measured against, not a second implementation of it.
 */
import * as z from "zod";
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWTPayload } from "jose";

export interface RefEnv {
  /** The fake RWX and GitHub issuers' public JWKS, `{"keys":[...]}`, as the real worker would fetch them. */
  ISSUER_JWKS: string;
  /** Accepted issuers, comma-separated. */
  ISSUER: string;
  AUDIENCE: string;
  PUBLIC_URL: string;
  /** The real worker's SIGNING_KEYS secret; the first key signs. */
  SIGNING_KEYS: string;
  DB?: D1Database;
}

const TokenRequest = z.looseObject({
  grant_type: z.literal("urn:ietf:params:oauth:grant-type:token-exchange"),
  subject_token: z.string().min(1).max(16 * 1024),
  subject_token_type: z.string(),
  audience: z.string().optional(),
  scope: z.string().optional(),
});

type Keys = { jwks: ReturnType<typeof createLocalJWKSet>; kid: string; signer: CryptoKey };
let keys: Promise<Keys> | undefined;

/** Imported once per isolate, as the real worker's caches do. */
function keysOf(env: RefEnv): Promise<Keys> {
  keys ??= (async () => {
    const [active] = JSON.parse(env.SIGNING_KEYS) as (JsonWebKey & { kid: string })[];
    const signer = (await importJWK(active!, "ES256")) as CryptoKey;
    return { jwks: createLocalJWKSet(JSON.parse(env.ISSUER_JWKS)), kid: active!.kid, signer };
  })();
  return keys;
}

export async function parseBody(request: Request): Promise<z.infer<typeof TokenRequest>> {
  const fields = Object.fromEntries(new URLSearchParams(await request.text()));
  return TokenRequest.parse(fields);
}

export async function verifySubject(env: RefEnv, token: string): Promise<JWTPayload> {
  const { jwks } = await keysOf(env);
  const { payload } = await jwtVerify(token, jwks, {
    issuer: env.ISSUER.split(","),
    audience: env.AUDIENCE,
    algorithms: ["RS256"],
    clockTolerance: 60,
  });
  return payload;
}

export interface Target {
  relationshipId: string;
  projectId: string;
  orgId: string;
  ttl: number;
}

/** An ES256 job token with the real minted token's claim set. */
export async function mint(env: RefEnv, subject: JWTPayload, target: Target, provider = "rwx"): Promise<Response> {
  const { kid, signer } = await keysOf(env);
  const now = Math.floor(Date.now() / 1000);
  const scope = "builds registry:pull registry:push";
  const accessToken = await new SignJWT({
    scope,
    org_id: target.orgId,
    project_id: target.projectId,
    token_use: "oidc",
    trust_relationship_id: target.relationshipId,
    ci: {
      provider,
      issuer: subject.iss,
      subject: subject.sub,
      sub: subject.sub,
      run_id: subject.run_id,
      run_url: subject.run_url,
      task_id: subject.task_id,
      task_url: subject.task_url,
      repository: subject.repository,
      sha: subject.sha,
    },
  })
    .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
    .setIssuer(env.PUBLIC_URL)
    .setSubject(`project:${target.projectId}`)
    .setAudience(env.PUBLIC_URL)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + target.ttl)
    .setJti(crypto.randomUUID())
    .sign(signer);
  return Response.json(
    { access_token: accessToken, issued_token_type: "urn:ietf:params:oauth:token-type:jwt", token_type: "Bearer", expires_in: target.ttl, scope },
    { headers: { "Cache-Control": "no-store", Pragma: "no-cache" } },
  );
}

/** The real candidate lookup (index trust_by_lookup, joined to projects for org_id). */
export const SELECT_CANDIDATES =
  "SELECT t.id, t.project_id, p.org_id, t.provider, t.subject, t.conditions, t.description, t.token_ttl_seconds, t.created_at " +
  "FROM trust_relationships t JOIN projects p ON p.id = t.project_id WHERE t.provider = ? AND t.lookup_key = ?";

export interface CandidateRow {
  id: string;
  project_id: string;
  org_id: string;
  token_ttl_seconds: number;
}
