/**
 * `/healthz` is anonymous: a flood of health checks must not become a flood of D1 queries.
 * One probe per isolate and database binding answers for a short window (single-flight),
 * still 503 when D1 is down and 500 when the configuration is invalid.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
const HEALTH_PROBE_WINDOW_MS = 5000;
import { client, expectError, faultyDb } from "./support";

/** A database whose queries are counted, and which can be switched off. */
function probedDb() {
  const state = { queries: 0, down: false };
  const db = faultyDb(env.DB, () => {
    state.queries++;
    return state.down;
  });
  return { db, state };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("GET /healthz", () => {
  it("makes at most one D1 query per window, however many requests arrive, concurrently or one after another", async () => {
    const { db, state } = probedDb();
    const api = client({ DB: db });
    const concurrent = await Promise.all(Array.from({ length: 50 }, () => api.fetch("/healthz")));
    expect(concurrent.map((r) => r.status)).toEqual(Array(50).fill(200));
    for (let i = 0; i < 50; i++) expect((await api.fetch("/healthz")).status).toBe(200);
    expect(state.queries).toBe(1);
  });

  it("probes again once the window has passed", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { db, state } = probedDb();
    const api = client({ DB: db });
    expect((await api.fetch("/healthz")).status).toBe(200);
    vi.setSystemTime(Date.now() + HEALTH_PROBE_WINDOW_MS - 1);
    expect((await api.fetch("/healthz")).status).toBe(200);
    expect(state.queries).toBe(1);
    vi.setSystemTime(Date.now() + 1);
    expect((await api.fetch("/healthz")).status).toBe(200);
    expect(state.queries).toBe(2);
  });

  it("answers 503 when D1 goes down, at the latest one window later, and 200 again once it is back", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { db, state } = probedDb();
    const api = client({ DB: db });
    expect((await api.fetch("/healthz")).status).toBe(200);
    state.down = true;
    vi.setSystemTime(Date.now() + HEALTH_PROBE_WINDOW_MS);
    const down = await Promise.all(Array.from({ length: 20 }, () => api.fetch("/healthz")));
    expect(down.map((r) => r.status)).toEqual(Array(20).fill(503));
    expect(await down[0]!.json()).toEqual({ status: "unavailable" });
    expect(state.queries).toBe(2);
    state.down = false;
    vi.setSystemTime(Date.now() + HEALTH_PROBE_WINDOW_MS);
    expect((await api.fetch("/healthz")).status).toBe(200);
    expect(state.queries).toBe(3);
  });

  it("answers 503 at once for a database binding it has not probed before", async () => {
    const healthy = client();
    expect((await healthy.fetch("/healthz")).status).toBe(200);
    const { db, state } = probedDb();
    state.down = true;
    expect((await client({ DB: db }).fetch("/healthz")).status).toBe(503);
  });

  it("answers 500 server_error on invalid configuration, without probing the database", async () => {
    const { db, state } = probedDb();
    const body = await expectError(await client({ DB: db, PUBLIC_URL: "not a url" }).fetch("/healthz"), 500, "server_error");
    expect(body.error_description).toContain("PUBLIC_URL");
    expect(state.queries).toBe(0);
  });
});
