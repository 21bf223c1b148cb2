/**
 * GitHub Actions ID tokens at the wire: accepted paths, and every GitHub pitfall of
 * PROVIDERS.md refused (repo-jacking, fork-running events, enterprise issuers, refs).
 */
import { describe, expect, it } from "vitest";
import { createProject, createRelationship, decodeJwt, exchangeToken } from "../support/api";
import { expectNoEcho, expectRefused } from "../support/exchange-forge";
import { expectExchanged, listedRelationship, seedGithub } from "../support/exchange-seed";
import { githubClaims, ISSUERS, issuerRequests, signToken, uuid } from "../support/issuer";

const sign = (claims: Record<string, unknown>, issuer: string = ISSUERS.github) => signToken(issuer, claims);
const fresh = (claims: Record<string, unknown>, overrides: Record<string, unknown> = {}) => ({ ...claims, jti: uuid(), ...overrides });
const enterpriseSlug = () => `ent-${Math.random().toString(36).slice(2, 10)}`;

describe("GitHub Actions: accepted", () => {
  it("exchanges a push token for a project token carrying the job's provenance", async () => {
    const { claims, projectId, orgId, relationshipId } = await seedGithub();
    const body = await expectExchanged(await sign(claims));
    expect(body).toMatchObject({
      issued_token_type: "urn:ietf:params:oauth:token-type:jwt",
      token_type: "Bearer",
      expires_in: 3600,
      scope: "builds registry:pull registry:push",
    });
    expect(decodeJwt(body.access_token)).toMatchObject({
      sub: `project:${projectId}`,
      project_id: projectId,
      org_id: orgId,
      token_use: "oidc",
      trust_relationship_id: relationshipId,
      ci: {
        provider: "github",
        issuer: ISSUERS.github,
        subject: claims.sub,
        repository: claims.repository,
        repository_id: claims.repository_id,
        repository_owner_id: claims.repository_owner_id,
        ref: "refs/heads/main",
        sha: claims.sha,
        event_name: "push",
        run_id: claims.run_id,
      },
    });
  });

  it("matches owner and repository case-insensitively", async () => {
    const claims = githubClaims();
    const [owner, repository] = String(claims.repository).split("/") as [string, string];
    const { projectId } = await createProject();
    await createRelationship(projectId, { provider: "github", owner: owner.toUpperCase(), repository: repository.toUpperCase() });
    await expectExchanged(await sign(claims));
    // GitHub reports names as they are spelled now; a respelling is the same repository.
    await expectExchanged(await sign(fresh(claims, { repository: `${owner.toUpperCase()}/${repository}`, repository_owner: owner.toUpperCase() })));
  });

  it("pins owner_id and repository_id from the first verified token", async () => {
    const { claims, projectId, relationshipId } = await seedGithub();
    const before = await listedRelationship(projectId, relationshipId);
    expect(before.owner_id).toBeUndefined();
    expect(before.repository_id).toBeUndefined();
    await expectExchanged(await sign(claims));
    expect(await listedRelationship(projectId, relationshipId)).toMatchObject({
      owner_id: claims.repository_owner_id,
      repository_id: claims.repository_id,
    });
  });

  it("keeps admitting the same repository after its IDs are pinned", async () => {
    const { claims } = await seedGithub();
    await expectExchanged(await sign(claims));
    await expectExchanged(await sign(fresh(claims)));
  });

  it("admits a ref named by a conditions entry", async () => {
    const { claims } = await seedGithub({}, { conditions: { ref: "refs/heads/main" } });
    await expectExchanged(await sign(claims));
  });

  it("admits a tag matching a '*' condition on ref", async () => {
    const { claims } = await seedGithub({ ref: "refs/tags/v1.2.3", ref_type: "tag" }, { conditions: { ref: "refs/tags/v*" } });
    await expectExchanged(await sign(claims));
  });

  it("uses the relationship's token_ttl_seconds for the minted token", async () => {
    const { claims } = await seedGithub({}, { token_ttl_seconds: 600 });
    const body = await expectExchanged(await sign(claims));
    expect(body.expires_in).toBe(600);
    const minted = decodeJwt(body.access_token);
    expect(Number(minted.exp) - Number(minted.iat)).toBe(600);
  });
});

describe("GitHub Actions: repo-jacking (names reused, IDs new)", () => {
  it("refuses a token whose repository_id differs from the pinned one", async () => {
    const { claims } = await seedGithub();
    await expectExchanged(await sign(claims));
    const jacked = fresh(claims, { repository_id: "999999999" });
    const token = await sign(jacked);
    const body = await expectRefused(await exchangeToken(token), "no_trust_relationship");
    expectNoEcho(body.error_description, token, claims.repository, "999999999", claims.repository_id);
  });

  it("refuses a token whose repository_owner_id differs from the pinned one", async () => {
    const { claims } = await seedGithub();
    await expectExchanged(await sign(claims));
    await expectRefused(await exchangeToken(await sign(fresh(claims, { repository_owner_id: "888888888" }))), "no_trust_relationship");
  });

  it("refuses a token whose IDs differ from those given at creation, even on first use", async () => {
    const claims = githubClaims();
    const { projectId } = await createProject();
    const [owner, repository] = String(claims.repository).split("/");
    await createRelationship(projectId, {
      provider: "github",
      owner,
      repository,
      owner_id: claims.repository_owner_id,
      repository_id: "123456789",
    });
    await expectRefused(await exchangeToken(await sign(claims)), "no_trust_relationship");
    await expectExchanged(await sign(fresh(claims, { repository_id: "123456789" })));
  });

  it("does not pin a re-registered repository's IDs after refusing it", async () => {
    const { claims, projectId, relationshipId } = await seedGithub();
    await expectExchanged(await sign(claims));
    await expectRefused(await exchangeToken(await sign(fresh(claims, { repository_id: "77777777" }))), "no_trust_relationship");
    expect((await listedRelationship(projectId, relationshipId)).repository_id).toBe(claims.repository_id);
  });
});

describe("GitHub Actions: refs and fork-running events", () => {
  it("refuses a same-repository pull_request token when conditions name refs/heads/main", async () => {
    const { claims } = await seedGithub(
      { ref: "refs/pull/12/merge", event_name: "pull_request", head_ref: "feature", base_ref: "main" },
      { conditions: { ref: "refs/heads/main" } },
    );
    const body = await expectRefused(await exchangeToken(await sign(claims)), "no_trust_relationship");
    expectNoEcho(body.error_description, "refs/heads/main", "refs/pull/12/merge");
  });

  it("refuses a nested branch for a '*' ref condition, since '*' never crosses '/'", async () => {
    const { claims } = await seedGithub({ ref: "refs/heads/release/1.0" }, { conditions: { ref: "refs/heads/*" } });
    await expectRefused(await exchangeToken(await sign(claims)), "no_trust_relationship");
  });

  for (const event of ["pull_request_target", "workflow_run"]) {
    it(`denies ${event} by default`, async () => {
      const { claims } = await seedGithub({ event_name: event });
      await expectRefused(await exchangeToken(await sign(claims)), "event_denied");
    });

    it(`admits ${event} when a condition names the event exactly`, async () => {
      const { claims } = await seedGithub({ event_name: event }, { conditions: { event_name: event } });
      await expectExchanged(await sign(claims));
    });

    it(`does not let a '*' event_name pattern lift the ${event} denial`, async () => {
      const { claims } = await seedGithub({ event_name: event }, { conditions: { event_name: "*" } });
      await expectRefused(await exchangeToken(await sign(claims)), "event_denied");
    });
  }

  it("does not let a prefix pattern such as 'pull_request*' lift the pull_request_target denial", async () => {
    const { claims } = await seedGithub({ event_name: "pull_request_target" }, { conditions: { event_name: "pull_request*" } });
    await expectRefused(await exchangeToken(await sign(claims)), "event_denied");
  });

  it("never routes to a project whose relationship names pull_request_target because another project's denies it", async () => {
    const { claims, owner, repository } = await seedGithub({ event_name: "pull_request_target" });
    const other = await createProject();
    await createRelationship(other.projectId, { provider: "github", owner, repository, conditions: { event_name: "pull_request_target" } });
    // Two projects name the repository: without audience the job is not routed by which one admits it.
    await expectRefused(await exchangeToken(await sign(claims)), "target_ambiguous");
    const body = await expectExchanged(await sign({ ...claims, jti: uuid() }), { audience: other.projectId });
    expect(decodeJwt(body.access_token).project_id).toBe(other.projectId);
  });
});

describe("GitHub Actions: enterprise issuers", () => {
  it("accepts a token from an enterprise issuer for a relationship naming that enterprise", async () => {
    const slug = enterpriseSlug();
    const issuer = `${ISSUERS.github}/${slug}`;
    const { claims } = await seedGithub({ iss: issuer, enterprise: slug }, { enterprise: slug });
    const body = await expectExchanged(await sign(claims, issuer));
    expect(decodeJwt(body.access_token)).toMatchObject({ ci: { provider: "github", issuer } });
  });

  it("refuses a token from an enterprise issuer for a relationship naming no enterprise", async () => {
    const slug = enterpriseSlug();
    const issuer = `${ISSUERS.github}/${slug}`;
    const { claims } = await seedGithub({ iss: issuer, enterprise: slug });
    await expectRefused(await exchangeToken(await sign(claims, issuer)), "no_trust_relationship");
  });

  it("refuses a token from another enterprise's issuer", async () => {
    const slug = enterpriseSlug();
    const other = enterpriseSlug();
    const issuer = `${ISSUERS.github}/${other}`;
    const { claims } = await seedGithub({ iss: issuer, enterprise: other }, { enterprise: slug });
    await expectRefused(await exchangeToken(await sign(claims, issuer)), "no_trust_relationship");
    expect(await issuerRequests(issuer)).toBe(0);
  });

  it("refuses a token without the enterprise claim for a relationship naming an enterprise", async () => {
    const { claims } = await seedGithub({}, { enterprise: enterpriseSlug() });
    await expectRefused(await exchangeToken(await sign(claims)), "no_trust_relationship");
  });

  it("makes no request to an enterprise issuer that no relationship names", async () => {
    const slug = enterpriseSlug();
    const issuer = `${ISSUERS.github}/${slug}`;
    const { claims } = await seedGithub({ iss: issuer, enterprise: slug });
    await expectRefused(await exchangeToken(await sign(claims, issuer)), "no_trust_relationship");
    expect(await issuerRequests(issuer)).toBe(0);
  });
});
