/**
 * The admin API and the exchange, called from Node as an operator, an org admin or a CI
 * job would, to seed what the browser tests look at.
 */
import { expect } from "vitest";
import { githubClaims } from "../../support/ci-claims.mjs";
import type { RunningWorker } from "./worker.js";

export function apiOf(worker: RunningWorker) {
  async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token = worker.secrets.ADMIN_TOKEN): Promise<T> {
    const response = await fetch(`${worker.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    expect(response.ok, `${method} ${path} -> ${response.status} ${text}`).toBe(true);
    return (text === "" ? {} : JSON.parse(text)) as T;
  }

  /** A GitHub Actions ID token for `owner/repository`, signed by the stand-in issuer (`overrides` on top of realistic claims). */
  async function githubIdToken(owner: string, repository: string, overrides: Record<string, unknown> = {}): Promise<string> {
    const issuer = `${worker.issuerOrigin}/github`;
    const signed = await fetch(`${worker.issuerOrigin}/__control/sign`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ issuer, claims: githubClaims(worker.audience, { owner, repository }, { iss: issuer, ...overrides }) }),
    });
    return ((await signed.json()) as { token: string }).token;
  }

  /** POST /token with this project as `audience`, as a job would: the response's status and body. */
  async function exchange(idToken: string, projectId: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${worker.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: idToken,
        subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
        audience: projectId,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  type Created = { id: string };
  type Token = { id: string; token: string };
  return {
    call,
    org: (name: string) => call<Created>("POST", "/v1/orgs", { name }),
    project: (orgId: string, name: string) => call<Created>("POST", `/v1/orgs/${orgId}/projects`, { name }),
    /** A user; the email is made unique (a readable one keeps its local part: `ada@example.com` → `ada+3f2a…@example.com`). */
    user: (name: string, email?: string) =>
      call<Created>("POST", "/v1/users", { name, email: email ? email.replace("@", `+${crypto.randomUUID().slice(0, 8)}@`) : `${crypto.randomUUID()}@example.com` }),
    member: (orgId: string, userId: string, role: "admin" | "member") => call("POST", `/v1/orgs/${orgId}/members`, { user_id: userId, role }),
    token: (path: string, description = "") => call<Token>("POST", path, { description }),
    deleteToken: (path: string) => call("DELETE", path),
    githubIdToken,
    exchange,
    /** A real job token: a GitHub relationship, an ID token from the stand-in issuer, POST /token. */
    async jobToken(projectId: string): Promise<string> {
      const owner = `acme-${crypto.randomUUID().slice(0, 8)}`;
      await call("POST", `/v1/projects/${projectId}/trust-relationships`, { provider: "github", owner, repository: "widgets" });
      const { status, body } = await exchange(await githubIdToken(owner, "widgets"), projectId);
      expect(status, JSON.stringify(body)).toBe(200);
      return body.access_token as string;
    },
  };
}
