/**
 * One spelling per issuer (issue 8 §5): a per-tenant issuer (GitHub enterprise, CircleCI
 * organization) is accepted only in canonical lower case. Any other spelling is an unknown
 * issuer, refused before any network or database work: without this, each of the 2^n case
 * variants of a named enterprise triggered its own discovery fetch and cache entry.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createProject, createRelationship, decodeJwt } from "../support/api";
import { meteredDb } from "../support/d1-meter";
import { exchangeWithEnv, expectRefused } from "../support/exchange-forge";
import { expectExchanged, seedGithub } from "../support/exchange-seed";
import { circleciClaims, ISSUERS, issuerRequests, signToken, uuid } from "../support/issuer";

describe("per-tenant issuers in canonical lower case only", () => {
  it("refuses case variants of a named GitHub enterprise's issuer with no fetch and no D1 read, and accepts the canonical one", async () => {
    const slug = `acme-corp-${uuid().slice(0, 8)}`;
    const canonical = `${ISSUERS.github}/${slug}`;
    const { claims } = await seedGithub({ enterprise: slug }, { enterprise: slug.toUpperCase() });
    const meter = meteredDb(env.DB);
    for (const variant of [slug.toUpperCase(), slug.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase()), slug.replace("a", "A")]) {
      const issuer = `${ISSUERS.github}/${variant}`;
      const token = await signToken(issuer, { ...claims, iss: issuer, jti: uuid() });
      await expectRefused(await exchangeWithEnv({ DB: meter.db }, token), "issuer_unknown");
      expect(await issuerRequests(issuer)).toBe(0);
    }
    expect(meter.trips).toEqual([]);
    expect(await issuerRequests(canonical)).toBe(0);

    const body = await expectExchanged(await signToken(canonical, { ...claims, iss: canonical, jti: uuid() }));
    expect(decodeJwt(body.access_token)).toMatchObject({ ci: { issuer: canonical } });
  });

  it("refuses an upper-case CircleCI organization issuer with no fetch and no D1 read", async () => {
    const org = `abcdef${uuid().slice(6)}`; // letters to change the case of, whatever the random part
    const { projectId } = await createProject();
    const claims = circleciClaims(org, uuid());
    await createRelationship(projectId, { provider: "circleci", organization_uuid: org, project_uuid: claims["oidc.circleci.com/project-id"] });
    const meter = meteredDb(env.DB);
    for (const variant of [org.toUpperCase(), `A${org.slice(1)}`]) {
      const issuer = `${ISSUERS.circleci}/org/${variant}`;
      await expectRefused(await exchangeWithEnv({ DB: meter.db }, await signToken(issuer, { ...claims, iss: issuer })), "issuer_unknown");
      expect(await issuerRequests(issuer)).toBe(0);
    }
    expect(meter.trips).toEqual([]);
  });
});
