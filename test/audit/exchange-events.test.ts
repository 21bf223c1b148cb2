/**
 * Exchange events (issue 10 §4): every exchange of a verified token is recorded through the
 * real queue and consumer, minted or refused with its reason, with its provenance, request
 * ID, relationship, minted jti and truncated client network; it belongs only to the project
 * the job named in `audience` or was routed to. Refusals before the token verifies are not
 * recorded.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ProviderName } from "../../src/config";
import { call, createProject, createRelationship, decodeJwt } from "../support/api";
import { seedBuildkite, seedCircleci, seedGithub, seedRwx } from "../support/exchange-seed";
import { githubClaims, ISSUERS, now, signToken } from "../support/issuer";
import { client, fakeLimiter } from "../robustness/support";
import { consume, listAudit, recordingQueue, waitForAudit } from "./support";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";

/** POST /token with a ray ID (so the request ID is known) and a client address. */
async function exchangeAs(subjectToken: string, extra: Record<string, string> = {}, ip = "203.0.113.77") {
  const ray = `ray-${crypto.randomUUID()}`;
  const response = await call("/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "cf-ray": ray, "cf-connecting-ip": ip },
    body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ID_TOKEN, ...extra }),
  });
  expect(response.headers.get("x-request-id")).toBe(ray);
  return { response, ray, body: (await response.json()) as Record<string, string> };
}

const eventOf = async (orgId: string, ray: string) => (await waitForAudit(orgId, (events) => events.some((e) => e.request_id === ray))).find((e) => e.request_id === ray)!;

async function seed(provider: ProviderName) {
  switch (provider) {
    case "github": {
      const job = await seedGithub();
      return { ...job, token: () => signToken(ISSUERS.github, { ...job.claims, jti: crypto.randomUUID() }) };
    }
    case "circleci": {
      const job = await seedCircleci();
      return { ...job, token: () => signToken(String(job.claims.iss), job.claims) };
    }
    case "buildkite": {
      const job = await seedBuildkite();
      return { ...job, token: () => signToken(ISSUERS.buildkite, { ...job.claims, jti: crypto.randomUUID() }) };
    }
    case "rwx": {
      const job = await seedRwx();
      return { ...job, token: () => signToken(ISSUERS.rwx, job.claims) };
    }
  }
}

/** Provenance each provider's event must carry (repository or pipeline, ref, sha, workflow, run). */
const PROVENANCE: Record<ProviderName, string[]> = {
  github: ["repository", "repository_id", "ref", "sha", "workflow_ref", "job_workflow_ref", "run_id", "run_attempt", "event_name"],
  circleci: ["oidc.circleci.com/project-id", "oidc.circleci.com/vcs-origin", "oidc.circleci.com/vcs-ref", "oidc.circleci.com/pipeline-id", "oidc.circleci.com/job-id"],
  buildkite: ["organization_slug", "pipeline_slug", "build_branch", "build_commit", "build_number", "job_id"],
  rwx: ["sub", "run_id", "run_url", "task_id"],
};

describe("minted exchanges", () => {
  it.each(["github", "circleci", "buildkite", "rwx"] as const)(
    "records a minted %s exchange: provenance, relationship, minted jti, request ID, truncated network",
    async (provider) => {
      const job = await seed(provider);
      const { response, ray, body } = await exchangeAs(await job.token());
      expect(response.status, JSON.stringify(body)).toBe(200);
      const event = await eventOf(job.orgId, ray);
      expect(event).toMatchObject({
        kind: "exchange",
        outcome: "minted",
        reason: null,
        org_id: job.orgId,
        project_id: job.projectId,
        provider,
        relationship_id: job.relationshipId,
        jti: decodeJwt(body.access_token!).jti,
        scope: "builds registry:pull registry:push",
        client_network: "203.0.113.0/24",
        audience: null,
        shadow: [],
      });
      expect(event.id).toMatch(/^evt_[0-9a-f]{32}$/);
      expect(Math.abs(event.time - now())).toBeLessThan(120);
      for (const claim of PROVENANCE[provider]) expect(event.provenance[claim], claim).toEqual(job.claims[claim]);
      expect(event.subject).toBe(job.claims.sub);
      // Never the address, never a token.
      const text = JSON.stringify(event);
      expect(text).not.toContain("203.0.113.77");
      expect(text).not.toContain(body.access_token!.split(".")[2]!);
    },
  );

  it("records the IPv6 client network as its /48", async () => {
    const job = await seed("rwx");
    const { ray } = await exchangeAs(await job.token(), {}, "2001:db8:abcd:12::7");
    const event = await eventOf(job.orgId, ray);
    expect(event.client_network).toBe("2001:db8:abcd::/48");
    expect(JSON.stringify(event)).not.toContain("2001:db8:abcd:12");
  });

  it("records the immutable IDs a first exchange pinned", async () => {
    const job = await seed("github");
    const { ray } = await exchangeAs(await job.token());
    const event = await eventOf(job.orgId, ray);
    expect(event.pinned).toEqual({ owner_id: job.claims.repository_owner_id, repository_id: job.claims.repository_id });
  });

  it("records the audience the job named", async () => {
    const job = await seed("circleci");
    const { response, ray } = await exchangeAs(await job.token(), { audience: job.projectId });
    expect(response.status).toBe(200);
    expect((await eventOf(job.orgId, ray)).audience).toBe(job.projectId);
  });
});

describe("refused exchanges of verified tokens", () => {
  it("records a replayed GitHub token as refused: token_replayed", async () => {
    const job = await seed("github");
    const token = await job.token();
    expect((await exchangeAs(token)).response.status).toBe(200);
    const { response, ray } = await exchangeAs(token);
    expect(response.status).toBe(400);
    expect(await eventOf(job.orgId, ray)).toMatchObject({
      outcome: "refused",
      reason: "token_replayed",
      project_id: job.projectId,
      relationship_id: null,
      jti: null,
      scope: null,
      provider: "github",
    });
  });

  it("records a Buildkite job its project's conditions refuse as refused: no_trust_relationship", async () => {
    const job = await seedBuildkite({}, { conditions: { build_branch: "release" } });
    const { response, ray } = await exchangeAs(await signToken(ISSUERS.buildkite, job.claims));
    expect(response.status).toBe(400);
    // The check that failed is for the project's admins: in the event, never on the wire.
    expect(await eventOf(job.orgId, ray)).toMatchObject({
      outcome: "refused",
      reason: "no_trust_relationship",
      detail: "failed: conditions",
      project_id: job.projectId,
      provider: "buildkite",
    });
  });

  it("records a GitHub pull_request_target job as refused: event_denied", async () => {
    const job = await seedGithub({ event_name: "pull_request_target" });
    const { response, ray } = await exchangeAs(await signToken(ISSUERS.github, job.claims));
    expect(response.status).toBe(400);
    const event = await eventOf(job.orgId, ray);
    expect(event).toMatchObject({ outcome: "refused", reason: "event_denied", project_id: job.projectId });
    expect(event.provenance.event_name).toBe("pull_request_target");
  });

  it("records an RWX job asking for more scope than granted as refused: scope_invalid", async () => {
    const job = await seed("rwx");
    const { response, ray } = await exchangeAs(await job.token(), { scope: "builds api" });
    expect(response.status).toBe(400);
    expect(await eventOf(job.orgId, ray)).toMatchObject({ outcome: "refused", reason: "scope_invalid", provider: "rwx" });
  });

  it("records a CircleCI job refused by its owner's budget as refused: rate_limited", async () => {
    const job = await seed("circleci");
    // Every budget but the per-network one refuses: the one left is the verified token's.
    const limiter = fakeLimiter((key) => key.startsWith("net:"));
    const limited = client({ EXCHANGE_OWNER_LIMITER: limiter });
    const ray = `ray-${crypto.randomUUID()}`;
    const response = await limited.fetch("/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "cf-ray": ray },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: await job.token(), subject_token_type: ID_TOKEN }),
    });
    expect(response.status).toBe(429);
    expect(await eventOf(job.orgId, ray)).toMatchObject({ outcome: "refused", reason: "rate_limited", provider: "circleci", client_network: "unknown" });
  });
});

describe("refusals before the token verifies", () => {
  it("records nothing for a bad signature, an expired, a foreign-audience or an unknown-issuer token", async () => {
    const job = await seed("github");
    const queue = recordingQueue();
    const api = client({ AUDIT_QUEUE: queue });
    const good = await job.token();
    const t = now();
    const refused = [
      `${good.slice(0, -8)}AAAAAAAA`,
      await signToken(ISSUERS.github, { ...job.claims, jti: crypto.randomUUID(), iat: t - 4000, nbf: t - 4000, exp: t - 3000 }),
      await signToken(ISSUERS.github, { ...job.claims, jti: crypto.randomUUID(), aud: "https://elsewhere.example" }),
      await signToken("https://ci.unknown.example", { ...job.claims, jti: crypto.randomUUID(), iss: "https://ci.unknown.example" }),
      "not-a-jwt",
    ];
    for (const token of refused) {
      expect((await api.exchange(token, { audience: job.projectId })).status).toBe(400);
    }
    expect(queue.sent).toEqual([]);
    // The same client does record a verified token's exchange.
    expect((await api.exchange(good)).status).toBe(200);
    expect(queue.sent.map((e) => e.outcome)).toEqual(["minted"]);
  });

  it("records nothing for a CircleCI token from an issuer no relationship of the named project names (refused before its keys are fetched)", async () => {
    const job = await seedCircleci();
    const other = await createProject();
    const queue = recordingQueue();
    const response = await client({ AUDIT_QUEUE: queue }).exchange(await signToken(String(job.claims.iss), job.claims), { audience: other.projectId });
    expect(response.status).toBe(400);
    expect(queue.sent).toEqual([]);
  });
});

describe("which organization an exchange belongs to", () => {
  /** Two organizations whose projects both have a relationship naming one GitHub repository. */
  async function sharedRepository() {
    const claims = githubClaims();
    const [owner, repository] = String(claims.repository).split("/");
    const a = await createProject();
    const b = await createProject();
    await createRelationship(a.projectId, { provider: "github", owner, repository });
    await createRelationship(b.projectId, { provider: "github", owner, repository });
    return { claims, a, b, token: () => signToken(ISSUERS.github, { ...claims, jti: crypto.randomUUID() }) };
  }

  it("records an exchange only in the project it named, never in another tenant's naming the same repository", async () => {
    const { a, b, token } = await sharedRepository();
    const { response, ray } = await exchangeAs(await token(), { audience: a.projectId });
    expect(response.status).toBe(200);
    expect((await eventOf(a.orgId, ray)).project_id).toBe(a.projectId);
    expect((await listAudit(b.orgId, { kind: "exchange" })).events).toEqual([]);
  });

  it("records nothing for a refusal that names no project and matches several", async () => {
    const { a, b, token } = await sharedRepository();
    const queue = recordingQueue();
    const response = await client({ AUDIT_QUEUE: queue }).exchange(await token());
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_target");
    expect(queue.sent).toEqual([]);
    for (const org of [a.orgId, b.orgId]) expect((await listAudit(org, { kind: "exchange" })).events).toEqual([]);
  });

  it("records a refused job that names another organization's project in audience there, with its own provenance", async () => {
    const job = await seedCircleci();
    const other = await createProject();
    // A first exchange fetches the organization's issuer keys: a cold fetch for a project
    // that does not name the issuer is refused before the token is verified, and not recorded.
    expect((await exchangeAs(await signToken(String(job.claims.iss), job.claims))).response.status).toBe(200);
    const { response, ray } = await exchangeAs(await signToken(String(job.claims.iss), job.claims), { audience: other.projectId });
    expect(response.status).toBe(400);
    // The organization is looked up by the consumer: no relationship of that project was read.
    expect(await eventOf(other.orgId, ray)).toMatchObject({
      org_id: other.orgId,
      project_id: other.projectId,
      audience: other.projectId,
      outcome: "refused",
      reason: "target_invalid",
      identity: `${job.org}/${job.project}`,
    });
    expect((await listAudit(job.orgId, { outcome: "refused" })).events).toEqual([]);
  });

  it("stores nothing for a refusal whose audience names no existing project", async () => {
    const job = await seed("rwx");
    const queue = recordingQueue();
    const missing = `prj_${"0".repeat(24)}`;
    expect((await client({ AUDIT_QUEUE: queue }).exchange(await job.token(), { audience: missing })).status).toBe(400);
    expect(queue.sent).toHaveLength(1);
    expect(queue.sent[0]).toMatchObject({ org_id: null, project_id: missing, reason: "target_invalid" });
    const result = await consume(queue.sent);
    expect(result.explicitAcks).toHaveLength(1);
    const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE id = ?").bind(queue.sent[0].id).first<{ n: number }>();
    expect(row?.n).toBe(0);
  });
});
