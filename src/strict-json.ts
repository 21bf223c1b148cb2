/**
 * JSON with one meaning: a refusal of any object that names a member twice, at any depth, and
 * of nesting deeper than we ever accept; otherwise the value, built by this one pass.
 *
 * RFC 8259 §4 only says names SHOULD be unique and leaves duplicates to the parser; JSON.parse
 * keeps the last value, while a WAF, a log pipeline or another service in front of us may keep
 * the first. A body that means different things to different readers is refused instead.
 * Names are compared as decoded strings, so `"a"` and `"\u0061"` are the same name.
 *
 * `JSON.parse` only checks the syntax: the value is built here, from the same tokens the
 * duplicate check reads. The workerd build this service runs on has a JSON.parse that, once it
 * has seen an object shape, can read an escaped member name of a later object as another one
 * (dropping or renaming members: test/robustness/strict-json.test.ts keeps a reproduction),
 * so its value could say something the text does not.
 *
 * One pass over text that JSON.parse has already accepted: no recursion, no regular
 * expressions, each character looked at once. A leaf: it knows nothing of HTTP; callers turn
 * the outcome into their errors.
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

type Container = { kind: "object"; value: Record<string, unknown>; names: Set<string>; label: string; pending: string | null }
  | { kind: "array"; value: unknown[]; label: string };

const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** The characters of the string literal between `start` and `end` (its quotes), escapes decoded. */
function decodeString(text: string, start: number, end: number, escaped: boolean): string {
  if (!escaped) return text.slice(start + 1, end);
  let out = "";
  for (let i = start + 1; i < end; i++) {
    const ch = text[i]!;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const kind = text[++i]!;
    if (kind === "u") {
      out += String.fromCharCode(parseInt(text.slice(i + 1, i + 5), 16));
      i += 4;
    } else {
      out += ESCAPES[kind]!;
    }
  }
  return out;
}

export function parseStrictJson(text: string): StrictJson {
  try {
    JSON.parse(text);
  } catch {
    return { ok: false, why: "malformed" };
  }
  const stack: Container[] = [];
  let root: unknown;
  let done = false;

  /** Places a finished value in the container on top of the stack (or as the root). */
  const place = (value: unknown): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) {
      root = value;
      done = true;
    } else if (top.kind === "array") {
      top.value.push(value);
    } else {
      // Own data property, as JSON.parse makes it, also for a member named "__proto__".
      Object.defineProperty(top.value, top.pending!, { value, writable: true, enumerable: true, configurable: true });
      top.pending = null;
    }
  };
  /** How the container about to open is referred to by its parent, for a duplicate's path. */
  const labelHere = (): string => {
    const top = stack[stack.length - 1];
    if (top === undefined) return "";
    return top.kind === "array" ? String(top.value.length) : top.pending!;
  };

  for (let i = 0; i < text.length && !done; i++) {
    const ch = text.charCodeAt(i);
    switch (ch) {
      case OPEN_OBJECT:
      case OPEN_ARRAY: {
        if (stack.length >= MAX_JSON_DEPTH) return { ok: false, why: "too_deep" };
        const label = labelHere();
        stack.push(
          ch === OPEN_OBJECT
            ? { kind: "object", value: {}, names: new Set(), label, pending: null }
            : { kind: "array", value: [], label },
        );
        break;
      }
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        place(stack.pop()!.value);
        break;
      case COMMA:
      case COLON:
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
        const string = decodeString(text, start, i, escaped);
        const top = stack[stack.length - 1];
        if (top?.kind === "object" && top.pending === null) {
          if (top.names.has(string)) {
            return { ok: false, why: "duplicate", path: [...stack.slice(1).map((f) => f.label), string] };
          }
          top.names.add(string);
          top.pending = string;
        } else {
          place(string);
        }
        break;
      }
      case 0x74: // true
        place(true);
        i += 3;
        break;
      case 0x66: // false
        place(false);
        i += 4;
        break;
      case 0x6e: // null
        place(null);
        i += 3;
        break;
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0d:
        break;
      default: {
        // A number: it runs to the next structural character or whitespace.
        let end = i + 1;
        while (end < text.length && !" \t\n\r,]}".includes(text[end]!)) end++;
        place(Number(text.slice(i, end)));
        i = end - 1;
      }
    }
  }
  return { ok: true, value: root };
}
