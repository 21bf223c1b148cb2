/**
 * JSON texts joined into JSON arrays of at most so many UTF-8 bytes each: how the producer
 * packs events into queue messages and the store packs them into one bound value of a
 * statement. It decides neither cap (their callers do) nor what an item's text is.
 */
import { utf8Length } from "../utf8";

export interface JsonArray<T> {
  /** `[text,text,…]`, the items' texts in order. */
  text: string;
  /** Its UTF-8 bytes. */
  bytes: number;
  items: T[];
}

/** The items as arrays of at most `maxBytes` each, in order; an item larger than that travels alone. */
export function jsonArrays<T>(items: readonly T[], textOf: (item: T) => string, maxBytes: number): JsonArray<T>[] {
  const arrays: JsonArray<T>[] = [];
  let parts: string[] = [];
  let members: T[] = [];
  let bytes = 1; // the opening bracket
  const close = () => {
    if (parts.length > 0) arrays.push({ text: `[${parts.join(",")}]`, bytes, items: members });
    parts = [];
    members = [];
    bytes = 1;
  };
  for (const item of items) {
    const text = textOf(item);
    const size = utf8Length(text) + 1; // and its comma or the closing bracket
    if (parts.length > 0 && bytes + size > maxBytes) close();
    parts.push(text);
    members.push(item);
    bytes += size;
  }
  close();
  return arrays;
}
