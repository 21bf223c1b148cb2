import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
// @ts-expect-error plain JS module shared with the demo, soak and benchmark scripts
import { createFakeIssuer } from "./test/support/fake-issuer.mjs";
// @ts-expect-error plain JS module shared with `npm start`
import { generateDevSecrets } from "./test/support/dev-secrets.mjs";

/**
 * Two projects, one `npm test`:
 * - `workers`: everything under test/ except test/node/, inside workerd with real local D1;
 * - `node`: test/node/, plain Node processes that drive what users run (`npm start`, the CLI,
 *   the Action) against a real worker started by the test itself.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  const secrets = await generateDevSecrets();
  return {
    test: {
      silent: "passed-only" as const,
      projects: [
        {
          plugins: [
            cloudflareTest({
              main: "./src/index.ts",
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                // The network edge: every outbound fetch lands on the fake CI issuer.
                outboundService: createFakeIssuer(),
                // The real local audit queue (wrangler.toml), with batches flushed after 0.1 s
                // instead of 2 s, so tests that read the audit log wait less.
                queueConsumers: { "edge-sts-audit": { maxBatchSize: 100, maxBatchTimeout: 0.1, maxRetries: 10, deadLetterQueue: "edge-sts-audit-dlq" } },
                // Every var is set here so a developer's .dev.vars (which wrangler also reads,
                // and which `npm start` points at a local issuer) never changes what is tested.
                bindings: {
                  ...secrets,
                  TEST_MIGRATIONS: migrations,
                  PUBLIC_URL: "https://sts.test",
                  AUDIENCE: "https://sts.test",
                  GITHUB_ISSUER: "https://token.actions.githubusercontent.com",
                  CIRCLECI_ISSUER: "https://oidc.circleci.com",
                  BUILDKITE_ISSUER: "https://agent.buildkite.com",
                  RWX_ISSUER: "https://cloud.rwx.com/mint",
                  ALLOW_INSECURE_ISSUERS: "false",
                },
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["test/**/*.test.{ts,tsx}"],
            exclude: ["test/node/**", "test/browser/**"],
            setupFiles: ["./test/support/apply-migrations.ts"],
            testTimeout: 20_000,
          },
        },
        {
          test: {
            name: "node",
            include: ["test/node/**/*.test.{ts,mjs}"],
            environment: "node",
            testTimeout: 120_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
