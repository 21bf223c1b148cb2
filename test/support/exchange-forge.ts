/**
 * Tools for hostile-token and configuration tests of the exchange: hand-built JWS
 * segments (the fake issuer only signs well-formed RS256 tokens), calls into the worker
 * with an overridden environment, and direct looks at the replay table.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { toWire, type Reason } from "../../src/errors";
import worker from "../../src/index";
import { BASE, expectError } from "./api";
import { expectDocumented } from "./conformance";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

export function base64url(input: Uint8Array | string): string {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export const encodeJson = (value: unknown) => base64url(JSON.stringify(value));

export function segments(token: string): [string, string, string] {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("not a compact JWS");
  return parts as [string, string, string];
}

/** A compact JWS from raw parts (for `alg: none`, header tricks, tampering). */
export const compact = (header: string, payload: string, signature: string) => `${header}.${payload}.${signature}`;

/**
 * The same bytes spelled differently: the last base64url character of a segment whose
 * length is not a multiple of 4 carries unused low bits; setting one keeps the decoded
 * bytes identical. A lenient decoder accepts both spellings.
 */
export function nonCanonical(segment: string): string {
  const rest = segment.length % 4;
  if (rest !== 2 && rest !== 3) throw new Error("segment has no spare bits");
  const last = ALPHABET.indexOf(segment[segment.length - 1]!);
  const unused = rest === 2 ? 0b1111 : 0b11;
  if ((last & unused) !== 0) throw new Error("segment already non-canonical");
  return segment.slice(0, -1) + ALPHABET[last | 1]!;
}

/** The form body of POST /token. */
export function exchangeForm(subjectToken: string, extra: Record<string, string> = {}): URLSearchParams {
  return new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ID_TOKEN, ...extra });
}

/** Calls the worker's fetch handler directly with `env` plus overrides (config is parsed per env object). */
export async function callWorker(request: Request, overrides: Record<string, unknown>): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, ...overrides } as typeof env, ctx);
  await waitOnExecutionContext(ctx);
  await expectDocumented(request, response);
  return response;
}

/** POST /token against a worker with an overridden environment. */
export function exchangeWithEnv(overrides: Record<string, unknown>, subjectToken: string, extra: Record<string, string> = {}) {
  return callWorker(
    new Request(`${BASE}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: exchangeForm(subjectToken, extra),
    }),
    overrides,
  );
}

/** Is this subject token's (issuer, jti) recorded as used? */
export async function replayRecorded(issuer: string, jti: string): Promise<boolean> {
  const row = await env.DB.prepare("SELECT 1 AS found FROM used_subject_tokens WHERE token_key = ?").bind(`${issuer}#${jti}`).first();
  return row !== null;
}

/** The refusal's description must not carry the presented token or any configured value. */
export function expectNoEcho(description: string, ...values: unknown[]): void {
  for (const value of values) {
    if (value === undefined || value === null || value === "") continue;
    expect(description).not.toContain(String(value));
  }
}

/**
 * Asserts a refusal by its reason: the status, wire error code and fixed description that
 * src/errors.ts maps the reason to (so the test names the stage that refused, not prose).
 */
export async function expectRefused(response: Response, reason: Reason) {
  const wire = toWire(reason);
  const body = await expectError(response, wire.status, wire.error);
  expect(body.error_description, `expected reason ${reason}`).toBe(wire.description);
  return body;
}
