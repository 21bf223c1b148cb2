/**
 * The exchange (RFC 8693), as its sequence diagram reads: verify → authorize → mint.
 *
 * Steady state: zero network requests (keys cached in the isolate) and one D1 round
 * trip (candidate relationships + replay record, batched). A refusal leaves nothing
 * stored: a replay record made by a request that is then refused is released.
 *
 * Only one project's relationships are ever read: the audience's, or the one project
 * naming the job's identity, so another tenant's relationships cannot route a job, change
 * its outcome, or cost it rows.
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
import { StsError } from "./errors";
import type { KeyCache } from "./providers/key-cache";
import type { VerifiedToken } from "./providers/provider";
import { CLOCK_TOLERANCE_SECONDS, verifyIdToken, type VerifyDeps } from "./providers/verify";
import { authorize, evaluate, type Candidates, type ExchangeTarget, type Grant } from "./trust/authorize";
import { mintJobToken, type Minted } from "./tokens/mint";
import { requireSigningKeys } from "./tokens/signing-keys";

export interface ExchangeRequest extends ExchangeTarget {
  subjectToken: string;
}

export interface ExchangeDeps {
  config: Config;
  db: D1Database;
  keys: KeyCache;
  now: number;
  waitUntil(promise: Promise<unknown>): void;
  /** Counts one verified token against its job owner's budget (`VerifiedToken.owner`); throws `rate_limited`. */
  limitOwner(provider: VerifiedToken["provider"], owner: string): Promise<void>;
  noteProvider: VerifyDeps["noteProvider"];
  /** Filled in as the exchange learns it, so a refusal's audit event knows as much as a success's. */
  trace?: ExchangeTrace;
}

/** What the exchange had established when it answered (the audit log reads it, also after a refusal). */
export interface ExchangeTrace {
  /** The subject token, once fully verified (signature, times, audience, claims). */
  token?: VerifiedToken;
  /** The one project's relationships read for it (or that several projects name it), once read. */
  candidates?: Candidates;
}

export interface ExchangeResult extends Minted {
  token: VerifiedToken;
  grant: Grant;
}

export async function exchange(req: ExchangeRequest, deps: ExchangeDeps): Promise<ExchangeResult> {
  // Fail on configuration before touching anything, so a misconfigured service burns no jti.
  const signingKeys = await requireSigningKeys(deps.config.signingKeys);
  const token = await verifyIdToken(req.subjectToken, {
    config: deps.config,
    keys: deps.keys,
    store: issuerKeyStore(deps.db),
    now: deps.now,
    waitUntil: deps.waitUntil,
    noteProvider: deps.noteProvider,
    // With an audience, only that project may open a cold fetch, and its refusal is the
    // one its relationships would give a verified token.
    issuerNamed: async (provider, identity) => {
      if (await relationshipNamesIssuer(deps.db, provider.name, identity, req.audience)) return true;
      if (req.audience !== undefined) throw new StsError("target_invalid", undefined, "no relationship of this project names this issuer");
      return false;
    },
  });
  if (deps.trace) deps.trace.token = token;
  const replay = token.jti ? { key: `${token.issuer}#${token.jti}`, expiresAt: token.expiresAt + CLOCK_TOLERANCE_SECONDS } : undefined;
  // The owner's budget counts only verified tokens (forged ones must not spend anyone's
  // budget); its call overlaps the database round trip.
  const [found, admitted] = await Promise.allSettled([
    findCandidatesAndClaim(deps.db, token.provider, token.identity, req.audience, replay),
    deps.limitOwner(token.provider, token.owner),
  ]);
  if (found.status === "rejected") throw found.reason;
  const candidates = found.value;
  if (deps.trace) deps.trace.candidates = candidates;
  if (!candidates.firstUse) throw new StsError("token_replayed");
  try {
    if (admitted.status === "rejected") throw admitted.reason;
    const grant = authorize(token, candidates, req);
    if (grant.pins) await pin(deps.db, token, grant);
    const minted = await mintJobToken(token, grant, { publicUrl: deps.config.publicUrl, signingKeys, now: deps.now });
    return { ...minted, token, grant };
  } catch (error) {
    // The refusal is what the client can act on; if releasing the record fails too, the
    // token stays spent (the job can ask its CI for a new one), which fails closed.
    if (candidates.claimedKey) await releaseSubjectToken(deps.db, candidates.claimedKey).catch(() => undefined);
    throw error;
  }
}

/**
 * Stores first-seen immutable IDs. If another exchange pinned the relationship first,
 * this token must agree with what it pinned.
 */
async function pin(db: D1Database, token: VerifiedToken, grant: Grant): Promise<void> {
  if (await pinTrustRelationship(db, grant.relationship, grant.pins!)) return;
  const current = await findTrustRelationshipById(db, grant.relationship.id);
  if (!current || !evaluate(token, current).admits) throw new StsError("no_trust_relationship", undefined, "lost pin race");
}
