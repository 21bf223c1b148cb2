/**
 * Test-side client of the fake CI issuer at the network edge, and each provider's claim
 * sets with this suite's audience. Tokens are real RS256 JWTs signed by the issuer's own key.
 */
import * as shared from "./ci-claims.mjs";

export const ISSUERS = shared.ISSUERS;

export const AUDIENCE = "https://sts.test";
const CONTROL = "http://fake-issuer.control/__control";

/** Control calls whose repetition changes nothing the test sees (rotate is not one). */
const REPEATABLE = new Set(["sign", "fault", "key", "stats"]);

/**
 * One control call. The fake issuer lives in the vitest process, behind workerd's outbound
 * socket; on a heavily loaded machine that socket is occasionally dropped ("Network connection
 * lost") before the call arrives. A repeatable call is tried again, so the suite tests the
 * worker and not the machine's load; anything else fails as it is.
 */
async function control<T>(action: string, body: Record<string, unknown>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(`${CONTROL}/${action}`, { method: "POST", body: JSON.stringify(body) });
    } catch (error) {
      if (attempt < 3 && REPEATABLE.has(action)) continue;
      throw error;
    }
    if (!response.ok) throw new Error(`fake issuer ${action} failed: ${response.status}`);
    return response.json() as Promise<T>;
  }
}

export async function signToken(issuer: string, claims: Record<string, unknown>, header?: Record<string, unknown>, kid?: string) {
  return (await control<{ token: string }>("sign", { issuer, claims, header, kid })).token;
}

export type Fault =
  | "ok" | "down" | "hang" | "html" | "empty-object" | "empty-keys" | "huge" | "redirect" | "wrong-issuer" | "foreign-jwks-uri" | "throw";

export const setFault = (issuer: string, mode: Fault) => control("fault", { issuer, mode });
export const rotateKey = (issuer: string, keep = false) => control<{ kid: string }>("rotate", { issuer, keep });
export const publicKey = (issuer: string) => control<{ kid: string; jwk: JsonWebKey & { kid: string } }>("key", { issuer });
export const issuerRequests = async (issuer: string) => (await control<{ requests: number }>("stats", { issuer })).requests;

export const now = () => Math.floor(Date.now() / 1000);
export const uuid = () => crypto.randomUUID();

// The claim shapes live in ci-claims.mjs (shared with the bench, the soak and the demo);
// here they get this suite's audience.

/** A GitHub Actions push token for a fresh repository. */
export const githubClaims = (overrides: Record<string, unknown> = {}) => shared.githubClaims(AUDIENCE, {}, overrides);

/** A CircleCI V2 token from a per-org issuer, with our audience. */
export const circleciClaims = (org = uuid(), project = uuid(), overrides: Record<string, unknown> = {}) =>
  shared.circleciClaims(AUDIENCE, org, project, overrides);

export const buildkiteClaims = (overrides: Record<string, unknown> = {}) => shared.buildkiteClaims(AUDIENCE, {}, overrides);

export const rwxClaims = (overrides: Record<string, unknown> = {}) => shared.rwxClaims(AUDIENCE, undefined, overrides);
