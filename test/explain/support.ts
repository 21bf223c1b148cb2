/**
 * Calling explain and suggest as a project admin would, and reading their answers. The
 * per-credential EXPLAIN_LIMITER is unbound here (one operator makes every call of a file);
 * its own tests bind a stand-in.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Explanation, ExplainedCheck, ExplainedRelationship, ExplainedStage } from "../../src/trust/explain";
import type { Suggestion } from "../../src/trust/suggest";
import { BASE } from "../support/api";
import { callWorker } from "../support/exchange-forge";

export function post(path: string, body: unknown, credential: string = env.ADMIN_TOKEN, overrides: Record<string, unknown> = {}): Promise<Response> {
  const request = new Request(`${BASE}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return callWorker(request, { EXPLAIN_LIMITER: undefined, ...overrides });
}

async function ok<T>(response: Response): Promise<T> {
  const text = await response.text();
  expect(response.status, text.slice(0, 500)).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return JSON.parse(text) as T;
}

export async function explain(projectId: string, subjectToken: string, overrides: Record<string, unknown> = {}): Promise<Explanation> {
  return ok<Explanation>(await post(`/v1/projects/${projectId}/explain`, { subject_token: subjectToken }, env.ADMIN_TOKEN, overrides));
}

export async function suggest(projectId: string, subjectToken: string): Promise<Suggestion> {
  return ok<Suggestion>(await post(`/v1/projects/${projectId}/trust-relationships/suggest`, { subject_token: subjectToken }));
}

export function stage(explanation: Explanation, name: ExplainedStage["stage"]): ExplainedStage {
  const found = explanation.verification.find((s) => s.stage === name);
  if (!found) throw new Error(`no stage ${name}`);
  return found;
}

export function relationship(explanation: Explanation, id: string): ExplainedRelationship {
  const found = explanation.relationships.find((r) => r.id === id);
  if (!found) throw new Error(`no relationship ${id}`);
  return found;
}

/** The one check of a stage or relationship with this name (and, for relationships, field). */
export function check(checks: readonly ExplainedCheck[], name: string, field?: string): ExplainedCheck {
  const found = checks.filter((c) => c.check === name && (field === undefined || c.field === field));
  if (found.length !== 1) throw new Error(`${found.length} checks ${name} ${field ?? ""}: ${JSON.stringify(checks)}`);
  return found[0]!;
}

export const hintCodes = (c: ExplainedCheck): string[] => c.hints.map((h) => h.code);

export const stageResults = (explanation: Explanation) => Object.fromEntries(explanation.verification.map((s) => [s.stage, s.result]));
