/**
 * Who is calling this HTTP request: the secret in `Authorization: Bearer`, identified once
 * per request (the admin rate limit asks before the route does), named on the log line,
 * and handed to the domain as the principal of an `AdminContext`.
 *
 * What a secret is and what a principal may touch are decided below every door, in
 * `access/`; this file only reads the header and keeps the answer for the request.
 */
import { describePrincipal, identifyPrincipal, noteUse, type Principal, type Unrecognised } from "../access/principal";
import type { AdminContext } from "../admin/context";
import { StsError } from "../errors";
import { accessDeps, adminContextFor, type AppContext } from "./context";

export function bearerToken(c: AppContext): string | undefined {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer ([\x21-\x7e]{1,8192})$/i);
  return match?.[1];
}

/** Per request: the rate limit and the route ask who is calling; the answer is worked out once. */
const callers = new WeakMap<Request, Promise<Principal | Unrecognised>>();

/**
 * Who presented this request's bearer credential, or why it is nobody. Reads, never
 * writes: a request refused after this (say, by a rate limit) has changed nothing.
 */
export function identifyCaller(c: AppContext): Promise<Principal | Unrecognised> {
  let caller = callers.get(c.req.raw);
  if (!caller) {
    caller = identifyBearer(c);
    callers.set(c.req.raw, caller);
  }
  return caller;
}

async function identifyBearer(c: AppContext): Promise<Principal | Unrecognised> {
  const presented = bearerToken(c);
  if (presented === undefined) return "no_bearer_credential";
  const caller = await identifyPrincipal(accessDeps(c), presented);
  // Logged as soon as known, so a request refused by its rate limit still says whose it was.
  if (typeof caller !== "string") c.get("log").principal = describePrincipal(caller);
  return caller;
}

/** The caller of an authenticated route, or 401 `invalid_token`; its use is noted. */
export async function resolvePrincipal(c: AppContext): Promise<Principal> {
  const caller = await identifyCaller(c);
  if (typeof caller === "string") throw new StsError("unauthenticated", undefined, caller);
  if (caller.kind !== "operator") noteUse(accessDeps(c), caller);
  return caller;
}

/** The domain's context for this request's caller (401 when there is none). */
export async function adminContext(c: AppContext): Promise<AdminContext> {
  return adminContextFor(c, await resolvePrincipal(c));
}
