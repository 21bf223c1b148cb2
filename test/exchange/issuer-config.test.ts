/**
 * The issuer allowlist comes from configuration (SPEC §1): overrides replace the default
 * issuers, http:// is refused unless ALLOW_INSECURE_ISSUERS=true, and AUDIENCE is what a
 * subject token must carry. Each test calls the worker with its own environment.
 */
import { describe, expect, it } from "vitest";
import { decodeJwt } from "../support/api";
import { exchangeWithEnv, expectRefused } from "../support/exchange-forge";
import { seedBuildkite, seedCircleci, seedGithub, seedRwx } from "../support/exchange-seed";
import { ISSUERS, issuerRequests, signToken, uuid } from "../support/issuer";

const host = () => `ci-${Math.random().toString(36).slice(2, 10)}.example`;

async function expectOk(response: Response) {
  const body = (await response.json()) as { access_token: string };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}

describe("issuer overrides", () => {
  it("accepts tokens from an overridden GitHub issuer and refuses the default one", async () => {
    const issuer = `https://${host()}/_services/token`;
    const { claims } = await seedGithub({ iss: issuer });
    const body = await expectOk(await exchangeWithEnv({ GITHUB_ISSUER: issuer }, await signToken(issuer, claims)));
    expect(decodeJwt(body.access_token)).toMatchObject({ ci: { issuer } });
    const fromDefault = await signToken(ISSUERS.github, { ...claims, iss: ISSUERS.github, jti: uuid() });
    await expectRefused(await exchangeWithEnv({ GITHUB_ISSUER: issuer }, fromDefault), "issuer_unknown");
  });

  it("accepts an override written with a trailing slash, as the issuer without it", async () => {
    const issuer = `https://${host()}`;
    const { claims } = await seedRwx({ iss: issuer });
    await expectOk(await exchangeWithEnv({ RWX_ISSUER: `${issuer}/` }, await signToken(issuer, claims)));
  });

  it("builds CircleCI per-organization issuers under an overridden base", async () => {
    const base = `https://${host()}`;
    const { claims, org } = await seedCircleci();
    const issuer = `${base}/org/${org}`;
    await expectOk(await exchangeWithEnv({ CIRCLECI_ISSUER: base }, await signToken(issuer, { ...claims, iss: issuer })));
    await expectRefused(await exchangeWithEnv({ CIRCLECI_ISSUER: base }, await signToken(claims.iss, claims)), "issuer_unknown");
  });

  it("accepts tokens from an overridden Buildkite issuer", async () => {
    const issuer = `https://${host()}`;
    const { claims } = await seedBuildkite({ iss: issuer });
    await expectOk(await exchangeWithEnv({ BUILDKITE_ISSUER: issuer }, await signToken(issuer, claims)));
  });

  it("contacts an http:// issuer when ALLOW_INSECURE_ISSUERS is true", async () => {
    const issuer = `http://${host()}`;
    const { claims } = await seedBuildkite({ iss: issuer });
    await expectOk(await exchangeWithEnv({ BUILDKITE_ISSUER: issuer, ALLOW_INSECURE_ISSUERS: "true" }, await signToken(issuer, claims)));
    expect(await issuerRequests(issuer)).toBe(2);
  });

  it("never contacts an http:// issuer without ALLOW_INSECURE_ISSUERS", async () => {
    const issuer = `http://${host()}`;
    const { claims } = await seedBuildkite({ iss: issuer });
    const response = await exchangeWithEnv({ BUILDKITE_ISSUER: issuer }, await signToken(issuer, claims));
    const body = (await response.json()) as { error: string; error_description: string };
    expect({ status: response.status, error: body.error }).toEqual({ status: 500, error: "server_error" });
    expect(body.error_description).not.toContain(issuer);
    expect(await issuerRequests(issuer)).toBe(0);
  });
});

describe("AUDIENCE", () => {
  it("requires subject tokens to carry the configured AUDIENCE, while minted tokens keep PUBLIC_URL", async () => {
    const audience = `https://${host()}`;
    const { claims } = await seedGithub({ aud: audience });
    const body = await expectOk(await exchangeWithEnv({ AUDIENCE: audience }, await signToken(ISSUERS.github, claims)));
    expect(decodeJwt(body.access_token)).toMatchObject({ aud: "https://sts.test", iss: "https://sts.test" });
    const ours = await signToken(ISSUERS.github, { ...claims, aud: "https://sts.test", jti: uuid() });
    await expectRefused(await exchangeWithEnv({ AUDIENCE: audience }, ours), "audience_mismatch");
  });

  it("defaults AUDIENCE to PUBLIC_URL", async () => {
    const publicUrl = `https://${host()}`;
    const { claims } = await seedGithub({ aud: publicUrl });
    const body = await expectOk(await exchangeWithEnv({ AUDIENCE: undefined, PUBLIC_URL: publicUrl }, await signToken(ISSUERS.github, claims)));
    expect(decodeJwt(body.access_token)).toMatchObject({ iss: publicUrl, aud: publicUrl });
  });
});
