/**
 * `POST /v1/projects/{project_id}/explain`: why would (or does) this subject token get
 * what it gets from `POST /token` with this project as `audience`? For the project's
 * admins; `trust/explain.ts` renders the answer.
 *
 * The I/O around that renderer: the exchange's own verifier run in recording mode with the
 * exchange's own dependencies (`exchangeVerifyDeps`: the same key cache and the same
 * pre-fetch gate, for this project), then one D1 round trip reading every relationship of
 * the project and whether the token's replay record exists. It mints nothing, consumes no
 * `jti`, pins nothing and writes nothing but its audit record (what it concluded, who asked).
 */
import * as z from "../schema";
import { authorizeProject } from "../access/reach";
import type { ProviderName } from "../config";
import { findProjectRelationshipsAndReplay } from "../db/trust-relationships";
import { exchangeVerifyDeps, type VerifyEnvironment } from "../exchange";
import type { KeyCache } from "../providers/key-cache";
import { inspectIdToken, replayRecord } from "../providers/verify";
import { loadSigningKeys } from "../tokens/signing-keys";
import { explain, type Explanation } from "../trust/explain";
import type { Changed } from "./changes";
import { readInput, type AdminContext, type Input } from "./context";

/** The body of explain and suggest: the pasted token (its size is the verifier's first check). */
export const SubjectTokenInput = z.strictObject({ subject_token: z.string().check(z.minLength(1)) });
export type SubjectTokenInput = z.infer<typeof SubjectTokenInput>;

/** What explain and suggest need besides an admin verb's context: the CI keys, and the door's budget for these calls. */
export interface InspectContext extends AdminContext {
  keys: KeyCache;
  noteProvider(name: ProviderName): void;
  /**
   * Spends one call of the caller's budget for explain and suggest (each runs the whole
   * verifier; suggest may open a first key fetch); throws `rate_limited`. Asked once the
   * caller may act, before the token is looked at.
   */
  limit(): Promise<void>;
}

/** The project, once the caller administers it and has budget left, and the token it sent. */
export async function projectAndToken(ctx: InspectContext, projectId: string, input: Input<SubjectTokenInput>) {
  const project = await authorizeProject(ctx, projectId, "admin");
  await ctx.limit();
  const { subject_token } = await readInput(input);
  return { project, subjectToken: subject_token };
}

export const verifyEnvironment = (ctx: InspectContext): VerifyEnvironment => ({
  config: ctx.config,
  db: ctx.db,
  keys: ctx.keys,
  now: ctx.now,
  waitUntil: ctx.waitUntil,
  noteProvider: ctx.noteProvider,
});

/** The explanation, and its audit record (explain's only write, made by the door that recorded it). */
export async function explainSubjectToken(ctx: InspectContext, projectId: string, input: Input<SubjectTokenInput>): Promise<Changed<Explanation>> {
  const { project, subjectToken } = await projectAndToken(ctx, projectId, input);
  const inspection = await inspectIdToken(subjectToken, exchangeVerifyDeps(verifyEnvironment(ctx), project.id));
  const replay = inspection.token ? replayRecord(inspection.token) : undefined;
  const [{ relationships, usedBefore }, signingKeys] = await Promise.all([
    findProjectRelationshipsAndReplay(ctx.db, project.id, replay?.key),
    loadSigningKeys(ctx.config.signingKeys),
  ]);
  const explanation = explain({
    projectId: project.id,
    now: ctx.now,
    audience: ctx.config.audience,
    issuers: ctx.config.issuers,
    inspection,
    relationships,
    usedBefore,
    signingKeysConfigured: signingKeys !== null,
  });
  const { token, exchange } = explanation;
  const after = {
    provider: token.provider,
    signature_verified: token.signature_verified,
    status: exchange.status,
    error: exchange.error,
    relationship_id: exchange.relationship_id,
  };
  return { result: explanation, change: { action: "project.explain", orgId: project.org_id, projectId: project.id, after } };
}
