/**
 * Reads a body as UTF-8 text without ever holding more than `maxBytes` of it: a declared
 * Content-Length over the cap is refused before reading, and a stream that runs past it
 * is cancelled. Used for request bodies and for CI issuers' discovery and JWKS answers.
 * A leaf: it knows nothing of HTTP errors; callers turn the outcome into theirs.
 */

export type CappedText = { ok: true; text: string } | { ok: false; why: "too_large" | "unreadable" };

export async function readCappedText(
  body: ReadableStream<Uint8Array> | null,
  declaredLength: string | null | undefined,
  maxBytes: number,
): Promise<CappedText> {
  const declared = Number(declaredLength ?? "0");
  if (!Number.isFinite(declared) || declared > maxBytes) {
    await body?.cancel().catch(() => undefined);
    return { ok: false, why: "too_large" };
  }
  if (!body) return { ok: true, text: "" };
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let total = 0;
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return { ok: false, why: "too_large" };
      }
      text += decoder.decode(value, { stream: true });
    }
    return { ok: true, text: text + decoder.decode() };
  } catch {
    return { ok: false, why: "unreadable" };
  }
}
