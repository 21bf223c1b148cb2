/**
 * D1 read replication at `POST /token`: which reads a replica may serve, and that a replica
 * lagging behind the primary never refuses a job the primary would admit.
 *
 * The worker gets a recording wrapper around the real D1 binding (`meteredDb`): every
 * `withSession` call with its constraint, and every round trip with the session it ran in.
 * A lagging replica is simulated by a wrapper whose reads miss the rows just written
 * (`laggingReplica`); what must reach the primary runs on the binding itself ("binding"),
 * never through it.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createProject, decodeJwt } from "../support/api";
import { meteredDb } from "../support/d1-meter";
import { exchangeWithEnv, expectRefused } from "../support/exchange-forge";
import { seedGithub, seedRwx } from "../support/exchange-seed";
import { ISSUERS, rwxClaims, signToken, uuid } from "../support/issuer";
import { hiding } from "../support/replica";

async function status(response: Response) {
  const body = (await response.json()) as { access_token?: string; error?: string };
  return { status: response.status, error: body.error, body };
}

describe("a reusable token (no jti: CircleCI, RWX)", () => {
  it("is read from the nearest replica, in one round trip", async () => {
    const { claims } = await seedRwx();
    const token = await signToken(ISSUERS.rwx, claims);
    await exchangeWithEnv({}, token); // warm the key cache: what follows is the steady state
    const meter = meteredDb(env.DB);
    expect((await status(await exchangeWithEnv({ DB: meter.db }, token))).status).toBe(200);
    expect(meter.sessions).toEqual(["first-unconstrained"]);
    expect(meter.trips.map((t) => t.via)).toEqual(["first-unconstrained"]);
  });

  it("is admitted through a relationship an admin just created that the replica has not seen yet, by re-reading on the primary", async () => {
    const { claims, relationshipId } = await seedRwx();
    const token = await signToken(ISSUERS.rwx, claims);
    await exchangeWithEnv({}, token);
    const meter = meteredDb(env.DB, hiding(new Set([relationshipId])));
    const answer = await status(await exchangeWithEnv({ DB: meter.db }, token));
    expect(answer.status).toBe(200);
    expect(decodeJwt(answer.body.access_token!).trust_relationship_id).toBe(relationshipId);
    // The replica's answer (nothing) would refuse: one re-read on the primary, then minted.
    expect(meter.sessions).toEqual(["first-unconstrained"]);
    expect(meter.trips.map((t) => t.via)).toEqual(["first-unconstrained", "binding"]);
  });

  it("would be refused by the lagging replica alone: the primary's re-read is what admits it", async () => {
    const { claims, relationshipId } = await seedRwx();
    const token = await signToken(ISSUERS.rwx, claims);
    await exchangeWithEnv({}, token);
    // The control: every session, the primary's too, reads through the lagging replica.
    const lagging = hiding(new Set([relationshipId]));
    const meter = meteredDb(lagging, lagging);
    await expectRefused(await exchangeWithEnv({ DB: meter.db }, token), "no_trust_relationship");
    expect(meter.sessions).toEqual(["first-unconstrained"]);
  });

  it("admits through the relationship the primary has, with an audience, when the replica lacks it", async () => {
    const { claims, projectId, relationshipId } = await seedRwx();
    const token = await signToken(ISSUERS.rwx, claims);
    await exchangeWithEnv({}, token, { audience: projectId });
    const meter = meteredDb(env.DB, hiding(new Set([relationshipId])));
    expect((await status(await exchangeWithEnv({ DB: meter.db }, token, { audience: projectId }))).status).toBe(200);
    expect(meter.trips.map((t) => t.via)).toEqual(["first-unconstrained", "binding"]);
  });

  it("is refused with the wire code after one re-read on the primary when no relationship names it anywhere", async () => {
    await createProject();
    const token = await signToken(ISSUERS.rwx, rwxClaims({ sub: `vaults/nobody-${uuid()}` }));
    await exchangeWithEnv({}, token);
    const meter = meteredDb(env.DB);
    await expectRefused(await exchangeWithEnv({ DB: meter.db }, token), "no_trust_relationship");
    expect(meter.trips.map((t) => t.via)).toEqual(["first-unconstrained", "binding"]);
  });
});

describe("a token with a jti (GitHub, Buildkite)", () => {
  it("keeps its single round trip on the primary: the replay record's insert, returning the relationships", async () => {
    const { claims } = await seedGithub();
    await exchangeWithEnv({}, await signToken(ISSUERS.github, { ...claims, jti: uuid() })); // warm keys; pins the IDs
    const meter = meteredDb(env.DB);
    const answer = await status(await exchangeWithEnv({ DB: meter.db }, await signToken(ISSUERS.github, { ...claims, jti: uuid() })));
    expect(answer.status).toBe(200);
    expect(meter.sessions).toEqual([]);
    expect(meter.trips).toHaveLength(1);
    expect(meter.trips[0]!.via).toBe("binding");
    expect(meter.trips[0]!.sql).toHaveLength(1);
    expect(meter.trips[0]!.sql[0]).toMatch(/^INSERT INTO used_subject_tokens .* RETURNING/s);
  });

  it("never reads a replica, so a relationship created a moment ago admits it in that one batch", async () => {
    const { claims, relationshipId } = await seedGithub();
    await exchangeWithEnv({}, await signToken(ISSUERS.github, { ...claims, jti: uuid() }));
    const meter = meteredDb(env.DB, hiding(new Set([relationshipId])));
    expect((await status(await exchangeWithEnv({ DB: meter.db }, await signToken(ISSUERS.github, { ...claims, jti: uuid() })))).status).toBe(200);
    expect(meter.trips.map((t) => t.via)).toEqual(["binding"]);
  });

  it("is refused as a replay on the primary, whose insert returned nothing, then reads the relationships that attribute the refusal", async () => {
    const { claims } = await seedGithub();
    const token = await signToken(ISSUERS.github, { ...claims, jti: uuid() });
    expect((await status(await exchangeWithEnv({}, token))).status).toBe(200);
    const meter = meteredDb(env.DB);
    await expectRefused(await exchangeWithEnv({ DB: meter.db }, token), "token_replayed");
    expect(meter.trips.map((t) => t.via)).toEqual(["binding", "binding"]);
    expect(meter.trips.map((t) => t.sql[0]!.split(" ")[0])).toEqual(["INSERT", "WITH"]);
  });
});
