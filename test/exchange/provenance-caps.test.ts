/**
 * A minted token never exceeds what our own verifiers accept (issue 8 §10): the `ci`
 * provenance copies the ID token's values, and an ID token may be 16 KiB while our
 * verifiers refuse JWTs over 8192 characters. For each provider, ID tokens as large as the
 * limit allows — every value the claim schema and the relationship let through made as long
 * as fits, in ASCII, in characters JSON must escape, and in multi-byte UTF-8 — are
 * exchanged, and the minted token must introspect as active.
 */
import { env } from "cloudflare:workers";
// jose's decoder reads the payload as UTF-8 (the suite's own helper reads it as Latin-1).
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { MAX_SUBJECT_TOKEN_BYTES } from "../../src/providers/verify";
import { MAX_PROVENANCE_BYTES, MAX_PROVENANCE_VALUE_BYTES } from "../../src/tokens/mint";
import { MAX_OWN_TOKEN_LENGTH } from "../../src/tokens/own-tokens";
import { call, createProject, createRelationship } from "../support/api";
import { callWorker, exchangeWithEnv } from "../support/exchange-forge";
import { buildkiteClaims, circleciClaims, githubClaims, ISSUERS, publicKey, rwxClaims, signToken, uuid } from "../support/issuer";

type Claims = Record<string, unknown>;
type ProviderName = "github" | "circleci" | "buildkite" | "rwx";

const FILLERS: Record<string, string> = {
  ascii: "x",
  // Each of these costs 6 bytes in JSON (\u0001), or 2 (\" and \\).
  escapes: '\u0001"\\',
  // 2, 3 and 4 bytes in UTF-8.
  multibyte: "é€😀",
};

const letters = (n: number, prefix: string) => (prefix + "a".repeat(n)).slice(0, n);

/**
 * Per provider: a job whose identity fields are as long as a relationship may name them,
 * and the claims copied into `ci` that nothing constrains (to be filled).
 */
const JOBS: Record<ProviderName, () => Promise<{ issuer: string; claims: Claims; free: string[] }>> = {
  async github() {
    const owner = letters(39, `o${uuid().slice(0, 8)}`);
    const repository = letters(100, `r${uuid().slice(0, 8)}.`);
    const claims = githubClaims({ repository: `${owner}/${repository}`, repository_owner: owner, repository_id: "9".repeat(20), repository_owner_id: "9".repeat(20) });
    await createRelationship((await createProject()).projectId, { provider: "github", owner, repository });
    const free = ["sub", "ref", "sha", "workflow_ref", "job_workflow_ref", "event_name", "environment", "run_id", "run_attempt", "runner_environment"];
    return { issuer: ISSUERS.github, claims, free };
  },
  async circleci() {
    const org = uuid();
    const project = uuid();
    const claims = circleciClaims(org, project);
    await createRelationship((await createProject()).projectId, { provider: "circleci", organization_uuid: org, project_uuid: project });
    const free = ["sub", "oidc.circleci.com/pipeline-id", "oidc.circleci.com/workflow-id", "oidc.circleci.com/job-id", "oidc.circleci.com/vcs-origin", "oidc.circleci.com/vcs-ref"];
    return { issuer: String(claims.iss), claims, free };
  },
  async buildkite() {
    const org = letters(100, `o${uuid().slice(0, 8)}-`);
    const pipeline = letters(100, `p${uuid().slice(0, 8)}-`);
    const claims = buildkiteClaims({ organization_slug: org, pipeline_slug: pipeline, organization_id: uuid(), pipeline_id: uuid() });
    await createRelationship((await createProject()).projectId, { provider: "buildkite", organization_slug: org, pipeline_slug: pipeline });
    const free = ["sub", "build_number", "build_branch", "build_tag", "build_commit", "step_key", "job_id", "build_source"];
    return { issuer: ISSUERS.buildkite, claims, free };
  },
  async rwx() {
    const subject = `mint:${uuid()}:${"v".repeat(512)}`.slice(0, 512);
    const claims = rwxClaims({ sub: subject });
    await createRelationship((await createProject()).projectId, { provider: "rwx", subject });
    return { issuer: ISSUERS.rwx, claims, free: ["run_id", "run_url", "task_id", "task_url"] };
  },
};

const utf8 = (s: string) => new TextEncoder().encode(s).length;
const b64Length = (bytes: number) => Math.ceil((bytes * 4) / 3);

/** Length of the compact JWS the fake issuer will produce for these claims (RS256, 2048-bit). */
function signedLength(claims: Claims, kid: string): number {
  const header = JSON.stringify({ alg: "RS256", kid, typ: "JWT" });
  return b64Length(utf8(header)) + 1 + b64Length(utf8(JSON.stringify(claims))) + 1 + 342;
}

/** The claims with `unit` (repeated, cut to n UTF-16 units) in each of `names`, n as large as fits 16 KiB. */
function largest(claims: Claims, names: string[], unit: string, kid: string): Claims {
  const value = (n: number) => unit.repeat(Math.ceil(n / unit.length) + 1).slice(0, n).replace(/[\uD800-\uDBFF]$/, "x");
  const withLength = (n: number) => ({ ...claims, ...Object.fromEntries(names.map((name) => [name, value(n)])) });
  let low = 1;
  let high = MAX_SUBJECT_TOKEN_BYTES;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (signedLength(withLength(mid), kid) <= MAX_SUBJECT_TOKEN_BYTES) low = mid;
    else high = mid - 1;
  }
  return withLength(low);
}

/** The longest repetition of `unit` whose JSON spelling (quotes included) is at most `bytes` UTF-8 bytes. */
function valueOfJsonBytes(unit: string, bytes: number): string {
  let value = "";
  for (let i = 0; ; i++) {
    const next = value + [...unit][i % [...unit].length]!;
    if (utf8(JSON.stringify(next)) > bytes) return value;
    value = next;
  }
}

async function introspect(token: string, overrides: Record<string, unknown> = {}) {
  const request = new Request("https://sts.test/introspect", {
    method: "POST",
    headers: { authorization: `Bearer ${env.INTROSPECTION_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }),
  });
  const response = Object.keys(overrides).length > 0 ? await callWorker(request, overrides) : await call("/introspect", { method: request.method, headers: request.headers, body: await request.text() });
  expect(response.status).toBe(200);
  return (await response.json()) as { active: boolean };
}

describe("a minted token always verifies, whatever the ID token carried", () => {
  for (const provider of Object.keys(JOBS) as ProviderName[]) {
    it(`introspects as active for ${provider} ID tokens filled to 16 KiB, in one value or spread over all`, async () => {
      const job = await JOBS[provider]();
      const { kid } = await publicKey(job.issuer);
      const outcomes = [];
      for (const [fillerName, unit] of Object.entries(FILLERS)) {
        // One value as long as fits; every value as long as fits; every value at the per-value cap.
        for (const spread of ["one", "all", "at-cap"] as const) {
          const names = spread === "one" ? [job.free[1]!] : job.free;
          const base = { ...job.claims, ...("jti" in job.claims ? { jti: uuid() } : {}) };
          const claims =
            spread === "at-cap"
              ? { ...base, ...Object.fromEntries(names.map((name) => [name, valueOfJsonBytes(unit, MAX_PROVENANCE_VALUE_BYTES)])) }
              : largest(base, names, unit, kid);
          const subjectToken = await signToken(job.issuer, claims);
          expect(subjectToken.length).toBeLessThanOrEqual(MAX_SUBJECT_TOKEN_BYTES);
          if (spread !== "at-cap") expect(subjectToken.length).toBeGreaterThan(MAX_SUBJECT_TOKEN_BYTES - 200);
          const response = await exchangeWithEnv({}, subjectToken);
          const body = (await response.json()) as { access_token: string };
          expect(response.status, JSON.stringify(body)).toBe(200);
          const minted = body.access_token;
          const ci = decodeJwt(minted).ci as Record<string, unknown>;
          outcomes.push({
            case: `${fillerName}/${spread}`,
            subject: subjectToken.length,
            length: minted.length,
            omitted: ((ci.omitted as string[] | undefined) ?? []).length,
            active: (await introspect(minted)).active,
          });
          // What is kept is the ID token's value, never a cut one; what is not is named.
          for (const name of names) {
            if (name in ci) expect(ci[name]).toBe(claims[name]);
            else expect(ci.omitted).toContain(name === "sub" ? "subject" : name);
          }
          expect(ci).toMatchObject({ provider, issuer: job.issuer });
          expect(utf8(JSON.stringify(ci))).toBeLessThanOrEqual(MAX_PROVENANCE_BYTES);
        }
      }
      console.log(`provenance caps ${provider}: ${JSON.stringify(outcomes)}`);
      for (const o of outcomes) expect(o, o.case).toMatchObject({ active: true });
      for (const o of outcomes) expect(o.length, o.case).toBeLessThanOrEqual(MAX_OWN_TOKEN_LENGTH);
    }, 60_000);
  }

  it("keeps every value up to the per-value cap when the whole fits, and the ID token's values unchanged", async () => {
    const job = await JOBS.rwx();
    // Two values just under the cap (JSON quotes included), two short ones.
    const long = "u".repeat(MAX_PROVENANCE_VALUE_BYTES - 2);
    const claims: Claims = { ...job.claims, run_url: long, task_url: long.replace(/u/g, "t") };
    const response = await exchangeWithEnv({}, await signToken(job.issuer, claims));
    expect(response.status).toBe(200);
    const ci = decodeJwt(((await response.json()) as { access_token: string }).access_token).ci as Record<string, unknown>;
    expect(ci).toMatchObject({ run_url: claims.run_url, task_url: claims.task_url, run_id: claims.run_id, task_id: claims.task_id, subject: claims.sub });
    expect(ci).not.toHaveProperty("omitted");
  });

  it("still mints a verifiable token when PUBLIC_URL is so long that the capped provenance would not fit", async () => {
    const job = await JOBS.github();
    const { kid } = await publicKey(job.issuer);
    const longUrl = `https://sts.test/${"p".repeat(1500)}`;
    const overrides = { PUBLIC_URL: longUrl, AUDIENCE: "https://sts.test" };
    const claims = largest({ ...job.claims, jti: uuid() }, job.free, "x", kid);
    const response = await exchangeWithEnv(overrides, await signToken(job.issuer, claims));
    expect(response.status).toBe(200);
    const minted = ((await response.json()) as { access_token: string }).access_token;
    expect(minted.length).toBeLessThanOrEqual(MAX_OWN_TOKEN_LENGTH);
    expect((await introspect(minted, overrides)).active).toBe(true);
  });
});
