/**
 * Workers rate limiting bindings (declared in wrangler.toml, where every limit is set).
 * A missing binding means no limit; a binding that fails open rather than refusing
 * legitimate CI traffic because the limiter itself had a fault.
 */
import { StsError } from "../errors";

export async function enforceLimit(limiter: RateLimit | undefined, key: string): Promise<void> {
  if (!limiter) return;
  let success = true;
  try {
    ({ success } = await limiter.limit({ key }));
  } catch {
    return;
  }
  if (!success) throw new StsError("rate_limited");
}
