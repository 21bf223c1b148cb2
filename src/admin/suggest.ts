/**
 * `POST /v1/projects/{project_id}/trust-relationships/suggest`: for the project's admins,
 * the tightest relationship that admits a given subject token (`trust/suggest.ts`), from a token the verifier has
 * established as really issued by its CI.
 *
 * The verifier runs in recording mode: format, header, issuer, key, signature and claims
 * must pass (otherwise this answers with the exchange's own refusal for the first that
 * failed), while an expired token, or one for another audience, still gets its suggestion
 * with a warning — it was validly signed, so it says truly which job it came from.
 *
 * Unlike the exchange, it may fetch the keys of a per-tenant issuer (a CircleCI
 * organization, a GitHub enterprise) that no relationship of the project names yet: that
 * relationship is what the admin is asking for. The caller is a project admin, within the
 * budget its door gives these calls. Nothing is read from or written to the project; the
 * replay record is not looked at.
 */
import type { StsError } from "../errors";
import { exchangeVerifyDeps } from "../exchange";
import { inspectIdToken, type Stage } from "../providers/verify";
import { suggestRelationship, type Suggestion } from "../trust/suggest";
import type { Input } from "./context";
import { projectAndToken, verifyEnvironment, type InspectContext, type SubjectTokenInput } from "./explain";

/** Stages that must pass for the token's claims to say which job it came from. */
const REQUIRED: readonly Stage[] = ["format", "header", "issuer", "key", "signature", "claims"];

export async function suggestTrustRelationship(ctx: InspectContext, projectId: string, input: Input<SubjectTokenInput>): Promise<Suggestion> {
  const { project, subjectToken } = await projectAndToken(ctx, projectId, input);
  const deps = { ...exchangeVerifyDeps(verifyEnvironment(ctx), project.id), issuerNamed: async () => true };
  const inspection = await inspectIdToken(subjectToken, deps);
  const refused = inspection.stages.find((s): s is typeof s & { error: StsError } => s.error !== undefined && REQUIRED.includes(s.stage));
  if (refused) throw refused.error;
  // With every required stage passed the claims named an identity, so the token is there.
  return suggestRelationship(inspection.token!, inspection.stages, ctx.config.audience);
}
