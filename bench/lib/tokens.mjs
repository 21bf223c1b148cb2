/**
 * The bench's CI tokens: claim shapes copied from test/support/issuer.ts (which is
 * TypeScript for workerd; the bench runs in Node), signed for real by the fake issuer
 * in-process, so the worker verifies them against the keys it fetched by discovery.
 */
import { randomUUID } from "node:crypto";

export const ISSUERS = {
  github: "https://token.actions.githubusercontent.com",
  circleci: "https://oidc.circleci.com",
  buildkite: "https://agent.buildkite.com",
  rwx: "https://cloud.rwx.com/mint",
};

export const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";

const now = () => Math.floor(Date.now() / 1000);
const digits = () => String(100000 + Math.floor(Math.random() * 899999999));
const unique = () => Math.random().toString(36).slice(2, 10);

/** An RWX token for one vault subject: no jti, so the same token (and body) is reusable. */
export function rwxClaims(audience, subject) {
  const t = now();
  return {
    iss: ISSUERS.rwx,
    aud: audience,
    sub: subject,
    iat: t,
    // RWX's cap is 3600 s; a long life keeps one token valid for the whole run.
    exp: t + 3600,
    run_id: unique(),
    run_url: "https://cloud.rwx.com/mint/acme/runs/1",
    task_id: unique(),
    task_url: "https://cloud.rwx.com/mint/acme/tasks/1",
  };
}

/** A GitHub Actions push token for one repository, with its immutable IDs and a fresh jti. */
export function githubClaims(audience, repo) {
  const { owner, repository, ownerId, repositoryId } = repo;
  const t = now();
  return {
    iss: ISSUERS.github,
    aud: audience,
    sub: `repo:${owner}/${repository}:ref:refs/heads/main`,
    jti: randomUUID(),
    iat: t,
    nbf: t - 600,
    exp: t + 300,
    repository: `${owner}/${repository}`,
    repository_id: repositoryId,
    repository_owner: owner,
    repository_owner_id: ownerId,
    repository_visibility: "private",
    ref: "refs/heads/main",
    ref_type: "branch",
    sha: "a".repeat(40),
    workflow: "ci",
    workflow_ref: `${owner}/${repository}/.github/workflows/ci.yml@refs/heads/main`,
    job_workflow_ref: `${owner}/${repository}/.github/workflows/ci.yml@refs/heads/main`,
    event_name: "push",
    run_id: digits(),
    run_attempt: "1",
    runner_environment: "github-hosted",
  };
}

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
