/**
 * Headers set after a handler has made its response, without Hono copying it: used by the
 * log middleware (request ID, caching) and by the doors that hand back a D1 bookmark.
 */
import type { Context } from "hono";

/**
 * Sets (or appends) a header on the response a handler has already made. In place: the
 * app's own responses have mutable headers, and Hono's c.header() after the handler copies
 * the whole Response once per call. A response whose headers are immutable (one fetched as
 * is) is copied once by c.header() instead.
 */
export function setResponseHeader(c: Context, name: string, value: string, options?: { append: boolean }): void {
  try {
    if (options?.append) c.res.headers.append(name, value);
    else c.res.headers.set(name, value);
  } catch {
    c.header(name, value, options);
  }
}
