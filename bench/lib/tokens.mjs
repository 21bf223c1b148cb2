/**
 * The bench's CI tokens: the claim shapes of test/support/ci-claims.mjs (shared with the
 * tests and the soak), signed for real by the fake issuer
 * in-process, so the worker verifies them against the keys it fetched by discovery.
 */
import * as shared from "../../test/support/ci-claims.mjs";

export const ISSUERS = shared.ISSUERS;

export const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";

/** An RWX token for one vault subject: no jti, so the same token (and body) is reusable. */
export function rwxClaims(audience, subject) {
  // RWX's cap is 3600 s; the longest allowed life keeps one token valid for the whole run.
  const claims = shared.rwxClaims(audience, subject);
  return { ...claims, exp: claims.iat + 3600 };
}

/** A GitHub Actions push token for one repository, with its immutable IDs and a fresh jti. */
export const githubClaims = (audience, repo) => shared.githubClaims(audience, repo);

/** A form-encoded RFC 8693 request body (the standard encoding). */
export function exchangeBody(subjectToken) {
  return new URLSearchParams({ grant_type: GRANT_TYPE, subject_token: subjectToken, subject_token_type: ID_TOKEN_TYPE }).toString();
}

/** Talks to the fake issuer's control endpoints in-process (no HTTP). */
export function issuerControl(handle) {
  async function control(action, body) {
    const response = await handle(new Request(`http://fake-issuer.control/__control/${action}`, { method: "POST", body: JSON.stringify(body) }));
    if (!response.ok) throw new Error(`fake issuer ${action} failed: ${response.status}`);
    return response.json();
  }
  return {
    sign: async (claims) => (await control("sign", { issuer: claims.iss, claims })).token,
    publicKey: (issuer) => control("key", { issuer }),
  };
}

/**
 * Pre-minted GitHub tokens with unique jtis, consumed once each. Tokens live 300 s (+60 s
 * tolerance), so leftovers older than MAX_AGE_MS are dropped rather than risk an expiry.
 */
export class TokenPool {
  static MAX_AGE_MS = 200_000;
  #queue = [];
  #head = 0;
  constructor(sign, audience, repo) {
    this.sign = sign;
    this.audience = audience;
    this.repo = repo;
    this.minted = 0;
  }
  get size() {
    return this.#queue.length - this.#head;
  }
  /** Tops the pool up to `count` fresh bodies, signing `batch` at a time (WebCrypto uses the thread pool). */
  async fill(count, batch = 64) {
    const cutoff = Date.now() - TokenPool.MAX_AGE_MS;
    this.#queue = this.#queue.slice(this.#head).filter((t) => t.at >= cutoff);
    this.#head = 0;
    while (this.#queue.length < count) {
      const n = Math.min(batch, count - this.#queue.length);
      const tokens = await Promise.all(Array.from({ length: n }, () => this.sign(githubClaims(this.audience, this.repo))));
      const at = Date.now();
      for (const token of tokens) this.#queue.push({ body: exchangeBody(token), at });
      this.minted += n;
    }
  }
  /** The next unused body, or undefined when the pool is empty. */
  take() {
    if (this.#head >= this.#queue.length) return undefined;
    return this.#queue[this.#head++].body;
  }
}
