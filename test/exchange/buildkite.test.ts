/**
 * Buildkite ID tokens at the wire: slugs, and the organization/pipeline UUIDs pinned from
 * `organization_id`/`pipeline_id` (or given at creation) and enforced from then on.
 */
import { describe, expect, it } from "vitest";
import { decodeJwt, exchangeToken } from "../support/api";
import { expectRefused } from "../support/exchange-forge";
import { expectExchanged, listedRelationship, seedBuildkite } from "../support/exchange-seed";
import { ISSUERS, now, signToken, uuid } from "../support/issuer";

const sign = (claims: Record<string, unknown>) => signToken(ISSUERS.buildkite, claims);
const fresh = (claims: Record<string, unknown>, overrides: Record<string, unknown> = {}) => ({ ...claims, jti: uuid(), ...overrides });
const withoutIds = (claims: Record<string, unknown>) => {
  const { organization_id: _o, pipeline_id: _p, ...rest } = claims;
  return fresh(rest);
};

describe("Buildkite: accepted", () => {
  it("exchanges a token matched by organization and pipeline slugs", async () => {
    const { claims, projectId, relationshipId } = await seedBuildkite();
    const body = await expectExchanged(await sign(claims));
    expect(decodeJwt(body.access_token)).toMatchObject({
      project_id: projectId,
      trust_relationship_id: relationshipId,
      ci: {
        provider: "buildkite",
        issuer: ISSUERS.buildkite,
        subject: claims.sub,
        organization_slug: claims.organization_slug,
        pipeline_slug: claims.pipeline_slug,
        build_number: 42,
        build_branch: "main",
        build_commit: claims.build_commit,
      },
    });
  });

  it("pins organization_uuid and pipeline_uuid from the first token carrying organization_id and pipeline_id", async () => {
    const ids = { organization_id: uuid(), pipeline_id: uuid() };
    const { claims, projectId, relationshipId } = await seedBuildkite(ids);
    await expectExchanged(await sign(claims));
    expect(await listedRelationship(projectId, relationshipId)).toMatchObject({
      organization_uuid: ids.organization_id,
      pipeline_uuid: ids.pipeline_id,
    });
    await expectExchanged(await sign(fresh(claims)));
  });

  it("pins nothing while tokens carry no organization_id or pipeline_id", async () => {
    const { claims, projectId, relationshipId } = await seedBuildkite();
    await expectExchanged(await sign(claims));
    await expectExchanged(await sign(fresh(claims)));
    const listed = await listedRelationship(projectId, relationshipId);
    expect(listed.organization_uuid).toBeUndefined();
    expect(listed.pipeline_uuid).toBeUndefined();
  });

  it("accepts a token whose IDs equal the UUIDs given at creation", async () => {
    const ids = { organization_id: uuid(), pipeline_id: uuid() };
    const { claims } = await seedBuildkite(ids, { organization_uuid: ids.organization_id, pipeline_uuid: ids.pipeline_id });
    await expectExchanged(await sign(claims));
  });
});

describe("Buildkite: refused", () => {
  it("refuses a token whose pipeline_id differs from the pinned one (pipeline re-created with the same slug)", async () => {
    const { claims } = await seedBuildkite({ organization_id: uuid(), pipeline_id: uuid() });
    await expectExchanged(await sign(claims));
    await expectRefused(await exchangeToken(await sign(fresh(claims, { pipeline_id: uuid() }))), "no_trust_relationship");
  });

  it("refuses a token whose organization_id differs from the pinned one", async () => {
    const { claims } = await seedBuildkite({ organization_id: uuid(), pipeline_id: uuid() });
    await expectExchanged(await sign(claims));
    await expectRefused(await exchangeToken(await sign(fresh(claims, { organization_id: uuid() }))), "no_trust_relationship");
  });

  it("refuses a token without organization_id and pipeline_id once they are pinned", async () => {
    const { claims } = await seedBuildkite({ organization_id: uuid(), pipeline_id: uuid() });
    await expectExchanged(await sign(claims));
    await expectRefused(await exchangeToken(await sign(withoutIds(claims))), "no_trust_relationship");
  });

  for (const claim of ["organization_id", "pipeline_id"]) {
    it(`refuses a token that leaves out only ${claim} once it is pinned`, async () => {
      const { claims } = await seedBuildkite({ organization_id: uuid(), pipeline_id: uuid() });
      await expectExchanged(await sign(claims));
      const { [claim]: _omitted, ...rest } = claims as Record<string, unknown>;
      await expectRefused(await exchangeToken(await sign(fresh(rest))), "no_trust_relationship");
    });
  }

  it("refuses a token without the IDs when the UUIDs were given at creation", async () => {
    const { claims } = await seedBuildkite({}, { organization_uuid: uuid(), pipeline_uuid: uuid() });
    await expectRefused(await exchangeToken(await sign(claims)), "no_trust_relationship");
  });

  it("refuses a token whose IDs differ from the UUIDs given at creation, on first use", async () => {
    const { claims } = await seedBuildkite({ organization_id: uuid(), pipeline_id: uuid() }, { organization_uuid: uuid(), pipeline_uuid: uuid() });
    await expectRefused(await exchangeToken(await sign(claims)), "no_trust_relationship");
  });

  it("refuses a token of another pipeline of the same organization", async () => {
    const { claims } = await seedBuildkite();
    await expectRefused(await exchangeToken(await sign(fresh(claims, { pipeline_slug: "other-pipeline" }))), "no_trust_relationship");
  });

  it("refuses a token whose lifetime the job stretched past the cap", async () => {
    const t = now();
    const { claims } = await seedBuildkite({ iat: t, nbf: t, exp: t + 7200 });
    await expectRefused(await exchangeToken(await sign(claims)), "token_lifetime_too_long");
  });

  it("refuses a replayed token", async () => {
    const { claims } = await seedBuildkite();
    const token = await sign(claims);
    await expectExchanged(token);
    await expectRefused(await exchangeToken(token), "token_replayed");
  });
});
