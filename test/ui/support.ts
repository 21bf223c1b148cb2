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
import type { AdminContext } from "../../src/admin/context";
import { createOrganization } from "../../src/admin/organizations";
import { createProject } from "../../src/admin/projects";
import { createStaticToken, type OwnerRef } from "../../src/admin/static-tokens";
import { createTrustRelationship, parseRelationship } from "../../src/admin/trust-relationships";
import { addMember, createUser } from "../../src/admin/users";
import { configFrom } from "../../src/config";
import { snapshotDb } from "../robustness/support";

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

/** Every stored row (`snapshotDb`), minus the last-used time a signed-in session's credential may update. */
export function storedState(): Promise<Record<string, string>> {
  return snapshotDb(env.DB, ["static_tokens.last_used_at"]);
}

/** The admin verbs in-process, as the operator: seeds that spend no request budget of the operator's. */
function operatorContext(): AdminContext {
  return { db: env.DB, config: configFrom(env), principal: { kind: "operator" }, now: Math.floor(Date.now() / 1000), waitUntil: () => undefined };
}

export const seed = {
  async org(name: string) {
    return (await createOrganization(operatorContext(), { name })).result.id;
  },
  async project(orgId: string, name = "app") {
    return (await createProject(operatorContext(), orgId, { name })).result.id;
  },
  async user(name = "Ada") {
    return (await createUser(operatorContext(), { name, email: `${crypto.randomUUID()}@example.com` })).result.id;
  },
  async member(orgId: string, userId: string, role: "admin" | "member") {
    await addMember(operatorContext(), orgId, { user_id: userId, role });
  },
  async token(owner: OwnerRef, description: string) {
    return (await createStaticToken(operatorContext(), owner, { description })).result;
  },
  async relationship(projectId: string, body: Record<string, unknown>) {
    return (await createTrustRelationship(operatorContext(), projectId, parseRelationship(body))).result;
  },
};

/**
 * One organization as the forms meet it: a project with a GitHub relationship and a
 * project token, an organization token, an admin and a plain member (each with a user
 * token), and a third user who is a member to be removed.
 */
export async function seedOrg(name = "acme") {
  const orgId = await seed.org(name);
  const projectId = await seed.project(orgId);
  const [adminUser, memberUser, otherUser] = [await seed.user("Ada"), await seed.user("Max"), await seed.user("Eve")];
  await seed.member(orgId, adminUser, "admin");
  await seed.member(orgId, memberUser, "member");
  await seed.member(orgId, otherUser, "member");
  const relationship = await seed.relationship(projectId, { provider: "github", owner: "acme", repository: "widgets" });
  return {
    orgId,
    projectId,
    adminUser,
    memberUser,
    otherUser,
    relationshipId: relationship.id,
    tokens: {
      adminUser: await seed.token({ kind: "user", userId: adminUser }, "admin laptop"),
      memberUser: await seed.token({ kind: "user", userId: memberUser }, "member laptop"),
      org: await seed.token({ kind: "organization", orgId }, "org bot"),
      project: await seed.token({ kind: "project", projectId }, "project bot"),
    },
  };
}
export type SeededOrg = Awaited<ReturnType<typeof seedOrg>>;

/** The HTML of one element by ID (its opening tag). */
export function tagWithId(html: string, id: string): string | undefined {
  return new RegExp(`<[a-z]+[^>]*\\bid="${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"[^>]*>`).exec(html)?.[0];
}

/**
 * The API's error sits beside the field: an element `<input id>-error` naming the field,
 * and the input marked `aria-invalid` and described by it. Returns the error's text.
 */
export function expectFieldError(html: string, inputId: string, field: string): string {
  const input = tagWithId(html, inputId);
  expect(input, `no #${inputId}`).toBeDefined();
  expect(input).toContain('aria-invalid="true"');
  expect(/aria-describedby="([^"]*)"/.exec(input!)?.[1]?.split(" ")).toContain(`${inputId}-error`);
  const error = new RegExp(`<p class="field-error" id="${inputId}-error" data-error="[a-z_]+" data-field="${field.replace(".", "\\.")}">([^<]*)</p>`).exec(html);
  expect(error, `no error beside #${inputId} naming ${field}`).not.toBeNull();
  return decodeText(error![1]!);
}


/** Text as Hono's JSX escapes it (&, <, >, ", '), decoded. */
export function decodeText(html: string): string {
  return html.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}
