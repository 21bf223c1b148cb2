/**
 * Hostile subject tokens. Each test seeds a relationship that would admit the token's
 * claims, so a refusal can only come from the verifier stage the test names.
 */
import { exportSPKI, importJWK, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { REFETCH_COOLDOWN_SECONDS } from "../../src/providers/key-cache";
import { exchangeToken } from "../support/api";
import { base64url, compact, encodeJson, expectNoEcho, expectRefused, nonCanonical, segments } from "../support/exchange-forge";
import { expectExchanged, seedGithub } from "../support/exchange-seed";
import { AUDIENCE, ISSUERS, issuerRequests, now, publicKey, signToken, uuid } from "../support/issuer";

const sign = (claims: Record<string, unknown>, header?: Record<string, unknown>) => signToken(ISSUERS.github, claims, header);

/** A GitHub token whose claims the seeded relationship admits, after `edit`. */
async function admitted(edit: (claims: Record<string, unknown>) => Record<string, unknown> = (c) => c) {
  const { claims } = await seedGithub();
  return edit({ ...claims });
}

describe("hostile tokens: algorithms and keys", () => {
  it("refuses alg none with an empty signature", async () => {
    const claims = await admitted();
    const token = compact(encodeJson({ alg: "none", typ: "JWT" }), encodeJson(claims), "");
    await expectRefused(await exchangeToken(token), "token_malformed");
  });

  it("refuses alg none with a signature segment present", async () => {
    const claims = await admitted();
    const { kid } = await publicKey(ISSUERS.github);
    const token = compact(encodeJson({ alg: "none", typ: "JWT", kid }), encodeJson(claims), "AAAA");
    await expectRefused(await exchangeToken(token), "token_algorithm_forbidden");
  });

  for (const alg of ["RS512", "PS256", "ES256", "EdDSA", "rs256", "None"]) {
    it(`refuses alg ${alg}`, async () => {
      const claims = await admitted();
      const { kid } = await publicKey(ISSUERS.github);
      const real = segments(await sign(claims));
      const token = compact(encodeJson({ alg, typ: "JWT", kid }), real[1], real[2]);
      await expectRefused(await exchangeToken(token), "token_algorithm_forbidden");
    });
  }

  /** The classic confusion attack: HS256 with the issuer's public JWK as the HMAC secret. */
  async function hmacWithPublicJwk() {
    const claims = await admitted();
    const { kid, jwk } = await publicKey(ISSUERS.github);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid, typ: "JWT" })
      .sign(new TextEncoder().encode(JSON.stringify(jwk)));
    return { kid, token };
  }

  it("refuses HS256 keyed with the issuer's public JWK", async () => {
    const { token } = await hmacWithPublicJwk();
    await expectRefused(await exchangeToken(token), "token_algorithm_forbidden");
  });

  it("refuses HS256 keyed with the issuer's public key in PEM", async () => {
    const claims = await admitted();
    const { kid, jwk } = await publicKey(ISSUERS.github);
    const pem = await exportSPKI((await importJWK(jwk, "RS256", { extractable: true })) as CryptoKey);
    const token = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid, typ: "JWT" }).sign(new TextEncoder().encode(pem));
    await expectRefused(await exchangeToken(token), "token_algorithm_forbidden");
  });

  it("refuses an HMAC signature over the public key presented under alg RS256", async () => {
    const { kid, token: hmac } = await hmacWithPublicJwk();
    const relabelled = compact(encodeJson({ alg: "RS256", kid, typ: "JWT" }), segments(hmac)[1], segments(hmac)[2]);
    await expectRefused(await exchangeToken(relabelled), "signature_invalid");
  });

  /**
   * An unknown kid is retryable (503) until a key set fetched for it lacks it, then 400. The
   * shared issuer's keys were fetched moments ago, so first it is inside the refetch cooldown.
   */
  let skipped = 0; // seconds moved forward so far: the clock never goes back past an earlier fetch
  async function expectUnknownOnceFetched(token: string) {
    const first = await exchangeToken(token);
    if (first.status === 503) {
      await expectRefused(first, "keys_unavailable");
      skipped += REFETCH_COOLDOWN_SECONDS + 1;
      const start = Date.now();
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(start + skipped * 1000);
      await expectRefused(await exchangeToken(token), "key_unknown");
    } else {
      await expectRefused(first, "key_unknown");
    }
    await expectRefused(await exchangeToken(token), "key_unknown");
  }
  afterEach(() => vi.useRealTimers());

  it("refuses a kid the issuer does not publish", async () => {
    const claims = await admitted();
    await expectUnknownOnceFetched(await sign(claims, { kid: `unknown-${uuid()}` }));
  });

  it("refuses a token signed with another issuer's key under that issuer's kid", async () => {
    const claims = await admitted();
    await expectUnknownOnceFetched(await signToken(ISSUERS.buildkite, claims));
  });

  it("refuses a token signed with another issuer's key under this issuer's kid", async () => {
    const claims = await admitted();
    const { kid } = await publicKey(ISSUERS.github);
    const forged = await signToken(ISSUERS.buildkite, claims, { kid });
    await expectRefused(await exchangeToken(forged), "signature_invalid");
  });

  it("refuses a token without a kid", async () => {
    const claims = await admitted();
    const real = segments(await sign(claims));
    await expectRefused(await exchangeToken(compact(encodeJson({ alg: "RS256", typ: "JWT" }), real[1], real[2])), "token_malformed");
  });

  it("refuses a tampered payload under a genuine signature", async () => {
    const claims = await admitted();
    const real = segments(await sign(claims));
    const tampered = compact(real[0], encodeJson({ ...claims, ref: "refs/heads/release" }), real[2]);
    const body = await expectRefused(await exchangeToken(tampered), "signature_invalid");
    expectNoEcho(body.error_description, tampered, claims.repository);
  });

  it("refuses a genuine payload under a tampered header", async () => {
    const claims = await admitted();
    const real = segments(await sign(claims));
    const { kid } = await publicKey(ISSUERS.github);
    await expectRefused(await exchangeToken(compact(encodeJson({ alg: "RS256", kid, typ: "at+jwt" }), real[1], real[2])), "signature_invalid");
  });

  for (const [name, header] of [
    ["jku", { jku: "https://attacker.example/jwks" }],
    ["x5u", { x5u: "https://attacker.example/cert.pem" }],
    ["x5c", { x5c: ["MIIB"] }],
  ] as const) {
    it(`refuses a token whose header carries ${name}`, async () => {
      const claims = await admitted();
      await expectRefused(await exchangeToken(await sign(claims, header)), "token_header_forbidden");
      expect(await issuerRequests("https://attacker.example")).toBe(0);
    });
  }

  it("refuses a token whose header embeds its own jwk", async () => {
    const claims = await admitted();
    const { jwk } = await publicKey(ISSUERS.github);
    await expectRefused(await exchangeToken(await sign(claims, { jwk: { kty: jwk.kty, n: jwk.n, e: jwk.e } })), "token_header_forbidden");
  });

  it("refuses a token with critical header extensions", async () => {
    const claims = await admitted();
    const { kid } = await publicKey(ISSUERS.github);
    const real = segments(await sign(claims));
    const token = compact(encodeJson({ alg: "RS256", kid, crit: ["exp"], exp: 1 }), real[1], real[2]);
    await expectRefused(await exchangeToken(token), "token_header_forbidden");
  });
});

describe("hostile tokens: time", () => {
  it("refuses an expired token", async () => {
    const t = now();
    const token = await sign(await admitted((c) => ({ ...c, iat: t - 400, nbf: t - 1000, exp: t - 120 })));
    await expectRefused(await exchangeToken(token), "token_expired");
  });

  it("accepts a token that expired within the 60 s clock tolerance", async () => {
    const t = now();
    await expectExchanged(await sign(await admitted((c) => ({ ...c, iat: t - 300, nbf: t - 900, exp: t - 20 }))));
  });

  it("refuses a token issued in the future", async () => {
    const t = now();
    await expectRefused(await exchangeToken(await sign(await admitted((c) => ({ ...c, iat: t + 180, exp: t + 480 })))), "token_issued_in_future");
  });

  it("accepts an iat slightly ahead, within the clock tolerance", async () => {
    const t = now();
    await expectExchanged(await sign(await admitted((c) => ({ ...c, iat: t + 20, exp: t + 320 }))));
  });

  it("refuses a token whose nbf is in the future", async () => {
    const t = now();
    await expectRefused(await exchangeToken(await sign(await admitted((c) => ({ ...c, nbf: t + 180 })))), "token_not_yet_valid");
  });

  for (const claim of ["exp", "iat"]) {
    it(`refuses a token without ${claim}`, async () => {
      const token = await sign(await admitted(({ [claim]: _omitted, ...rest }) => rest));
      await expectRefused(await exchangeToken(token), "claims_invalid");
    });

    it(`refuses a token whose ${claim} is a string`, async () => {
      const token = await sign(await admitted((c) => ({ ...c, [claim]: String(c[claim]) })));
      await expectRefused(await exchangeToken(token), "claims_invalid");
    });
  }

  it("refuses a token whose exp is not after its iat", async () => {
    const t = now();
    await expectRefused(await exchangeToken(await sign(await admitted((c) => ({ ...c, iat: t, exp: t })))), "claims_invalid");
  });

  it("refuses a token whose lifetime is longer than the provider's cap", async () => {
    const t = now();
    await expectRefused(await exchangeToken(await sign(await admitted((c) => ({ ...c, iat: t, exp: t + 3601 })))), "token_lifetime_too_long");
  });

  it("refuses a token older than the provider's age cap", async () => {
    const t = now();
    await expectRefused(
      await exchangeToken(await sign(await admitted((c) => ({ ...c, iat: t - 3620, nbf: t - 4000, exp: t - 30 })))),
      "token_too_old",
    );
  });
});

describe("hostile tokens: audience", () => {
  it("refuses a multi-valued audience even when it includes ours", async () => {
    await expectRefused(await exchangeToken(await sign(await admitted((c) => ({ ...c, aud: [AUDIENCE, "https://other.example"] })))), "audience_mismatch");
  });

  it("accepts our audience as a one-element array", async () => {
    await expectExchanged(await sign(await admitted((c) => ({ ...c, aud: [AUDIENCE] }))));
  });

  it("refuses GitHub's default audience", async () => {
    const token = await sign(await admitted((c) => ({ ...c, aud: `https://github.com/${c.repository_owner}` })));
    const body = await expectRefused(await exchangeToken(token), "audience_mismatch");
    expectNoEcho(body.error_description, AUDIENCE);
  });

  it("refuses an audience that merely starts with ours", async () => {
    await expectRefused(await exchangeToken(await sign(await admitted((c) => ({ ...c, aud: `${AUDIENCE}.evil.example` })))), "audience_mismatch");
  });

  it("refuses a token without aud", async () => {
    await expectRefused(await exchangeToken(await sign(await admitted(({ aud: _omitted, ...rest }) => rest))), "audience_mismatch");
  });
});

describe("hostile tokens: issuers", () => {
  const lookalikes = [
    ["with a trailing slash", `${ISSUERS.github}/`],
    ["on a suffix domain", `${ISSUERS.github}.evil.example`],
    ["over http", ISSUERS.github.replace("https:", "http:")],
    ["with a changed case", ISSUERS.github.replace("token.actions", "Token.Actions")],
    ["with a port", "https://token.actions.githubusercontent.com:443"],
    ["with a path that is not an enterprise slug", `${ISSUERS.github}/a/b`],
    ["with user info", "https://token.actions.githubusercontent.com@evil.example"],
    ["that is entirely untrusted", "https://evil.example"],
    ["of Buildkite with a trailing slash", `${ISSUERS.buildkite}/`],
    ["of RWX with an extra path segment", `${ISSUERS.rwx}/other`],
    ["of RWX without its path", "https://cloud.rwx.com"],
    ["of CircleCI with a non-UUID org", `${ISSUERS.circleci}/org/acme`],
  ] as const;

  for (const [name, issuer] of lookalikes) {
    it(`refuses an issuer ${name}, without contacting it`, async () => {
      const token = await signToken(issuer, await admitted((c) => ({ ...c, iss: issuer })));
      const body = await expectRefused(await exchangeToken(token), "issuer_unknown");
      expectNoEcho(body.error_description, issuer, ISSUERS.github);
      expect(await issuerRequests(issuer)).toBe(0);
    });
  }

  it("refuses a token without iss", async () => {
    await expectRefused(await exchangeToken(await sign(await admitted(({ iss: _omitted, ...rest }) => rest))), "token_malformed");
  });

  it("refuses a GitHub-shaped token from the Buildkite issuer", async () => {
    // Signed by Buildkite's real key: the claims are not Buildkite's, so no relationship can match.
    const token = await signToken(ISSUERS.buildkite, await admitted((c) => ({ ...c, iss: ISSUERS.buildkite })));
    await expectRefused(await exchangeToken(token), "claims_invalid");
  });
});

describe("hostile tokens: shape and size", () => {
  it("answers 413 for a subject token over 16 KiB", async () => {
    const token = await sign(await admitted((c) => ({ ...c, padding: "x".repeat(17 * 1024) })));
    expect(token.length).toBeGreaterThan(16 * 1024);
    await expectRefused(await exchangeToken(token), "subject_token_too_large");
  });

  it("accepts a subject token just under 16 KiB", async () => {
    const claims = await admitted();
    const base = (await sign({ ...claims, padding: "" })).length;
    const token = await sign({ ...claims, padding: "x".repeat(Math.floor(((16 * 1024 - base) * 3) / 4) - 8) });
    expect(token.length).toBeLessThanOrEqual(16 * 1024);
    await expectExchanged(token);
  });

  it("refuses a token of two segments", async () => {
    const real = segments(await sign(await admitted()));
    await expectRefused(await exchangeToken(`${real[0]}.${real[1]}`), "token_malformed");
  });

  it("refuses a token of four segments", async () => {
    const real = segments(await sign(await admitted()));
    await expectRefused(await exchangeToken(`${real.join(".")}.${real[2]}`), "token_malformed");
  });

  it("refuses base64 padding in a segment", async () => {
    const real = segments(await sign(await admitted()));
    await expectRefused(await exchangeToken(compact(real[0], real[1], `${real[2]}==`)), "token_malformed");
  });

  it("refuses standard base64 characters in a segment", async () => {
    const real = segments(await sign(await admitted()));
    await expectRefused(await exchangeToken(compact(real[0], real[1], real[2].replace(/-/g, "+").replace(/_/g, "/") + "+")), "token_malformed");
  });

  it("refuses a genuine signature spelled with a non-canonical last character", async () => {
    const real = segments(await sign(await admitted()));
    await expectRefused(await exchangeToken(compact(real[0], real[1], nonCanonical(real[2]))), "token_malformed");
  });

  it("refuses a payload that is not JSON", async () => {
    const real = segments(await sign(await admitted()));
    await expectRefused(await exchangeToken(compact(real[0], base64url("{not json"), real[2])), "token_malformed");
  });

  it("refuses a payload that is a JSON array", async () => {
    const real = segments(await sign(await admitted()));
    await expectRefused(await exchangeToken(compact(real[0], encodeJson([1, 2]), real[2])), "token_malformed");
  });

  it("refuses a header that is not JSON", async () => {
    const real = segments(await sign(await admitted()));
    await expectRefused(await exchangeToken(compact("bm90IGpzb24", real[1], real[2])), "token_malformed");
  });

  it("refuses a payload that is not UTF-8", async () => {
    const real = segments(await sign(await admitted()));
    await expectRefused(await exchangeToken(compact(real[0], "_w", real[2])), "token_malformed");
  });

  it("refuses a token that is not a JWT at all", async () => {
    await expectRefused(await exchangeToken("not-a-jwt"), "token_malformed");
  });
});

describe("hostile tokens: replay", () => {
  it("refuses the same token a second time", async () => {
    const token = await sign(await admitted());
    await expectExchanged(token);
    const body = await expectRefused(await exchangeToken(token), "token_replayed");
    expectNoEcho(body.error_description, token);
  });

  it("refuses the same jti re-signed in a new token", async () => {
    const claims = await admitted();
    await expectExchanged(await sign(claims));
    await expectRefused(await exchangeToken(await sign({ ...claims, run_attempt: "2" })), "token_replayed");
  });
});
