/**
 * The scheduled handler sweeps replay records whose subject tokens have expired anyway,
 * and keeps the rest.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { exchangeToken } from "../support/api";
import { expectRefused, replayRecorded } from "../support/exchange-forge";
import { expectExchanged, seedGithub } from "../support/exchange-seed";
import { ISSUERS, now, signToken, uuid } from "../support/issuer";

async function sweep() {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "17 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

const record = (key: string, expiresAt: number) =>
  env.DB.prepare("INSERT INTO used_subject_tokens (token_key, expires_at) VALUES (?, ?)").bind(key, expiresAt).run();

const exists = async (key: string) =>
  (await env.DB.prepare("SELECT 1 AS found FROM used_subject_tokens WHERE token_key = ?").bind(key).first()) !== null;

describe("replay sweep", () => {
  it("deletes replay records whose expiry has passed", async () => {
    const key = `${ISSUERS.github}#${uuid()}`;
    await record(key, now() - 3600);
    await sweep();
    expect(await exists(key)).toBe(false);
  });

  it("keeps replay records that have not expired", async () => {
    const key = `${ISSUERS.github}#${uuid()}`;
    await record(key, now() + 600);
    await sweep();
    expect(await exists(key)).toBe(true);
  });

  it("keeps refusing a replayed token that is still valid after a sweep", async () => {
    const { claims } = await seedGithub();
    const token = await signToken(ISSUERS.github, claims);
    await expectExchanged(token);
    await sweep();
    expect(await replayRecorded(ISSUERS.github, String(claims.jti))).toBe(true);
    await expectRefused(await exchangeToken(token), "token_replayed");
  });
});
