/** Persisted provider JWKS, so a fresh isolate starts with keys instead of a fetch. */
import type { KeyStore } from "../providers/key-cache";
import { d1 } from "./d1";
import type { D1Handle } from "./replicas";

export function issuerKeyStore(db: D1Handle): KeyStore {
  return {
    load: (issuer) =>
      d1(async () => {
        const row = await db
          .prepare("SELECT jwks, fetched_at FROM issuer_keys WHERE issuer = ?")
          .bind(issuer)
          .first<{ jwks: string; fetched_at: number }>();
        return row ? { jwks: row.jwks, fetchedAt: row.fetched_at } : null;
      }),
    save: (issuer, jwks, fetchedAt) =>
      d1(async () => {
        await db
          .prepare(
            "INSERT INTO issuer_keys (issuer, jwks, fetched_at) VALUES (?, ?, ?) ON CONFLICT (issuer) DO UPDATE SET jwks = excluded.jwks, fetched_at = excluded.fetched_at WHERE excluded.fetched_at > issuer_keys.fetched_at",
          )
          .bind(issuer, jwks, fetchedAt)
          .run();
      }),
  };
}
