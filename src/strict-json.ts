/**
 * JSON with one meaning: `JSON.parse`, then a refusal of any object that names a member
 * twice, at any depth, and of nesting deeper than we ever accept.
 *
 * RFC 8259 §4 only says names SHOULD be unique and leaves duplicates to the parser; JSON.parse
 * keeps the last value, while a WAF, a log pipeline or another service in front of us may keep
 * the first. A body that means different things to different readers is refused instead.
 * Names are compared as decoded strings, so `"a"` and `"\u0061"` are the same name.
 *
 * One pass over text that JSON.parse has already accepted: no recursion, no regular
 * expressions, each character looked at once (an escaped name is decoded once more).
 * A leaf: it knows nothing of HTTP; callers turn the outcome into their errors.
 */

/** Deeper than any body we accept (a relationship's `conditions` is depth 2); refused beyond. */
export const MAX_JSON_DEPTH = 32;

export type StrictJson =
  | { ok: true; value: unknown }
  | { ok: false; why: "malformed" }
  | { ok: false; why: "too_deep" }
  /** `path`: where the repeated member is, e.g. `["conditions", "ref"]` (array items by index). */
  | { ok: false; why: "duplicate"; path: string[] };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

interface Frame {
  /** Member names seen so far; `null` for an array. */
  names: Set<string> | null;
  /** How the parent refers to this container: its member name or array index. */
  label: string;
  /** Index of the current item, for arrays. */
  index: number;
}

export function parseStrictJson(text: string): StrictJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, why: "malformed" };
  }
  const stack: Frame[] = [];
  // Inside an object, the next string is a member name (after `{` or `,`), not a value.
  let expectName = false;
  // The name of the member whose value comes next, to label a container opening there.
  let lastName = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    switch (ch) {
      case OPEN_OBJECT:
      case OPEN_ARRAY: {
        if (stack.length >= MAX_JSON_DEPTH) return { ok: false, why: "too_deep" };
        const parent = stack[stack.length - 1];
        const label = parent === undefined ? "" : parent.names === null ? String(parent.index) : lastName;
        stack.push({ names: ch === OPEN_OBJECT ? new Set() : null, label, index: 0 });
        expectName = ch === OPEN_OBJECT;
        break;
      }
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        stack.pop();
        expectName = false;
        break;
      case COMMA: {
        const top = stack[stack.length - 1]!;
        if (top.names === null) top.index++;
        expectName = top.names !== null;
        break;
      }
      case COLON:
        expectName = false;
        break;
      case QUOTE: {
        // Valid JSON: the string ends at the first quote not consumed by an escape.
        const start = i;
        let escaped = false;
        i++;
        while (text.charCodeAt(i) !== QUOTE) {
          if (text.charCodeAt(i) === BACKSLASH) {
            escaped = true;
            i++;
          }
          i++;
        }
        if (!expectName) break;
        const name = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
        const top = stack[stack.length - 1]!;
        if (top.names!.has(name)) return { ok: false, why: "duplicate", path: [...stack.slice(1).map((f) => f.label), name] };
        top.names!.add(name);
        lastName = name;
        expectName = false;
        break;
      }
      default:
      // Numbers, literals and whitespace carry no structure.
    }
  }
  return { ok: true, value };
}
