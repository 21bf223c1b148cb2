/**
 * The exchange (RFC 8693), as its sequence diagram reads: verify → authorize → mint.
 *
 * Steady state: zero network requests (keys cached in the isolate) and one D1 round
 * trip: for a token with a `jti`, the replay record's insert returning the candidate
 * relationships, on the primary; for a reusable token (no `jti`), the candidates alone, read from the nearest
 * replica. A replica may lag behind the primary, so a refusal decided from a replica's
 * answer is re-read once on the primary before it is given: a relationship an admin has
 * just created admits at once. A refusal leaves nothing stored: a replay record made by a
 * request that is then refused is released.
 *
 * Only one project's relationships are ever read: the audience's, or the one project
 * naming the job's identity, so another tenant's relationships cannot route a job, change
 * its outcome, or cost it rows. Its shadow relationships are evaluated with the others and
 * their verdicts put in the trace; they never change the answer.
 */
import type { Config } from "./config";
import {
  findCandidatesAndClaim,
  findTrustRelationshipById,
  pinTrustRelationship,
  relationshipNamesIssuer,
  releaseSubjectToken,
} from "./db/trust-relationships";
import { issuerKeyStore } from "./db/issuer-keys";
import { onNearest, type D1Handle } from "./db/replicas";
import { StsError } from "./errors";
import type { KeyCache } from "./providers/key-cache";
import type { VerifiedToken } from "./providers/provider";
import { replayRecord, verifyIdToken, type VerifyDeps } from "./providers/verify";
import {
  authorize,
  evaluate,
  shadowVerdicts,
  traceRelationships,
  type Candidates,
  type ExchangeTarget,
  type Grant,
  type ShadowVerdict,
  type Trace,
} from "./trust/authorize";
import { mintJobToken, type Minted } from "./tokens/mint";
import { requireSigningKeys } from "./tokens/signing-keys";

export interface ExchangeRequest extends ExchangeTarget {
  subjectToken: string;
}

/** What verifying a CI token needs, for the exchange and for explain alike. */
export interface VerifyEnvironment {
  config: Config;
  /** Where verification's reads run (persisted CI keys, the pre-fetch gate): the exchange passes the binding, the primary. */
  db: D1Handle;
  keys: KeyCache;
  now: number;
  waitUntil(promise: Promise<unknown>): void;
  noteProvider: VerifyDeps["noteProvider"];
}

export interface ExchangeDeps extends VerifyEnvironment {
  /** The binding: the exchange decides which reads a replica may serve. */
  db: D1Database;
  /** Counts one verified token against its job owner's budget (`VerifiedToken.owner`); throws `rate_limited`. */
  limitOwner(provider: VerifiedToken["provider"], owner: string): Promise<void>;
  /** Filled in as the exchange learns it, so that a refusal is recorded (log line, audit log) as fully as a success. */
  trace?: ExchangeTrace;
}

/** What the exchange had established when it answered, also after a refusal. */
export interface ExchangeTrace {
  /** The subject token, once fully verified (signature, times, audience, claims). */
  token?: VerifiedToken;
  /** The one project's relationships read for it (or that several projects name it), once read. */
  candidates?: Candidates;
  /** What each shadow relationship of the project would have done; set once the relationships are read. */
  shadow?: ShadowVerdict[];
}

export interface ExchangeResult extends Minted {
  token: VerifiedToken;
  grant: Grant;
}

/**
 * The verifier's dependencies for an exchange aimed at `audience`. Explain verifies with the
 * same ones (its project as the audience), so it answers exactly as the exchange would.
 */
export function exchangeVerifyDeps(env: VerifyEnvironment, audience: string | undefined): VerifyDeps {
  return {
    config: env.config,
    keys: env.keys,
    store: issuerKeyStore(env.db),
    now: env.now,
    waitUntil: env.waitUntil,
    noteProvider: env.noteProvider,
    // With an audience, only that project may open a cold fetch, and its refusal is the
    // one its relationships would give a verified token.
    issuerNamed: async (provider, identity) => {
      if (await relationshipNamesIssuer(env.db, provider.name, identity, audience)) return true;
      if (audience !== undefined) throw new StsError("target_invalid", undefined, "no relationship of this project names this issuer");
      return false;
    },
  };
}

export async function exchange(req: ExchangeRequest, deps: ExchangeDeps): Promise<ExchangeResult> {
  // Fail on configuration before touching anything, so a misconfigured service burns no jti.
  const signingKeys = await requireSigningKeys(deps.config.signingKeys);
  const token = await verifyIdToken(req.subjectToken, exchangeVerifyDeps(deps, req.audience));
  if (deps.trace) deps.trace.token = token;
  const replay = replayRecord(token);
  // A token with a jti writes its replay record, so its one statement runs on the primary (the
  // binding itself: no session, whose bookmark nothing here would read); a reusable token
  // writes nothing (but a first pin), so the nearest replica may answer.
  const primary = deps.db;
  const db: D1Handle = replay ? primary : onNearest(deps.db);
  // The owner's budget counts only verified tokens (forged ones must not spend anyone's
  // budget); its call overlaps the database round trip.
  const [found, admitted] = await Promise.allSettled([
    findCandidatesAndClaim(db, token.provider, token.identity, req.audience, replay),
    deps.limitOwner(token.provider, token.owner),
  ]);
  if (found.status === "rejected") throw found.reason;
  let candidates = found.value;
  // Every check of every candidate, once: the verdict below and the shadow record read it.
  let trace = traceRelationships(token, candidates);
  // A replica cannot prove that no relationship admits the job: it may not have seen the
  // one an admin created a moment ago. Its refusals are re-read on the primary, once.
  if (!replay && admitted.status === "fulfilled" && refuses(trace, req)) {
    candidates = await findCandidatesAndClaim(primary, token.provider, token.identity, req.audience, undefined);
    trace = traceRelationships(token, candidates);
  }
  if (deps.trace) {
    deps.trace.candidates = candidates;
    deps.trace.shadow = shadowVerdicts(trace, req);
  }
  if (!candidates.firstUse) throw new StsError("token_replayed");
  try {
    if (admitted.status === "rejected") throw admitted.reason;
    const grant = authorize(trace, req);
    // Pins are compare-and-set on the primary, whatever the candidates were read from.
    if (grant.pins) await pin(primary, token, grant);
    const minted = await mintJobToken(token, grant, { publicUrl: deps.config.publicUrl, signingKeys, now: deps.now });
    return { ...minted, token, grant };
  } catch (error) {
    // The refusal is what the client can act on; if releasing the record fails too, the
    // token stays spent (the job can ask its CI for a new one), which fails closed.
    if (candidates.claimedKey) await releaseSubjectToken(db, candidates.claimedKey).catch(() => undefined);
    throw error;
  }
}

/** Would these candidates refuse the request? (`authorize` is pure: asking twice costs nothing.) */
function refuses(trace: Trace, req: ExchangeTarget): boolean {
  try {
    authorize(trace, req);
    return false;
  } catch (error) {
    if (error instanceof StsError) return true;
    throw error;
  }
}

/**
 * Stores first-seen immutable IDs. If another exchange pinned the relationship first,
 * this token must agree with what it pinned.
 */
async function pin(db: D1Handle, token: VerifiedToken, grant: Grant): Promise<void> {
  if (await pinTrustRelationship(db, grant.relationship, grant.pins!)) return;
  const current = await findTrustRelationshipById(db, grant.relationship.id);
  if (!current || !evaluate(token, current).admits) throw new StsError("no_trust_relationship", undefined, "lost pin race");
}
