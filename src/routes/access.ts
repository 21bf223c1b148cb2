/**
 * Who is calling the admin API, and may they touch this organization or project?
 *
 * The caller is resolved once per request from `Authorization: Bearer`. Tenancy is
 * enforced here and only here: another tenant's resource answers 404 (never 403 with
 * detail), and a credential without the `api` scope answers 403 `insufficient_scope`.
 */
import { StsError } from "../errors";
import type { AppContext } from "./context";

export type Principal = { kind: "operator" };

const encoder = new TextEncoder();

/** Constant-time equality of two secrets (compares SHA-256 digests, so lengths don't leak). */
export async function secretsEqual(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(presented)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

export function bearerToken(c: AppContext): string | undefined {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer ([\x21-\x7e]{1,4096})$/i);
  return match?.[1];
}

export async function resolvePrincipal(c: AppContext): Promise<Principal> {
  const presented = bearerToken(c);
  const adminToken = c.get("config").adminToken;
  if (presented !== undefined && adminToken !== undefined && (await secretsEqual(presented, adminToken))) {
    return { kind: "operator" };
  }
  throw new StsError("unauthenticated");
}

/** Operator-only routes (creating organizations and users). */
export function requireOperator(principal: Principal): void {
  if (principal.kind !== "operator") throw new StsError("insufficient_scope");
}

export type Access = "read" | "admin";

/** May the principal read or administer this organization? Not-yours is `not_found`. */
export async function requireOrgAccess(_c: AppContext, principal: Principal, _orgId: string, _access: Access): Promise<void> {
  if (principal.kind === "operator") return;
  throw new StsError("not_found");
}
