/**
 * `npm run keygen` prints a SIGNING_KEYS value and nothing else on stdout, so that
 * `npm run keygen | npx wrangler secret put SIGNING_KEYS` stores a key the Worker accepts,
 * not npm's `> edge-sts@0.1.0 keygen` banner in front of it. Run through npm itself, from
 * the repository, as an operator would; each value is judged by the Worker's own loader.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

interface Loaded {
  active: { kid: string; alg: string };
  jwks: { keys: { kid: string; alg: string }[] };
}
/** The Worker's SIGNING_KEYS loader (src/tokens/signing-keys.ts), run in Node. */
async function workerAccepts(raw: string): Promise<Loaded | null> {
  const module = join(ROOT, "src", "tokens", "signing-keys.ts");
  const { loadSigningKeys } = (await import(module)) as { loadSigningKeys(raw: string): Promise<Loaded | null> };
  return loadSigningKeys(raw);
}

/**
 * `npm run keygen …` as typed at a shell, with `input` on stdin. npm's own settings come
 * from the repository (.npmrc), not from the npm that runs this test: its `npm_config_*`
 * variables are not passed on.
 */
function keygen(args: string[] = [], input = "") {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  const result = spawnSync("npm", ["run", "keygen", ...(args.length ? ["--", ...args] : [])], { cwd: ROOT, env, input, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("npm run keygen", () => {
  it("prints one line of JSON on stdout, a SIGNING_KEYS value the Worker accepts, with npm's banner on stderr only", async () => {
    const { status, stdout, stderr } = keygen();
    expect(status, stderr).toBe(0);
    expect(stdout).toMatch(/^\[\{.*\}\]\n$/);
    expect(stderr).toContain("> edge-sts@0.1.0 keygen");
    const keys = await workerAccepts(stdout.trimEnd());
    expect(keys?.active.alg).toBe("ES256");
    expect(keys?.jwks.keys.map((k) => k.kid)).toEqual([keys?.active.kid]);
  });

  it("makes an EdDSA key the Worker accepts with --alg EdDSA", async () => {
    const { status, stdout, stderr } = keygen(["--alg", "EdDSA"]);
    expect(status, stderr).toBe(0);
    expect((await workerAccepts(stdout))?.active.alg).toBe("EdDSA");
  });

  it("appends a new key to the current value read from stdin, the current key still signing (rotation step 1)", async () => {
    const current = keygen().stdout;
    const currentKid = (await workerAccepts(current))?.active.kid;
    const { status, stdout, stderr } = keygen(["--add"], current);
    expect(status, stderr).toBe(0);
    expect(stdout).toMatch(/^\[\{.*\}\]\n$/);
    const keys = await workerAccepts(stdout);
    expect(keys?.active.kid).toBe(currentKid);
    expect(keys?.jwks.keys).toHaveLength(2);
    // The current private key is never echoed by npm's banner when it comes on stdin.
    expect(stderr).not.toContain(JSON.parse(current)[0].d);
  });

  it("refuses a current value that is not an array of private JWKs, printing no key", () => {
    for (const input of ["", "not json", "[]", '[{"kid":"a"}]', '{"kid":"a","d":"x"}']) {
      const { status, stdout, stderr } = keygen(["--add"], input);
      expect(status, input).toBe(2);
      expect(stderr).toContain("keygen: ");
      expect(stdout).not.toContain('"kty"');
    }
  });
});
