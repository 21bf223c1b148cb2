/**
 * The one door to D1: every query runs through `d1()`, so a database fault becomes
 * `database_unavailable` (503, fail closed) and a uniqueness clash becomes `conflict`,
 * never a 500. Error messages are logged only as far as they name a constraint, not values.
 */
import { StsError } from "../errors";

export async function d1<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof StsError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes("UNIQUE constraint failed")) throw new StsError("conflict");
    throw new StsError("database_unavailable", undefined, message.slice(0, 160));
  }
}

/** A fresh ID with its type prefix: 96 random bits, lowercase hex. */
export function newId(prefix: "org" | "prj" | "trl" | "tok" | "usr"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export const ID_PATTERN = {
  org: /^org_[0-9a-f]{24}$/,
  prj: /^prj_[0-9a-f]{24}$/,
  trl: /^trl_[0-9a-f]{24}$/,
  tok: /^tok_[0-9a-f]{24}$/,
  usr: /^usr_[0-9a-f]{24}$/,
} as const;
