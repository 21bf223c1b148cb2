/** The discovery documents tell a client the audience its CI's ID token must carry (SPEC §3). */
import { describe, expect, it } from "vitest";
import { BASE, call } from "../support/api";
import { callWorker } from "../support/exchange-forge";

const DOCUMENTS = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"];

describe("subject_token_audience in the discovery documents", () => {
  for (const path of DOCUMENTS) {
    it(`${path} names AUDIENCE as subject_token_audience`, async () => {
      const response = await call(path);
      expect(response.status).toBe(200);
      expect(((await response.json()) as Record<string, unknown>).subject_token_audience).toBe("https://sts.test");
    });

    it(`${path} names AUDIENCE, not PUBLIC_URL, when the two differ`, async () => {
      const response = await callWorker(new Request(`${BASE}${path}`), { AUDIENCE: "https://ci-audience.test" });
      const doc = (await response.json()) as Record<string, unknown>;
      expect({ issuer: doc.issuer, subject_token_audience: doc.subject_token_audience }).toEqual({
        issuer: "https://sts.test",
        subject_token_audience: "https://ci-audience.test",
      });
    });

    it(`${path} defaults subject_token_audience to PUBLIC_URL when AUDIENCE is unset`, async () => {
      const response = await callWorker(new Request(`${BASE}${path}`), { AUDIENCE: undefined, PUBLIC_URL: "https://public.test/" });
      const doc = (await response.json()) as Record<string, unknown>;
      expect(doc.subject_token_audience).toBe("https://public.test");
    });
  }
});
