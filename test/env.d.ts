import type { D1Migration } from "cloudflare:test";
import type { Env as WorkerEnv } from "../src/config";

/** Vite's raw imports: a file's text, as the static assets serve it (e.g. public/openapi.json). */
declare module "*?raw" {
  const text: string;
  export default text;
}

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
