/**
 * Identifying a presented secret without a request, as every door does (the admin API
 * from `Authorization: Bearer`, the settings page from its sign-in form): the operator,
 * each kind of platform credential, and the reasons for everything else; identifying
 * writes nothing, noting a use writes after the response; the log-safe name holds no secret.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  describePrincipal,
  identifyCredential,
  identifyPrincipal,
  noteUse,
  type Credential,
  type IdentifyDeps,
} from "../../src/access/principal";
import { configFrom } from "../../src/config";
import { generateStaticToken } from "../../src/tokens/static-tokens";
import { call, createProject } from "../support/api";
import { createStaticToken, seedTenant } from "../tenancy/helpers";

const now = () => Math.floor(Date.now() / 1000);
const deps = (): IdentifyDeps => ({ db: env.DB, config: configFrom(env), now: now() });

/** A database that fails the test if anything touches it. */
const untouchable = new Proxy({} as D1Database, {
  get() {
    throw new Error("the database was read");
  },
});

async function lastUsed(tokenId: string): Promise<number | null> {
  const row = await env.DB.prepare("SELECT last_used_at FROM static_tokens WHERE id = ?").bind(tokenId).first<{ last_used_at: number | null }>();
  return row!.last_used_at;
}

/** An organization token, fresh for the test. */
async function seedOrgToken() {
  const { orgId } = await createProject();
  return { orgId, ...(await createStaticToken(`/v1/orgs/${orgId}/tokens`)) };
}

describe("identifying a presented secret", () => {
  it("knows the operator and every kind of credential, with its reach", async () => {
    const { orgId, projectId, adminUser, credentials, tokens } = await seedTenant();
    expect(await identifyPrincipal(deps(), env.ADMIN_TOKEN)).toEqual({ kind: "operator" });
    expect(await identifyPrincipal(deps(), credentials.adminUser)).toMatchObject({ kind: "user", userId: adminUser, tokenId: tokens.adminUser.id });
    expect(await identifyPrincipal(deps(), credentials.org)).toMatchObject({ kind: "organization", orgId, tokenId: tokens.org.id });
    expect(await identifyPrincipal(deps(), credentials.project)).toMatchObject({ kind: "project", orgId, projectId, tokenId: tokens.project.id });
    expect(await identifyPrincipal(deps(), credentials.oidc)).toMatchObject({ kind: "oidc", orgId, projectId });
    expect(await identifyPrincipal(deps(), credentials.pull)).toMatchObject({ kind: "pull", orgId, projectId });
  });

  it("does not take ADMIN_TOKEN for a platform credential (introspection describes only those)", async () => {
    expect(await identifyCredential(deps(), env.ADMIN_TOKEN)).toBe("unrecognised_format");
  });

  it("refuses a mistyped static token by its checksum, without reading the database", async () => {
    const token = generateStaticToken("organization");
    const mistyped = `${token.slice(0, 12)}${token[12] === "a" ? "b" : "a"}${token.slice(13)}`;
    expect(await identifyPrincipal({ ...deps(), db: untouchable }, mistyped)).toBe("checksum_mismatch");
    expect(await identifyPrincipal({ ...deps(), db: untouchable }, "not a credential")).toBe("unrecognised_format");
  });

  it("names why a well-formed secret is nobody: unknown, no salt, revoked", async () => {
    const { credentials } = await seedTenant();
    expect(await identifyPrincipal(deps(), generateStaticToken("user"))).toBe("unknown_static_token");
    expect(await identifyPrincipal({ ...deps(), config: { ...configFrom(env), tokenHashSalt: undefined } }, credentials.org)).toBe("token_hash_salt_missing");
    const revoked = await call("/revoke", { method: "POST", headers: { authorization: `Bearer ${credentials.oidc}` } });
    expect(revoked.status).toBe(200);
    expect(await identifyPrincipal(deps(), credentials.oidc)).toBe("revoked_or_orphaned");
  });

  it("writes nothing while identifying; a noted use is written through waitUntil", async () => {
    const org = await seedOrgToken();
    const credential = (await identifyPrincipal(deps(), org.token)) as Credential;
    expect(await lastUsed(org.id)).toBeNull();

    const pending: Promise<unknown>[] = [];
    const at = now();
    noteUse({ db: env.DB, now: at, waitUntil: (p) => void pending.push(p) }, credential);
    expect(pending).toHaveLength(1);
    await Promise.all(pending);
    expect(await lastUsed(org.id)).toBe(at);
  });

  it("names a principal for logs by kind and public identifier, never by its secret", async () => {
    const { credentials, tokens } = await seedTenant();
    expect(describePrincipal({ kind: "operator" })).toBe("operator");
    const names = [];
    for (const secret of Object.values(credentials)) names.push(describePrincipal((await identifyPrincipal(deps(), secret)) as Credential));
    expect(names.slice(0, 4)).toEqual([`user:${tokens.adminUser.id}`, `user:${tokens.memberUser.id}`, `organization:${tokens.org.id}`, `project:${tokens.project.id}`]);
    expect(names.slice(4)).toEqual([expect.stringMatching(/^oidc:\S+$/), expect.stringMatching(/^pull:\S+$/)]);
    for (const secret of Object.values(credentials)) expect(names.join(" ")).not.toContain(secret);
  });
});
