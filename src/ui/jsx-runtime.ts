/**
 * The settings page's JSX runtime (`jsxImportSource` "#jsx", package.json `imports`): an
 * element becomes its HTML at once, with every string it is given escaped, as a child or as
 * an attribute value. Only `Html` (what an element or component returned) goes out as is.
 *
 * Deliberately this little: the pages are rendered once per request, synchronously, from
 * data already loaded, so there are no hooks, contexts, streaming, async components or DOM
 * renderer, and an object- or function-valued attribute (`style={{…}}`, `onClick`,
 * `dangerouslySetInnerHTML`) is a programming error that throws rather than renders. That
 * is what hono/jsx also carried, at ~4.6 KiB of the Worker's ~77 KiB gzip bundle (issue 12's
 * budget is 64). Output is what hono/jsx wrote for the same elements: void elements as
 * `<input …/>`, a true boolean attribute as `name=""`, a false one left out, `&<>"'` as
 * entities.
 */
import type { JSX as HonoJSX } from "hono/jsx";

/** Markup this runtime produced: already escaped, never escaped again. */
export class Html {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

/** What may appear between tags: text and numbers (escaped), markup, nothing, or lists of them. */
export type Child = string | number | boolean | null | undefined | Html | Child[];

type Props = Record<string, unknown> & { children?: Child };
type Component = (props: Props) => Html | null;

export declare namespace JSX {
  type Element = Html;
  interface ElementChildrenAttribute {
    children: Child;
  }
  /** Each HTML element's attribute types are hono's (types only: nothing of hono/jsx is bundled). */
  interface IntrinsicElements extends HonoJSX.IntrinsicElements {
    svg: SvgAttributes;
    path: SvgAttributes;
  }
}

/** SVG has no attribute types in hono's list; its attributes are checked when rendered. */
type SvgAttributes = Record<string, Child>;

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text as HTML: safe as element content and inside a double-quoted attribute value. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => ENTITIES[ch]!);

/** HTML's void elements: no content, no end tag. */
const VOID_ELEMENTS = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]);

/** Attributes that are on by their presence: `true` writes `name=""`, `false` leaves them out. */
const BOOLEAN_ATTRIBUTES = new Set([
  "allowfullscreen", "async", "autofocus", "autoplay", "checked", "controls", "default", "defer", "disabled",
  "formnovalidate", "hidden", "inert", "ismap", "loop", "multiple", "muted", "nomodule", "novalidate", "open",
  "playsinline", "readonly", "required", "reversed", "selected",
]);

function content(child: Child): string {
  if (child instanceof Html) return child.html;
  if (typeof child === "string") return escapeHtml(child);
  if (typeof child === "number") return String(child);
  if (Array.isArray(child)) return child.map(content).join("");
  return ""; // null, undefined and booleans render nothing (`cond && <p/>`)
}

function attributes(tag: string, props: Props): string {
  let out = "";
  for (const name in props) {
    const value = props[name];
    if (name === "children" || value === null || value === undefined) continue;
    if (typeof value === "boolean" && BOOLEAN_ATTRIBUTES.has(name)) {
      if (value) out += ` ${name}=""`;
    } else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      // Other booleans are values in their own right: spellcheck="false", aria-expanded="true".
      out += ` ${name}="${escapeHtml(String(value))}"`;
    } else {
      throw new TypeError(`<${tag} ${name}>: only text, numbers and booleans render as attributes`);
    }
  }
  return out;
}

export function jsx(tag: string | Component, props: Props): Html {
  if (typeof tag === "function") return tag(props) ?? new Html("");
  const start = `<${tag}${attributes(tag, props)}`;
  if (VOID_ELEMENTS.has(tag) && props.children === undefined) return new Html(`${start}/>`);
  return new Html(`${start}>${content(props.children)}</${tag}>`);
}

export { jsx as jsxs, jsx as jsxDEV };

export const Fragment = ({ children }: { children?: Child }): Html => new Html(content(children));
