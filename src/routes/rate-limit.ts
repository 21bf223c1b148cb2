/**
 * Workers rate limiting bindings (declared in wrangler.toml, where every limit is set):
 * per client IP and per issuer on `/token`, per credential on the admin API.
 *
 * A missing binding means no limit, and a binding that throws fails open: refusing
 * legitimate CI traffic because the limiter itself had a fault would be worse than
 * serving it. Keys never contain a credential or a token: the admin key is a digest.
 * It does not decide what a request may do; it only says "not this often".
 */
import type { MiddlewareHandler } from "hono";
import { StsError } from "../errors";
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

/** The client address Cloudflare saw; "local" outside Cloudflare (tests, `npm start`). */
export function clientIp(c: AppContext): string {
  return c.req.header("cf-connecting-ip") ?? "local";
}

/** The per-issuer key for an issuer already matched against configuration. */
export const issuerLimitKey = (issuer: string): string => `iss:${issuer}`;

/**
 * `ADMIN_LIMITER` keyed by a digest of the bearer credential (or by client IP when there
 * is none), before authentication, so a leaked or brute-forced credential is throttled
 * without its plaintext ever reaching the limiter.
 */
export const adminRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limiter = c.env.ADMIN_LIMITER;
  if (limiter) {
    const credential = c.req.header("authorization");
    const key = credential ? `cred:${await digest(credential)}` : `ip:${clientIp(c)}`;
    await enforceLimit(limiter, key);
  }
  await next();
};

async function digest(value: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)));
  return Array.from(hash.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}
