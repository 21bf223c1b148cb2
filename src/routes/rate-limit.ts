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
import { providerForIssuer } from "../providers/registry";
import { decodeBase64Url, MAX_SUBJECT_TOKEN_BYTES } from "../providers/verify";
import { MAX_BODY_BYTES } from "./body";
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

/**
 * `EXCHANGE_ISSUER_LIMITER` on `POST /token`, keyed by the issuer the subject token names,
 * counted only when that issuer is one of ours (exact match against configuration, as
 * the verifier does), so junk never spends a budget and the key space stays bounded by
 * configuration plus CircleCI's per-organization issuers. It peeks at a copy of the body
 * (at most 32 KiB, the route's own cap); anything it cannot read it leaves to the route,
 * which refuses it with the proper error.
 */
export const exchangeIssuerRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limiter = c.env.EXCHANGE_ISSUER_LIMITER;
  if (limiter && c.req.method === "POST") {
    const issuer = await claimedIssuer(c);
    if (issuer !== null) await enforceLimit(limiter, issuerLimitKey(issuer));
  }
  await next();
};

/** The configured issuer the request's subject token names, without verifying anything. */
async function claimedIssuer(c: AppContext): Promise<string | null> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (!Number.isFinite(declared) || declared > MAX_BODY_BYTES || !c.req.raw.body) return null;
  const text = await readAtMost(c.req.raw.clone(), MAX_BODY_BYTES);
  if (text === null) return null;
  const token = subjectTokenOf(c.req.header("content-type"), text);
  if (token === null || token.length > MAX_SUBJECT_TOKEN_BYTES) return null;
  const iss = unverifiedIssuer(token);
  if (iss === null) return null;
  return providerForIssuer(iss, c.get("config").issuers) ? iss : null;
}

function subjectTokenOf(contentType: string | undefined, text: string): string | null {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded") return new URLSearchParams(text).get("subject_token");
  if (type !== "application/json") return null;
  try {
    const value: unknown = JSON.parse(text);
    const token = typeof value === "object" && value !== null ? (value as Record<string, unknown>).subject_token : undefined;
    return typeof token === "string" ? token : null;
  } catch {
    return null;
  }
}

function unverifiedIssuer(token: string): string | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const payload: unknown = JSON.parse(new TextDecoder().decode(decodeBase64Url(parts[1]!)));
    const iss = typeof payload === "object" && payload !== null ? (payload as Record<string, unknown>).iss : undefined;
    return typeof iss === "string" ? iss : null;
  } catch {
    return null;
  }
}

async function readAtMost(request: Request, maxBytes: number): Promise<string | null> {
  const reader = request.body!.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        return null;
      }
      chunks.push(value);
    }
  } catch {
    return null;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

async function digest(value: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)));
  return Array.from(hash.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}
