/**
 * A cookie-keeping stand-in for a browser on the settings page, calling the worker's real
 * fetch handler in workerd (optionally with an overridden environment, as the robustness
 * suite does). It sends what Chromium sends with a same-origin form post (`Origin` and
 * `Sec-Fetch-Site`) unless a test says otherwise.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Env } from "../../src/config";
import worker from "../../src/index";
import { expectDocumented } from "../support/conformance";

export const BASE = "https://sts.test";
export const SAME_ORIGIN = { origin: BASE, "sec-fetch-site": "same-origin" } as const;

export type WorkerEnv = typeof env;

export class UiBrowser {
  readonly cookies = new Map<string, string>();
  readonly env: WorkerEnv;

  constructor(overrides: Partial<Env> = {}) {
    this.env = { ...env, ...overrides } as WorkerEnv;
  }

  /** The same cookies, another environment (e.g. after a secret was rotated). */
  withEnv(overrides: Partial<Env>): UiBrowser {
    const other = new UiBrowser(overrides);
    for (const [k, v] of this.cookies) other.cookies.set(k, v);
    return other;
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0 && !headers.has("cookie")) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const ctx = createExecutionContext();
    const request = new Request(`${BASE}${path}`, { ...init, headers, redirect: "manual" });
    const response = await worker.fetch(request, this.env, ctx);
    await waitOnExecutionContext(ctx);
    await expectDocumented(request, response);
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      const name = pair!.slice(0, at);
      const value = pair!.slice(at + 1);
      if (/Max-Age=0/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  get(path: string): Promise<Response> {
    return this.fetch(path);
  }

  post(path: string, fields: Record<string, string>, headers: Record<string, string> = SAME_ORIGIN): Promise<Response> {
    return this.fetch(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields),
    });
  }

  /** The CSRF field of the first form on a page. */
  async csrfOf(path: string): Promise<string> {
    const html = await (await this.get(path)).text();
    const match = /name="csrf" value="([^"]+)"/.exec(html);
    expect(match, `no csrf field on ${path}`).not.toBeNull();
    return match![1]!;
  }

  async signIn(token: string): Promise<Response> {
    const csrf = await this.csrfOf("/settings/sign-in");
    return this.post("/settings/sign-in", { csrf, token });
  }

  /** Signs in and expects the redirect into the page. */
  async signedIn(token: string): Promise<this> {
    const response = await this.signIn(token);
    expect(response.status, await response.clone().text()).toBe(303);
    expect(response.headers.get("location")).toBe("/settings");
    return this;
  }

  get session(): string | undefined {
    return this.cookies.get("__Host-sts_session");
  }
}

/** The stable error code a refusal page carries. */
export function errorCodeOf(html: string): string | undefined {
  return /data-error="([^"]+)"/.exec(html)?.[1];
}

export async function expectPageError(response: Response, status: number, code: string): Promise<string> {
  const html = await response.text();
  expect({ status: response.status, code: errorCodeOf(html) }).toEqual({ status, code });
  expect(response.headers.get("content-type")).toMatch(/^text\/html/);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return html;
}

export async function sessionRows(): Promise<Record<string, unknown>[]> {
  const { results } = await env.DB.prepare("SELECT * FROM ui_sessions").all();
  return results;
}

export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
