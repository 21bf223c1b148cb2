/**
 * CircleCI ID tokens at the wire: per-org and root issuers, the org-UUID audience, and the
 * pitfalls of PROVIDERS.md (org/audience confusion, SSH reruns, fork builds, org UUIDs that
 * no relationship names).
 */
import { describe, expect, it } from "vitest";
import { admin, createProject, createRelationship, decodeJwt, exchangeToken, expectError } from "../support/api";
import { expectNoEcho, expectRefused } from "../support/exchange-forge";
import { expectExchanged, listedRelationship, seedCircleci } from "../support/exchange-seed";
import { circleciClaims, ISSUERS, issuerRequests, signToken, uuid } from "../support/issuer";

const ORG_ID = "oidc.circleci.com/org-id";
const PROJECT_ID = "oidc.circleci.com/project-id";
const SSH_RERUN = "oidc.circleci.com/ssh-rerun";
const VCS_ORIGIN = "oidc.circleci.com/vcs-origin";
const orgIssuer = (org: string) => `${ISSUERS.circleci}/org/${org}`;
const sign = (claims: { iss: string } & Record<string, unknown>) => signToken(claims.iss, claims);

describe("CircleCI: accepted", () => {
  it("exchanges a token from the organization's issuer with our audience", async () => {
    const { claims, org, project, projectId, relationshipId } = await seedCircleci();
    const body = await expectExchanged(await sign(claims));
    expect(decodeJwt(body.access_token)).toMatchObject({
      project_id: projectId,
      trust_relationship_id: relationshipId,
      ci: {
        provider: "circleci",
        issuer: orgIssuer(org),
        subject: claims.sub,
        [ORG_ID]: org,
        [PROJECT_ID]: project,
        [VCS_ORIGIN]: "github.com/acme/app",
      },
    });
  });

  it("accepts the organization's UUID as audience, as $CIRCLE_OIDC_TOKEN_V2 carries it, for a relationship that sets accept_default_audience", async () => {
    const { claims, org } = await seedCircleci({}, { accept_default_audience: true });
    await expectExchanged(await sign({ ...claims, aud: org }));
    await expectExchanged(await sign({ ...claims, aud: org, iss: ISSUERS.circleci }));
  });

  it("lists accept_default_audience on every CircleCI relationship, false unless set", async () => {
    const off = await seedCircleci();
    const on = await seedCircleci({}, { accept_default_audience: true });
    expect(await listedRelationship(off.projectId, off.relationshipId)).toMatchObject({ accept_default_audience: false });
    expect(await listedRelationship(on.projectId, on.relationshipId)).toMatchObject({ accept_default_audience: true });
  });

  it("accepts a token from the root issuer, taking the organization from the org-id claim", async () => {
    const { claims } = await seedCircleci();
    const body = await expectExchanged(await sign({ ...claims, iss: ISSUERS.circleci }));
    expect(decodeJwt(body.access_token)).toMatchObject({ ci: { issuer: ISSUERS.circleci } });
  });

  it("accepts the same token more than once, since CircleCI tokens carry no jti", async () => {
    const { claims } = await seedCircleci();
    const token = await sign(claims);
    await expectExchanged(token);
    await expectExchanged(token);
  });

  it("admits an SSH rerun when a condition names ssh-rerun true", async () => {
    const { claims } = await seedCircleci({ [SSH_RERUN]: true }, { conditions: { [SSH_RERUN]: "true" } });
    await expectExchanged(await sign(claims));
  });
});

describe("CircleCI: refused", () => {
  it("refuses the organization's UUID as audience (the default $CIRCLE_OIDC_TOKEN_V2) unless the relationship sets accept_default_audience", async () => {
    const { claims, org, projectId } = await seedCircleci();
    await expectExchanged(await sign(claims)); // our audience: admitted
    const forwarded = await sign({ ...claims, aud: org });
    const body = await expectRefused(await exchangeToken(forwarded), "no_trust_relationship");
    expectNoEcho(body.error_description, forwarded, org);
    await expectRefused(await exchangeToken(forwarded, { audience: projectId }), "target_invalid");
    await expectRefused(await exchangeToken(await sign({ ...claims, aud: org, iss: ISSUERS.circleci })), "no_trust_relationship");
  });

  it("refuses accept_default_audience on other providers and a non-boolean value", async () => {
    const { projectId } = await createProject();
    for (const body of [
      { provider: "github", owner: "acme", repository: "app", accept_default_audience: true },
      { provider: "circleci", organization_uuid: uuid(), project_uuid: uuid(), accept_default_audience: "yes" },
    ]) {
      await expectError(await admin("POST", `/v1/projects/${projectId}/trust-relationships`, body), 400, "invalid_request");
    }
  });

  it("refuses a token for org A whose audience is org B's UUID", async () => {
    const a = await seedCircleci();
    const b = await seedCircleci();
    const token = await sign({ ...a.claims, aud: b.org });
    const body = await expectRefused(await exchangeToken(token), "audience_mismatch");
    expectNoEcho(body.error_description, token, a.org, b.org);
  });

  it("refuses an org-UUID audience for a root-issuer token of another organization", async () => {
    const a = await seedCircleci();
    const b = await seedCircleci();
    await expectRefused(await exchangeToken(await sign({ ...a.claims, iss: ISSUERS.circleci, aud: b.org })), "audience_mismatch");
  });

  it("refuses a token whose org-id claim disagrees with the organization in iss", async () => {
    const { claims } = await seedCircleci();
    await expectExchanged(await sign(claims)); // the issuer's keys are cached: the claims are checked after the signature
    await expectRefused(await exchangeToken(await sign({ ...claims, [ORG_ID]: uuid() })), "claims_invalid");
  });

  it("refuses a per-org token claiming, through org-id, an organization that has the relationship", async () => {
    // The relationship names org B; the token comes from org A's issuer but claims B.
    const { claims, org: b } = await seedCircleci();
    const a = uuid();
    await expectRefused(
      await exchangeToken(await signToken(orgIssuer(a), { ...claims, iss: orgIssuer(a), [ORG_ID]: b })),
      "no_trust_relationship",
    );
  });

  it("refuses a root-issuer token without an org-id claim", async () => {
    const { claims } = await seedCircleci();
    await expectExchanged(await sign({ ...claims, iss: ISSUERS.circleci })); // root issuer keys cached
    const { [ORG_ID]: _omitted, ...rest } = claims;
    await expectRefused(await exchangeToken(await sign({ ...rest, iss: ISSUERS.circleci })), "claims_invalid");
  });

  it("refuses a token of another project of the same organization", async () => {
    const { claims } = await seedCircleci();
    await expectRefused(await exchangeToken(await sign({ ...claims, [PROJECT_ID]: uuid() })), "no_trust_relationship");
  });

  it("denies an SSH rerun by default", async () => {
    const { claims } = await seedCircleci({ [SSH_RERUN]: true });
    await expectRefused(await exchangeToken(await sign(claims)), "event_denied");
  });

  it("does not let a '*' ssh-rerun pattern lift the SSH rerun denial", async () => {
    const { claims } = await seedCircleci({ [SSH_RERUN]: true }, { conditions: { [SSH_RERUN]: "*" } });
    await expectRefused(await exchangeToken(await sign(claims)), "event_denied");
  });

  it("refuses a fork build when conditions pin the upstream vcs-origin", async () => {
    const { claims } = await seedCircleci({ [VCS_ORIGIN]: "github.com/mallory/app" }, { conditions: { [VCS_ORIGIN]: "github.com/acme/app" } });
    await expectRefused(await exchangeToken(await sign(claims)), "no_trust_relationship");
  });

  it("makes no request to the issuer of an organization UUID that no relationship names", async () => {
    const org = uuid();
    const claims = circleciClaims(org, uuid());
    await expectRefused(await exchangeToken(await sign(claims)), "no_trust_relationship");
    expect(await issuerRequests(orgIssuer(org))).toBe(0);
  });

  it("makes no request for an organization whose relationships are for other projects", async () => {
    const org = uuid();
    const { projectId } = await createProject();
    await createRelationship(projectId, { provider: "circleci", organization_uuid: org, project_uuid: uuid() });
    await expectRefused(await exchangeToken(await sign(circleciClaims(org, uuid()))), "no_trust_relationship");
    expect(await issuerRequests(orgIssuer(org))).toBe(0);
  });

  it("makes no request for a per-org issuer whose org-id claim disagrees with it", async () => {
    const { claims, org } = await seedCircleci();
    await expectRefused(await exchangeToken(await sign({ ...claims, [ORG_ID]: uuid() })), "no_trust_relationship");
    expect(await issuerRequests(orgIssuer(org))).toBe(0);
  });

  it("treats an organization UUID spelled in upper case as an unknown issuer", async () => {
    const org = uuid();
    const issuer = orgIssuer(org.toUpperCase());
    await expectRefused(await exchangeToken(await signToken(issuer, circleciClaims(org, uuid(), { iss: issuer }))), "issuer_unknown");
    expect(await issuerRequests(issuer)).toBe(0);
  });
});
