/**
 * The Worker's vars and secrets, parsed once per isolate into a typed `Config`.
 *
 * Secrets that only some routes need (signing keys, hash salt, admin and introspection
 * tokens) stay optional here: a missing one fails the route that needs it with its own
 * configuration hint, never the whole service.
 */
import * as z from "./schema";
import { StsError } from "./errors";

export type ProviderName = "github" | "circleci" | "buildkite" | "rwx";

export const DEFAULT_ISSUERS: Record<ProviderName, string> = {
  github: "https://token.actions.githubusercontent.com",
  circleci: "https://oidc.circleci.com",
  buildkite: "https://agent.buildkite.com",
  rwx: "https://cloud.rwx.com/mint",
};

/** The Worker environment as wrangler.toml and the secrets declare it. */
export interface Env {
  DB: D1Database;
  PUBLIC_URL?: string;
  AUDIENCE?: string;
  SIGNING_KEYS?: string;
  TOKEN_HASH_SALT?: string;
  ADMIN_TOKEN?: string;
  INTROSPECTION_TOKEN?: string;
  GITHUB_ISSUER?: string;
  CIRCLECI_ISSUER?: string;
  BUILDKITE_ISSUER?: string;
  RWX_ISSUER?: string;
  ALLOW_INSECURE_ISSUERS?: string;
  MAX_TRUST_RELATIONSHIPS_PER_PROJECT?: string;
  EXCHANGE_IP_LIMITER?: RateLimit;
  EXCHANGE_OWNER_LIMITER?: RateLimit;
  ADMIN_LIMITER?: RateLimit;
  INTROSPECTION_LIMITER?: RateLimit;
  EXPLAIN_LIMITER?: RateLimit;
  /** The audit log's queue (producer); its consumer is this Worker's `queue` handler. */
  AUDIT_QUEUE?: Queue;
  AUDIT_RETENTION_DAYS?: string;
  /** Workers Static Assets (wrangler.toml `[assets]`): generated files the worker serves. */
  ASSETS?: StaticAssets;
}

/** The static assets binding: a `Fetcher` whose requests are answered from `public/`. */
export type StaticAssets = Fetcher;

export interface Config {
  publicUrl: string;
  audience: string;
  issuers: Record<ProviderName, string>;
  allowInsecureIssuers: boolean;
  /** Raw JSON; parsed and imported lazily by tokens/signing-keys so a bad value only fails minting. */
  signingKeys: string | undefined;
  tokenHashSalt: string | undefined;
  adminToken: string | undefined;
  introspectionToken: string | undefined;
  maxTrustRelationshipsPerProject: number;
  /** Days an audit event is kept before the hourly sweep deletes it. */
  auditRetentionDays: number;
}

/**
 * A whole number from 1 to `max`, given as a number or as text (`wrangler.toml` vars and
 * `.dev.vars` alike), read with `Number()`.
 */
const count = (max: number) => z.pipe(z.transform((value: unknown) => Number(value)), z.number().check(z.int(), z.gte(1), z.lte(max)));

const url = z.pipe(z.url({ protocol: /^https?$/ }), z.transform((u) => u.replace(/\/+$/, "")));
const optionalSecret = z.pipe(z.optional(z.string()), z.transform((s) => (s && s.length > 0 ? s : undefined)));

const EnvSchema = z.object({
  PUBLIC_URL: z._default(url, "http://localhost:8787"),
  AUDIENCE: z.optional(url),
  SIGNING_KEYS: optionalSecret,
  TOKEN_HASH_SALT: optionalSecret,
  ADMIN_TOKEN: optionalSecret,
  INTROSPECTION_TOKEN: optionalSecret,
  GITHUB_ISSUER: z.optional(url),
  CIRCLECI_ISSUER: z.optional(url),
  BUILDKITE_ISSUER: z.optional(url),
  RWX_ISSUER: z.optional(url),
  ALLOW_INSECURE_ISSUERS: z.optional(z.enum(["true", "false", ""])),
  MAX_TRUST_RELATIONSHIPS_PER_PROJECT: z._default(count(10_000), 100),
  AUDIT_RETENTION_DAYS: z._default(count(3650), 90),
});

const parsed = new WeakMap<object, Config>();

/** Parses the environment once per isolate (the `env` object is stable across requests). */
export function configFrom(env: Env): Config {
  const cached = parsed.get(env);
  if (cached) return cached;
  const result = EnvSchema.safeParse(env);
  if (!result.success) {
    throw new StsError("config_invalid", result.error.issues.map((i) => i.path.join(".")).join(", "));
  }
  const e = result.data;
  const allowInsecureIssuers = e.ALLOW_INSECURE_ISSUERS === "true";
  // An http:// issuer is a local-development setting; in production it would be a way to
  // swap a provider's keys in transit, so it is refused unless explicitly allowed.
  const insecure = (["GITHUB_ISSUER", "CIRCLECI_ISSUER", "BUILDKITE_ISSUER", "RWX_ISSUER"] as const).filter((name) =>
    e[name]?.startsWith("http:"),
  );
  if (insecure.length > 0 && !allowInsecureIssuers) {
    throw new StsError("config_invalid", `${insecure.join(", ")} must use https unless ALLOW_INSECURE_ISSUERS=true`);
  }
  const config: Config = {
    publicUrl: e.PUBLIC_URL,
    audience: e.AUDIENCE ?? e.PUBLIC_URL,
    issuers: {
      github: e.GITHUB_ISSUER ?? DEFAULT_ISSUERS.github,
      circleci: e.CIRCLECI_ISSUER ?? DEFAULT_ISSUERS.circleci,
      buildkite: e.BUILDKITE_ISSUER ?? DEFAULT_ISSUERS.buildkite,
      rwx: e.RWX_ISSUER ?? DEFAULT_ISSUERS.rwx,
    },
    allowInsecureIssuers,
    signingKeys: e.SIGNING_KEYS,
    tokenHashSalt: e.TOKEN_HASH_SALT,
    adminToken: e.ADMIN_TOKEN,
    introspectionToken: e.INTROSPECTION_TOKEN,
    maxTrustRelationshipsPerProject: e.MAX_TRUST_RELATIONSHIPS_PER_PROJECT,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
  };
  parsed.set(env, config);
  return config;
}
