/**
 * A file of the Workers Static Assets (`[assets]` in wrangler.toml, the public/ directory),
 * served through the `ASSETS` binding under the worker's own headers: the OpenAPI document
 * and the settings page's stylesheet and script. It decides nothing about which files exist
 * under which URL (their routes do).
 */
import { StsError } from "../errors";
import type { AppContext } from "./context";

export async function serveStaticAsset(c: AppContext, path: string, headers: Record<string, string>): Promise<Response> {
  const file = await c.env.ASSETS?.fetch(new URL(path, c.req.url));
  // A deployment without its assets is misconfigured; say so rather than serve nothing.
  if (!file?.ok) throw new StsError("internal", undefined, `static asset ${path}: ${file ? file.status : "no ASSETS binding"}`);
  return new Response(file.body, { status: 200, headers });
}
