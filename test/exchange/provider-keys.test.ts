/**
 * Provider keys as the wire sees them: the steady state costs no request to the issuer,
 * persisted keys spare a fetch, and a rotated key is picked up by refetching on its kid.
 * Each test uses its own CircleCI organization, so its issuer (and key) is its own.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { decodeHeader, exchangeToken } from "../support/api";
import { expectRefused } from "../support/exchange-forge";
import { expectExchanged, seedCircleci } from "../support/exchange-seed";
import { ISSUERS, issuerRequests, now, publicKey, rotateKey, signToken } from "../support/issuer";

const orgIssuer = (org: string) => `${ISSUERS.circleci}/org/${org}`;

/** Stores an issuer's current public key in D1 as if an earlier isolate had fetched it. */
async function persistCurrentKey(issuer: string, fetchedAt: number) {
  const { jwk } = await publicKey(issuer);
  const jwks = JSON.stringify({ keys: [{ kty: "RSA", kid: jwk.kid, n: jwk.n, e: jwk.e }] });
  await env.DB.prepare("INSERT INTO issuer_keys (issuer, jwks, fetched_at) VALUES (?, ?, ?)").bind(issuer, jwks, fetchedAt).run();
}

describe("provider keys at the wire", () => {
  it("makes no request to the issuer for exchanges after the first", async () => {
    const { claims, org } = await seedCircleci();
    const issuer = orgIssuer(org);
    await expectExchanged(await signToken(issuer, claims));
    const afterFirst = await issuerRequests(issuer);
    expect(afterFirst).toBe(2); // discovery, then the JWKS
    await expectExchanged(await signToken(issuer, claims));
    await expectExchanged(await signToken(issuer, { ...claims, "oidc.circleci.com/job-id": crypto.randomUUID() }));
    expect(await issuerRequests(issuer)).toBe(afterFirst);
  });

  it("persists fetched keys in D1 for other isolates", async () => {
    const { claims, org } = await seedCircleci();
    const issuer = orgIssuer(org);
    await expectExchanged(await signToken(issuer, claims));
    await vi.waitFor(async () => {
      const row = await env.DB.prepare("SELECT jwks FROM issuer_keys WHERE issuer = ?").bind(issuer).first<{ jwks: string }>();
      expect(row).not.toBeNull();
      const { keys } = JSON.parse(row!.jwks) as { keys: Record<string, unknown>[] };
      expect(keys.map((k) => k.kid)).toEqual([(await publicKey(issuer)).kid]);
    });
  });

  it("uses keys persisted by an earlier isolate without contacting the issuer", async () => {
    const { claims, org } = await seedCircleci();
    const issuer = orgIssuer(org);
    await persistCurrentKey(issuer, now() - 60);
    await expectExchanged(await signToken(issuer, claims));
    expect(await issuerRequests(issuer)).toBe(0);
  });

  it("accepts a token signed with a rotated key by refetching the keys on its unknown kid", async () => {
    const { claims, org } = await seedCircleci();
    const issuer = orgIssuer(org);
    await persistCurrentKey(issuer, now() - 60);
    await expectExchanged(await signToken(issuer, claims));
    expect(await issuerRequests(issuer)).toBe(0);

    const { kid } = await rotateKey(issuer);
    const rotated = await signToken(issuer, claims);
    expect(decodeHeader(rotated).kid).toBe(kid);
    await expectExchanged(rotated);
    expect(await issuerRequests(issuer)).toBe(2);

    await expectExchanged(await signToken(issuer, claims));
    expect(await issuerRequests(issuer)).toBe(2);
  });

  it("keeps accepting the previous key while the issuer publishes both", async () => {
    const { claims, org } = await seedCircleci();
    const issuer = orgIssuer(org);
    await persistCurrentKey(issuer, now() - 60);
    const { kid: oldKid } = await publicKey(issuer);
    await rotateKey(issuer, true);
    await expectExchanged(await signToken(issuer, claims)); // new kid: one refetch
    await expectExchanged(await signToken(issuer, claims, undefined, oldKid));
    expect(await issuerRequests(issuer)).toBe(2);
  });

  it("refuses a kid the issuer still does not publish after refetching", async () => {
    const { claims, org } = await seedCircleci();
    const issuer = orgIssuer(org);
    await persistCurrentKey(issuer, now() - 60);
    await expectRefused(await exchangeToken(await signToken(issuer, claims, { kid: "never-published" })), "key_unknown");
    expect(await issuerRequests(issuer)).toBe(2);
  });
});
