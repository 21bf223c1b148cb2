/**
 * Rate limits (Workers rate limiting bindings, declared in wrangler.toml, where every limit
 * is set). Every budget belongs to one party, so no one can spend another's:
 * - `EXCHANGE_IP_LIMITER`: `/token` per client network (an IPv4 address, an IPv6 /64);
 * - `ADMIN_LIMITER`: `/v1`, `/introspect` and `/revoke` per credential *identity* (the
 *   operator, a static token's ID, one of our JWTs' `jti`), the same however the header
 *   is spelled; what does not authenticate counts against its client network instead;
 * - `INTROSPECTION_LIMITER`: the introspection caller (the platform's own services), a
 *   budget of its own sized for a registry that introspects every pull.
 * (The exchange's budget for verified tokens, per job owner, is keyed in routes/token.ts.)
 *
 * A missing binding means no limit, and a binding that throws fails open: refusing
 * legitimate traffic because the limiter itself had a fault would be worse than serving
 * it. Keys are public identifiers only, never a credential or a token. This file does not
 * decide who a caller is (`access/` does) or what they may do; only "not this often".
 */
import type { MiddlewareHandler } from "hono";
import { StsError } from "../errors";
import { clientNetwork } from "../access/client-network";
import { credentialIdentity } from "../access/principal";
import { identifyCaller } from "./caller";
import type { AppContext, AppEnv } from "./context";

export async function enforceLimit(limiter: RateLimit | undefined, key: string): Promise<void> {
  if (!limiter) return;
  let success = true;
  try {
    ({ success } = await limiter.limit({ key }));
  } catch {
    return;
  }
  if (!success) throw new StsError("rate_limited");
}

/** The budget key of the client network Cloudflare saw (see access/client-network.ts). */
export function networkKey(c: AppContext): string {
  return `net:${clientNetwork(c.req.header("cf-connecting-ip"), c.req.header("cf-connecting-ipv6"))}`;
}

/** The budget key of an authenticated credential: its identity, never its spelling. */
const credentialKey = (identity: string): string => `cred:${identity}`;

/**
 * `ADMIN_LIMITER` for a caller: an authenticated credential's own budget, or, when the
 * credential did not authenticate (absent, malformed, unknown, revoked), its client
 * network's. Random well-formed tokens therefore share one budget per network.
 */
export function limitCaller(c: AppContext, identity: string | undefined): Promise<void> {
  return enforceLimit(c.env.ADMIN_LIMITER, identity === undefined ? networkKey(c) : credentialKey(identity));
}

/** The introspection caller's own budget (it authenticated with INTROSPECTION_TOKEN). */
export function limitIntrospectionCaller(c: AppContext): Promise<void> {
  return enforceLimit(c.env.INTROSPECTION_LIMITER, "introspection");
}

/**
 * The admin API's limit, after the caller is identified and before the route runs. The
 * identification is the route's own (made once per request), so limiting by identity
 * costs no extra work. An invalid credential costs no read when its checksum (a static
 * token) or signature (our JWT) fails; a well-formed one that no replica knows costs two
 * indexed reads (the replica's, then the primary's confirmation) before it is limited.
 */
export const adminRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const caller = await identifyCaller(c);
  await limitCaller(c, typeof caller === "string" ? undefined : credentialIdentity(caller));
  await next();
};
