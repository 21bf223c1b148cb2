import type { D1Migration } from "cloudflare:test";
import type { Env as WorkerEnv } from "../src/config";

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof import("../src/index");
    }
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
      SIGNING_KEYS: string;
      ADMIN_TOKEN: string;
      TOKEN_HASH_SALT: string;
      INTROSPECTION_TOKEN: string;
    }
  }
}
