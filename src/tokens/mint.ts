/**
 * "What do we hand out?" — the job token minted for an admitted exchange (SPEC §2).
 * Reserved claims always come from the server; nothing from the request sets them.
 *
 * The `ci` provenance copies values from the ID token, which may be up to 16 KiB, while our
 * own verifiers refuse JWTs over `MAX_OWN_TOKEN_LENGTH` characters. So provenance is capped:
 * a value over `MAX_PROVENANCE_VALUE_BYTES` is left out (never cut: a shortened ref or
 * subject would be a different, wrong value), then the longest values go until the whole
 * fits `MAX_PROVENANCE_BYTES`; `ci.omitted` names what was left out. A minted token
 * therefore always verifies here and at every service that introspects it.
 */
import type { VerifiedToken } from "../providers/provider";
import { PROVIDERS } from "../providers/registry";
import type { Grant } from "../trust/authorize";
import { utf8Length } from "../utf8";
import { MAX_OWN_TOKEN_LENGTH } from "./own-tokens";
import { signProjectToken, type SigningContext } from "./sign";

/** Longest provenance value kept, in UTF-8 bytes of its JSON spelling. */
export const MAX_PROVENANCE_VALUE_BYTES = 1024;
/**
 * The whole `ci` object, in UTF-8 bytes of its JSON. With the other claims (≈ 500 bytes plus
 * PUBLIC_URL twice) the token stays under 8192 characters for a PUBLIC_URL up to ≈ 600.
 */
export const MAX_PROVENANCE_BYTES = 4096;

export interface Minted {
  accessToken: string;
  expiresIn: number;
  scopes: string[];
  jti: string;
}

type Provenance = Record<string, string | number | boolean | string[]>;

export async function mintJobToken(token: VerifiedToken, grant: Grant, ctx: SigningContext): Promise<Minted> {
  const { relationship } = grant;
  const ttl = relationship.tokenTtlSeconds;
  const provenance = { subject: token.subject, ...PROVIDERS[token.provider].provenance(token.claims) };
  const base = { provider: token.provider, issuer: token.issuer };
  const sign = (ci: Provenance) =>
    signProjectToken(
      relationship.projectId,
      {
        scope: grant.scopes.join(" "),
        org_id: relationship.orgId,
        project_id: relationship.projectId,
        token_use: "oidc",
        trust_relationship_id: relationship.id,
        // RFC 9068 §2.2: the client is the trust relationship that admitted the job (SPEC §2).
        client_id: relationship.id,
        ci,
      },
      ctx.now + ttl,
      ctx,
    );
  let signed = await sign(capProvenance(base, provenance));
  // Only a very long PUBLIC_URL or key ID can get here: keep the token verifiable anyway.
  if (signed.token.length > MAX_OWN_TOKEN_LENGTH) signed = await sign({ ...base, omitted: Object.keys(provenance) });
  return { accessToken: signed.token, expiresIn: ttl, scopes: grant.scopes, jti: signed.jti };
}

/** `base` plus as much of `values` as the caps allow, and `omitted` naming the rest. */
export function capProvenance(base: Record<string, string>, values: Record<string, string | number | boolean>): Provenance {
  // The usual case, in one measure: no value can be over its cap when all of them together
  // are not, and then only the whole is left to check.
  if (jsonBytes(values) <= MAX_PROVENANCE_VALUE_BYTES) {
    const ci = { ...base, ...values };
    if (jsonBytes(ci) <= MAX_PROVENANCE_BYTES) return ci;
  }
  const kept = Object.entries(values).filter(([, value]) => jsonBytes(value) <= MAX_PROVENANCE_VALUE_BYTES);
  const omitted = Object.keys(values).filter((name) => !kept.some(([k]) => k === name));
  const assemble = (): Provenance => ({ ...base, ...Object.fromEntries(kept), ...(omitted.length > 0 ? { omitted } : {}) });
  let ci = assemble();
  if (jsonBytes(ci) <= MAX_PROVENANCE_BYTES) return ci;
  // Longest first, so the fewest values go.
  kept.sort(([, a], [, b]) => jsonBytes(b) - jsonBytes(a));
  while (kept.length > 0 && jsonBytes(ci) > MAX_PROVENANCE_BYTES) {
    omitted.push(kept.shift()![0]);
    ci = assemble();
  }
  return ci;
}

/** UTF-8 bytes of a value's JSON spelling. */
const jsonBytes = (value: unknown): number => utf8Length(JSON.stringify(value));
