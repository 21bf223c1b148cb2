/**
 * RWX ID tokens at the wire: the vault's subject is the whole identity and is compared
 * exactly; no variant of it (case, prefix, suffix) is admitted.
 */
import { describe, expect, it } from "vitest";
import { decodeJwt, exchangeToken } from "../support/api";
import { expectNoEcho, expectRefused } from "../support/exchange-forge";
import { expectExchanged, seedRwx } from "../support/exchange-seed";
import { ISSUERS, now, signToken } from "../support/issuer";

const sign = (claims: Record<string, unknown>) => signToken(ISSUERS.rwx, claims);

describe("RWX: accepted", () => {
  it("exchanges a token whose subject equals the relationship's subject", async () => {
    const { claims, projectId } = await seedRwx();
    const body = await expectExchanged(await sign(claims));
    expect(decodeJwt(body.access_token)).toMatchObject({
      project_id: projectId,
      ci: { provider: "rwx", issuer: ISSUERS.rwx, subject: claims.sub, run_id: claims.run_id, task_id: claims.task_id },
    });
  });

  it("accepts the same token more than once, since RWX tokens carry no jti", async () => {
    const { claims } = await seedRwx();
    const token = await sign(claims);
    await expectExchanged(token);
    await expectExchanged(token);
  });
});

describe("RWX: refused", () => {
  const variants: [string, (sub: string) => string][] = [
    ["in another case", (sub) => sub.toUpperCase()],
    ["with a prefix", (sub) => `x${sub}`],
    ["with a suffix", (sub) => `${sub}x`],
    ["cut short", (sub) => sub.slice(0, -1)],
    ["extended by a path segment", (sub) => `${sub}:other`],
  ];
  for (const [name, variant] of variants) {
    it(`refuses a subject ${name}`, async () => {
      const { claims } = await seedRwx();
      const token = await sign({ ...claims, sub: variant(claims.sub) });
      const body = await expectRefused(await exchangeToken(token), "no_trust_relationship");
      expectNoEcho(body.error_description, token, claims.sub);
    });
  }

  it("refuses a token older than the age cap", async () => {
    const t = now();
    const { claims } = await seedRwx({ iat: t - 3620, exp: t - 30 });
    await expectRefused(await exchangeToken(await sign(claims)), "token_too_old");
  });
});
