/**
 * Reads a body as UTF-8 text without ever holding more than `maxBytes` of it: a declared
 * Content-Length over the cap is refused before reading, and a stream that runs past it
 * is refused as soon as it does. Used for request bodies and for CI issuers' discovery and
 * JWKS answers. A leaf: it knows nothing of HTTP errors; callers turn the outcome into theirs.
 */

export type CappedText =
  | { ok: true; text: string }
  | { ok: false; why: "too_large" | "length_invalid" | "unreadable" };

export interface CappedOptions {
  /**
   * What becomes of the bytes not read when the body is refused:
   * - `"cancel"` (default): cancel the stream. Right for a response we fetched (a CI
   *   issuer's JWKS): nothing more is downloaded and that connection is closed.
   * - `"discard"`: never cancel. A body not touched yet is left alone; one read in part is
   *   read to its end and thrown away before the refusal returns. Required for a request
   *   body: workerd reuses the client's connection only once the request body has been
   *   consumed by the time the response is sent. It drains a body the worker never
   *   touched by itself, but closes the connection after a body that was cancelled or
   *   left read in part (even if a `waitUntil` would read it later). Behind `wrangler
   *   dev` (and so `npm start`) that connection is the one from wrangler's proxy worker,
   *   which was streaming the client's body into it: its pump fails, and the client's
   *   keep-alive connection is left with a half-forwarded body. The next request on it
   *   hangs, or (a larger body) the refusal itself comes back as the proxy's 503 "Your
   *   worker restarted mid-request".
   */
  unread?: "cancel" | "discard";
}

/**
 * RFC 9110 §8.6: Content-Length = 1*DIGIT. Anything else (a sign, spaces, hex, an exponent,
 * a list, nothing) makes the request malformed, not large. Character classes only, anchored:
 * no backtracking.
 */
const DIGITS = /^[0-9]+$/;
/** For whole bodies (a streaming read has its own): no state is kept between whole calls. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Up to 15 digits is exactly representable; more is well-formed and simply too large. */
const MAX_EXACT_DIGITS = 15;

/** The declared length: bytes, `undefined` when none was declared, `null` when malformed. */
export function parseContentLength(value: string | null | undefined): number | undefined | null {
  if (value === null || value === undefined) return undefined;
  if (!DIGITS.test(value)) return null;
  return value.length <= MAX_EXACT_DIGITS ? Number(value) : Number.POSITIVE_INFINITY;
}

export async function readCappedText(
  body: ReadableStream<Uint8Array> | null,
  declaredLength: string | null | undefined,
  maxBytes: number,
  options: CappedOptions = {},
): Promise<CappedText> {
  const cancel = (options.unread ?? "cancel") === "cancel";
  const declared = parseContentLength(declaredLength);
  if (declared === null || (declared !== undefined && declared > maxBytes)) {
    if (cancel) await body?.cancel().catch(() => undefined);
    return { ok: false, why: declared === null ? "length_invalid" : "too_large" };
  }
  if (!body) return { ok: true, text: "" };
  const reader = body.getReader();
  const refuse = async (why: "too_large" | "unreadable"): Promise<CappedText> => {
    if (cancel) await reader.cancel().catch(() => undefined);
    else await drain(reader);
    return { ok: false, why };
  };
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let total = 0;
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { ok: true, text: text + decoder.decode() };
      total += value.byteLength;
      if (total > maxBytes) return refuse("too_large");
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // Not UTF-8, or the stream failed; reading on finds out which, and ends either way.
    return refuse("unreadable");
  }
}

/**
 * A request body, as `readCappedText` reads it with `unread: "discard"`, in one native read
 * when it declares a length within the cap: the declared length is all the body there can
 * be (HTTP framing ends it there; requests are not decompressed), so it is read whole
 * instead of chunk by chunk, a reader, its promises and a streaming decoder per request.
 * Without a length (chunked), or with one over the cap, it takes the capped path.
 * Never for responses we fetch: those may be decompressed past their declared length.
 */
export async function readRequestText(request: Request, declaredLength: string | null | undefined, maxBytes: number): Promise<CappedText> {
  const declared = parseContentLength(declaredLength);
  if (declared === null || declared === undefined || declared > maxBytes || !request.body) {
    return readCappedText(request.body, declaredLength, maxBytes, { unread: "discard" });
  }
  try {
    const bytes = await request.arrayBuffer();
    if (bytes.byteLength > maxBytes) return { ok: false, why: "too_large" };
    return { ok: true, text: utf8.decode(bytes) };
  } catch {
    // Not UTF-8, or the client went away mid-body.
    return { ok: false, why: "unreadable" };
  }
}

/** Reads to the end, keeping nothing: one chunk in memory at a time. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    for (;;) if ((await reader.read()).done) return;
  } catch {
    // The client went away: nothing left to consume.
  } finally {
    reader.releaseLock();
  }
}
