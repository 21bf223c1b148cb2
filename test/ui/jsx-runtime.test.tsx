/**
 * The settings page's JSX runtime on its own: everything it is given is escaped, as a child
 * and as an attribute value, and it writes what hono/jsx wrote for the same elements (the
 * pages' own tests and the browser suite cover the pages).
 */
import { describe, expect, it } from "vitest";
import { escapeHtml, Fragment, Html, jsx } from "../../src/ui/jsx-runtime";

const HOSTILE = `"><script>alert('x')</script>&amp;`;
const ESCAPED = "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;";

describe("JSX runtime", () => {
  it("escapes text children and attribute values, and passes its own markup through once", () => {
    expect(escapeHtml(HOSTILE)).toBe(ESCAPED);
    const inner = <em title={HOSTILE}>{HOSTILE}</em>;
    expect(String(<p>{HOSTILE}{inner}</p>)).toBe(`<p>${ESCAPED}<em title="${ESCAPED}">${ESCAPED}</em></p>`);
  });

  it("renders nothing for null, undefined and booleans, numbers as digits, and lists in order", () => {
    const items = ["a", "<b>"].map((x) => <li>{x}</li>);
    expect(String(<ul>{null}{undefined}{false}{true}{0}{items}</ul>)).toBe("<ul>0<li>a</li><li>&lt;b&gt;</li></ul>");
  });

  it("writes void elements without an end tag, boolean attributes by presence, other booleans as values", () => {
    expect(String(<input name="n" required readonly={false} spellcheck={false} maxlength={5} placeholder={undefined} />)).toBe(
      `<input name="n" required="" spellcheck="false" maxlength="5"/>`,
    );
    expect(String(<details open>x</details>)).toBe(`<details open="">x</details>`);
  });

  it("renders components and fragments, and a component's null as nothing", () => {
    const Greeting = ({ name }: { name: string }) => <>Hi <b>{name}</b></>;
    const Nothing = () => null;
    expect(String(<div><Greeting name="<Al>" /><Nothing /></div>)).toBe("<div>Hi <b>&lt;Al&gt;</b></div>");
    expect(String(<Fragment>{"&"}</Fragment>)).toBe("&amp;");
  });

  it("refuses an attribute that is not text, a number or a boolean instead of rendering it", () => {
    expect(() => jsx("div", { style: { color: "red" } })).toThrow(TypeError);
    expect(() => jsx("button", { onclick: () => undefined })).toThrow(TypeError);
    expect(() => jsx("div", { dangerouslySetInnerHTML: { __html: "<b>" } })).toThrow(TypeError);
    expect(jsx("p", { children: new Html("<b>ok</b>") }).html).toBe("<p><b>ok</b></p>");
  });
});
