/**
 * POST /token as a request (RFC 8693 §2.1, RFC 6749 §5.2): parameters, body formats and
 * limits, project selection by `audience`, scope narrowing, and the replay table left
 * untouched by every refusal.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createProject, createRelationship, decodeJwt, exchangeToken, expectError } from "../support/api";
import { exchangeForm, expectNoEcho, expectRefused, replayRecorded } from "../support/exchange-forge";
import { expectExchanged, seedGithub } from "../support/exchange-seed";
import { githubClaims, ISSUERS, now, signToken } from "../support/issuer";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
const JWT = "urn:ietf:params:oauth:token-type:jwt";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";

const post = (body: BodyInit, contentType?: string) =>
  call("/token", { method: "POST", headers: contentType ? { "content-type": contentType } : {}, body });

/** A signed GitHub token that a fresh relationship admits. */
async function admittedToken(relationship: Record<string, unknown> = {}) {
  const seeded = await seedGithub({}, relationship);
  return { ...seeded, token: await signToken(ISSUERS.github, seeded.claims) };
}

/** One repository admitted by relationships in two projects. */
async function twoProjects() {
  const claims = githubClaims();
  const [owner, repository] = String(claims.repository).split("/");
  const first = await createProject();
  const second = await createProject();
  await createRelationship(first.projectId, { provider: "github", owner, repository });
  await createRelationship(second.projectId, { provider: "github", owner, repository });
  return { claims, first: first.projectId, second: second.projectId, token: await signToken(ISSUERS.github, claims) };
}

describe("POST /token: parameters", () => {
  it("answers unsupported_grant_type for another grant type", async () => {
    const { token } = await admittedToken();
    await expectRefused(await exchangeToken(token, { grant_type: "client_credentials" }), "grant_type_unsupported");
  });

  it("answers unsupported_grant_type for an empty grant_type", async () => {
    const { token } = await admittedToken();
    await expectRefused(await exchangeToken(token, { grant_type: "" }), "grant_type_unsupported");
  });

  it("answers invalid_request naming grant_type when it is missing", async () => {
    const { token } = await admittedToken();
    const form = exchangeForm(token);
    form.delete("grant_type");
    const body = await expectError(await post(form, "application/x-www-form-urlencoded"), 400, "invalid_request");
    expect(body.error_description).toContain("grant_type");
  });

  for (const field of ["subject_token", "subject_token_type"]) {
    it(`answers invalid_request naming ${field} when it is missing`, async () => {
      const { token } = await admittedToken();
      const form = exchangeForm(token);
      form.delete(field);
      const body = await expectError(await post(form, "application/x-www-form-urlencoded"), 400, "invalid_request");
      expect(body.error_description).toContain(field);
    });
  }

  it("refuses a subject_token_type other than id_token or jwt", async () => {
    const { token } = await admittedToken();
    const body = await expectRefused(await exchangeToken(token, { subject_token_type: ACCESS_TOKEN }), "subject_token_type_unsupported");
    expectNoEcho(body.error_description, token);
  });

  it("accepts subject_token_type jwt", async () => {
    const { token } = await admittedToken();
    await expectExchanged(token, { subject_token_type: JWT });
  });

  it("refuses a requested_token_type other than jwt or access_token", async () => {
    const { token } = await admittedToken();
    await expectRefused(await exchangeToken(token, { requested_token_type: "urn:ietf:params:oauth:token-type:refresh_token" }), "requested_token_type_unsupported");
  });

  for (const type of [JWT, ACCESS_TOKEN]) {
    it(`accepts requested_token_type ${type.split(":").pop()} and issues a JWT`, async () => {
      const { token } = await admittedToken();
      expect((await expectExchanged(token, { requested_token_type: type })).issued_token_type).toBe(JWT);
    });
  }

  it("ignores unknown parameters, including names of object members", async () => {
    const { token } = await admittedToken();
    const form = exchangeForm(token, { resource: "https://registry.example", constructor: "x", toString: "y", hasOwnProperty: "z" });
    form.append("__proto__", "w");
    expect((await post(form, "application/x-www-form-urlencoded")).status).toBe(200);
  });

  it("never lets request parameters set reserved claims of the minted token", async () => {
    const { token, projectId, orgId } = await admittedToken();
    const body = await expectExchanged(token, {
      iss: "https://evil.example",
      sub: "project:prj_000000000000000000000000",
      project_id: "prj_000000000000000000000000",
      org_id: "org_000000000000000000000000",
      token_use: "user",
      exp: String(now() + 10 ** 6),
    });
    expect(decodeJwt(body.access_token)).toMatchObject({
      iss: "https://sts.test",
      sub: `project:${projectId}`,
      project_id: projectId,
      org_id: orgId,
      token_use: "oidc",
    });
    expect(body.expires_in).toBe(3600);
  });
});

describe("POST /token: body formats and limits", () => {
  it("accepts a JSON body with the same field names as the form", async () => {
    const { token, projectId } = await admittedToken();
    const response = await post(
      JSON.stringify({ grant_type: TOKEN_EXCHANGE, subject_token: token, subject_token_type: ID_TOKEN, audience: projectId, scope: "registry:pull" }),
      "application/json",
    );
    const body = (await response.json()) as { access_token: string; scope: string };
    expect(response.status).toBe(200);
    expect(body.scope).toBe("registry:pull");
    expect(decodeJwt(body.access_token).project_id).toBe(projectId);
  });

  it("accepts a form body whose content type carries a charset", async () => {
    const { token } = await admittedToken();
    expect((await post(exchangeForm(token), "application/x-www-form-urlencoded; charset=UTF-8")).status).toBe(200);
  });

  it("refuses a repeated form parameter", async () => {
    const { token } = await admittedToken();
    const form = exchangeForm(token);
    form.append("audience", "prj_000000000000000000000000");
    form.append("audience", "prj_111111111111111111111111");
    const body = await expectError(await post(form, "application/x-www-form-urlencoded"), 400, "invalid_request");
    expect(body.error_description).toContain("audience");
  });

  it("refuses a repeated subject_token without recording it as used", async () => {
    const { token, claims } = await admittedToken();
    const form = exchangeForm(token);
    form.append("subject_token", token);
    await expectError(await post(form, "application/x-www-form-urlencoded"), 400, "invalid_request");
    expect(await replayRecorded(ISSUERS.github, String(claims.jti))).toBe(false);
  });

  it("refuses a JSON field that is not a string", async () => {
    const { token } = await admittedToken();
    const body = await expectError(
      await post(JSON.stringify({ grant_type: TOKEN_EXCHANGE, subject_token: [token], subject_token_type: ID_TOKEN }), "application/json"),
      400,
      "invalid_request",
    );
    expect(body.error_description).toContain("subject_token");
    expectNoEcho(body.error_description, token);
  });

  it("refuses JSON that does not parse", async () => {
    await expectRefused(await post("{\"grant_type\":", "application/json"), "body_malformed");
  });

  it("refuses a JSON body that is not an object", async () => {
    await expectRefused(await post(JSON.stringify([TOKEN_EXCHANGE]), "application/json"), "body_malformed");
  });

  for (const type of ["text/plain", "multipart/form-data; boundary=x", undefined]) {
    it(`answers 415 for content type ${type ?? "(none)"}`, async () => {
      const { token } = await admittedToken();
      await expectRefused(await post(exchangeForm(token).toString(), type), "media_type_unsupported");
    });
  }

  it("answers 413 for a body over 32 KiB", async () => {
    const { token } = await admittedToken();
    await expectRefused(await post(exchangeForm(token, { padding: "x".repeat(33 * 1024) }), "application/x-www-form-urlencoded"), "body_too_large");
  });

  it("answers 413 for a streamed body over 32 KiB without a content length", async () => {
    const chunk = new TextEncoder().encode("x".repeat(8 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 5) controller.enqueue(chunk);
        else controller.close();
      },
    });
    await expectRefused(await post(stream, "application/x-www-form-urlencoded"), "body_too_large");
  });

  it("sends Cache-Control: no-store and Pragma: no-cache with a success", async () => {
    const { token } = await admittedToken();
    const response = await exchangeToken(token);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("pragma")).toBe("no-cache");
  });

  it("sends Cache-Control: no-store and Pragma: no-cache with a refusal", async () => {
    const response = await exchangeToken("not-a-jwt");
    expect(response.status).toBe(400);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("pragma")).toBe("no-cache");
  });
});

describe("POST /token: audience selects the project", () => {
  it("uses the one project whose relationships admit the token when audience is absent", async () => {
    const { token, projectId } = await admittedToken();
    expect(decodeJwt((await expectExchanged(token)).access_token).project_id).toBe(projectId);
  });

  it("answers invalid_target when two projects admit the token and audience is absent", async () => {
    const { token, first, second } = await twoProjects();
    const body = await expectRefused(await exchangeToken(token), "target_ambiguous");
    expectNoEcho(body.error_description, first, second);
  });

  it("exchanges for the project named by audience when several admit the token", async () => {
    const { token, second } = await twoProjects();
    const body = await expectExchanged(token, { audience: second });
    expect(decodeJwt(body.access_token)).toMatchObject({ project_id: second, sub: `project:${second}` });
  });

  it("answers invalid_target for a project that does not exist", async () => {
    const { token } = await admittedToken();
    await expectRefused(await exchangeToken(token, { audience: "prj_0123456789abcdef01234567" }), "target_invalid");
  });

  it("answers invalid_target for a project whose relationships do not admit the token", async () => {
    const { token } = await admittedToken();
    const other = await createProject();
    await expectRefused(await exchangeToken(token, { audience: other.projectId }), "target_invalid");
  });

  it("answers invalid_target for an audience that is not a project ID", async () => {
    const { token } = await admittedToken();
    await expectRefused(await exchangeToken(token, { audience: "https://sts.test" }), "target_invalid");
  });
});

describe("POST /token: scope", () => {
  it("narrows the granted scopes to those asked for", async () => {
    const { token } = await admittedToken();
    const body = await expectExchanged(token, { scope: "registry:pull" });
    expect(body.scope).toBe("registry:pull");
    expect(decodeJwt(body.access_token).scope).toBe("registry:pull");
  });

  it("grants every relationship scope when scope is absent", async () => {
    const { token } = await admittedToken();
    expect((await expectExchanged(token)).scope).toBe("builds registry:pull registry:push");
  });

  it("answers invalid_scope for a scope the relationship does not grant", async () => {
    const { token } = await admittedToken();
    await expectRefused(await exchangeToken(token, { scope: "registry:pull api" }), "scope_invalid");
  });

  it("answers invalid_scope for a scope that does not exist", async () => {
    const { token } = await admittedToken();
    await expectRefused(await exchangeToken(token, { scope: "admin" }), "scope_invalid");
  });
});

describe("POST /token: a refusal records nothing", () => {
  it("leaves a token refused for its audience exchangeable with the right audience", async () => {
    const { token, claims, projectId } = await admittedToken();
    const other = await createProject();
    await expectRefused(await exchangeToken(token, { audience: other.projectId }), "target_invalid");
    expect(await replayRecorded(ISSUERS.github, String(claims.jti))).toBe(false);
    await expectExchanged(token, { audience: projectId });
    expect(await replayRecorded(ISSUERS.github, String(claims.jti))).toBe(true);
  });

  it("leaves a token refused as ambiguous exchangeable once audience is given", async () => {
    const { token, claims, first } = await twoProjects();
    await expectRefused(await exchangeToken(token), "target_ambiguous");
    expect(await replayRecorded(ISSUERS.github, String(claims.jti))).toBe(false);
    await expectExchanged(token, { audience: first });
  });

  it("leaves a token refused for its scope exchangeable with a narrower scope", async () => {
    const { token, claims } = await admittedToken();
    await expectRefused(await exchangeToken(token, { scope: "api" }), "scope_invalid");
    expect(await replayRecorded(ISSUERS.github, String(claims.jti))).toBe(false);
    await expectExchanged(token, { scope: "builds" });
  });

  it("records nothing for a token no relationship admits", async () => {
    const { token, claims } = await admittedToken({ conditions: { ref: "refs/tags/*" } });
    await expectRefused(await exchangeToken(token), "no_trust_relationship");
    expect(await replayRecorded(ISSUERS.github, String(claims.jti))).toBe(false);
  });

  it("records nothing when the service cannot mint, so the token stays usable", async () => {
    const { token, claims } = await admittedToken();
    const { exchangeWithEnv } = await import("../support/exchange-forge");
    const response = await exchangeWithEnv({ SIGNING_KEYS: "" }, token);
    await expectRefused(response, "signing_keys_missing");
    expect(await replayRecorded(ISSUERS.github, String(claims.jti))).toBe(false);
    await expectExchanged(token);
  });

  it("records a used token until its expiry plus the clock tolerance", async () => {
    const { token, claims } = await admittedToken();
    await expectExchanged(token);
    const row = await env.DB.prepare("SELECT expires_at FROM used_subject_tokens WHERE token_key = ?")
      .bind(`${ISSUERS.github}#${claims.jti}`)
      .first<{ expires_at: number }>();
    expect(row?.expires_at).toBe(Number(claims.exp) + 60);
  });
});
