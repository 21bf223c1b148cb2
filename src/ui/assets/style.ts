/**
 * The settings page's one stylesheet, served from /settings/assets/ under a content-hashed
 * name (the CSP allows no inline style). A plain string so every tool that bundles the
 * worker (wrangler, the workerd test pool, the benchmark) takes it as it is.
 *
 * Colours meet WCAG 2.2 AA contrast in the light and the dark scheme; focus is always
 * visible; the layout is one column on a phone and a centred column on a desktop.
 */
export const STYLE_CSS = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f6f7f9;
  --surface: #ffffff;
  --text: #1b1f24;
  --muted: #4a5361;
  --border: #c9ced6;
  --accent: #0b57d0;
  --accent-text: #ffffff;
  --danger: #b3261e;
  --danger-bg: #fdecea;
  --ok-bg: #e7f4ea;
  --ok: #1e6b34;
  --focus: #0b57d0;
  --code-bg: #eef1f5;
  --radius: 8px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 100%;
  line-height: 1.5;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418;
    --surface: #1b1f24;
    --text: #e8eaed;
    --muted: #b4bcc8;
    --border: #3c444f;
    --accent: #8ab4f8;
    --accent-text: #0b1a33;
    --danger: #f2b8b5;
    --danger-bg: #3b1614;
    --ok-bg: #14301d;
    --ok: #a8dab5;
    --focus: #8ab4f8;
    --code-bg: #262b33;
  }
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text); }
a { color: var(--accent); text-underline-offset: 0.15em; }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: 2px; }
main:focus { outline: none; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
code { background: var(--code-bg); padding: 0.1em 0.35em; border-radius: 4px; overflow-wrap: anywhere; }

.skip-link { position: absolute; left: 0.5rem; top: -3rem; z-index: 10; padding: 0.5rem 1rem; background: var(--accent); color: var(--accent-text); border-radius: var(--radius); }
.skip-link:focus { top: 0.5rem; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

.site-header { background: var(--surface); border-bottom: 1px solid var(--border); }
.site-header .bar { max-width: 64rem; margin: 0 auto; padding: 0.75rem 1rem; display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; }
.brand { font-weight: 700; font-size: 1.1rem; color: var(--text); text-decoration: none; margin-right: auto; }
.brand span { color: var(--muted); font-weight: 400; }
.who { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.25rem 0.5rem; color: var(--muted); font-size: 0.95rem; min-width: 0; }
.who strong { color: var(--text); overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0.05rem 0.5rem; border: 1px solid var(--border); border-radius: 999px; font-size: 0.8rem; color: var(--text); }
.site-nav { max-width: 64rem; margin: 0 auto; padding: 0 1rem; }
.site-nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem; }
.site-nav a { display: inline-block; padding: 0.6rem 0; color: var(--text); text-decoration: none; border-bottom: 3px solid transparent; }
.site-nav a:hover { border-bottom-color: var(--border); }
.site-nav a[aria-current="page"] { border-bottom-color: var(--accent); font-weight: 600; }

main { max-width: 64rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0 0 0.25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 0 0 0.75rem; }
.lead { color: var(--muted); margin: 0 0 1.5rem; }
.breadcrumbs { font-size: 0.95rem; margin: 0 0 0.5rem; color: var(--muted); }
.breadcrumbs ol { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem; }
.breadcrumbs li + li::before { content: "/"; margin-right: 0.25rem; color: var(--muted); }

.card { background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); padding: 1.25rem; margin: 0 0 1.25rem; }
.card > :last-child { margin-bottom: 0; }
.empty { color: var(--muted); margin: 0; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.35rem 1rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; min-width: 0; display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem; overflow-wrap: anywhere; }
@media (max-width: 30rem) {
  .facts { grid-template-columns: 1fr; }
  .facts dd { margin-bottom: 0.5rem; }
}

/* relative: visually hidden (absolute) cells stay inside the scroller, not widening the page */
.table-wrap { overflow-x: auto; position: relative; }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
caption { text-align: left; color: var(--muted); padding-bottom: 0.5rem; }
th, td { text-align: left; vertical-align: top; padding: 0.5rem 0.75rem 0.5rem 0; border-bottom: 1px solid var(--border); }
th { font-weight: 600; white-space: nowrap; }
td { overflow-wrap: anywhere; }
td code, td time { white-space: nowrap; overflow-wrap: normal; }
.table-wrap:focus-visible { outline-offset: 4px; }
ul.plain { list-style: none; margin: 0; padding: 0; }
ul.plain li { padding: 0.5rem 0; border-bottom: 1px solid var(--border); }
ul.plain li:last-child { border-bottom: 0; }

label { display: block; font-weight: 600; margin: 0 0 0.35rem; }
.hint { display: block; color: var(--muted); font-size: 0.9rem; margin: 0 0 0.5rem; font-weight: 400; }
input[type="text"], input[type="password"], input[type="search"], textarea, select {
  width: 100%; max-width: 40rem; font: inherit; color: var(--text); background: var(--surface);
  border: 1px solid var(--muted); border-radius: 6px; padding: 0.55rem 0.7rem;
}
.field { margin: 0 0 1rem; }
.actions { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; }
.button, button {
  font: inherit; font-weight: 600; cursor: pointer; border-radius: 6px; padding: 0.5rem 1rem; min-height: 2.5rem;
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-text);
}
.button.secondary, button.secondary { background: transparent; color: var(--accent); }
button.small { padding: 0.15rem 0.6rem; min-height: 2rem; font-size: 0.85rem; }
button.danger { background: var(--danger); border-color: var(--danger); color: var(--surface); }
button[hidden] { display: none; }
.inline-form { display: inline; margin: 0; }

.alert { border-radius: var(--radius); padding: 0.75rem 1rem; margin: 0 0 1.25rem; border: 1px solid var(--danger); background: var(--danger-bg); color: var(--text); }
.alert strong { color: var(--danger); }
.notice { border-radius: var(--radius); padding: 0.75rem 1rem; margin: 0 0 1.25rem; border: 1px solid var(--ok); background: var(--ok-bg); }

.field-error { color: var(--danger); font-weight: 600; margin: 0 0 0.35rem; }
[aria-invalid="true"] { border-color: var(--danger); border-width: 2px; }
.optional { color: var(--muted); font-weight: 400; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 0.75rem; }
form.stacked { border-top: 1px solid var(--border); margin-top: 1rem; }
fieldset { border: 1px solid var(--border); border-radius: 6px; margin: 0 0 1rem; padding: 0.75rem 1rem; min-width: 0; }
legend { font-weight: 600; padding: 0 0.25rem; }
.choice { display: grid; grid-template-columns: auto 1fr; gap: 0 0.6rem; align-items: baseline; margin: 0 0 0.75rem; }
.choice input { width: 1.2rem; height: 1.2rem; margin: 0; accent-color: var(--accent); }
.choice label { margin: 0; }
.choice .hint, .choice .field-error { grid-column: 2; }
.warning strong { color: var(--danger); }
.condition { display: grid; grid-template-columns: 1fr 1fr; gap: 0.5rem; margin: 0 0 0.5rem; }
.condition label { font-weight: 400; font-size: 0.9rem; }
@media (max-width: 30rem) { .condition { grid-template-columns: 1fr; border-bottom: 1px solid var(--border); padding-bottom: 0.5rem; } }
details { margin: 0.5rem 0 0; }
summary { cursor: pointer; color: var(--accent); font-weight: 600; padding: 0.25rem 0; }
.section-head, .item-head { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem 1rem; }
.section-head h2, .item-head p { margin: 0; }
.section-head { margin: 0 0 0.75rem; }
.muted { color: var(--muted); }
a.button { display: inline-flex; align-items: center; text-decoration: none; }
button.icon { background: transparent; color: var(--danger); border-color: transparent; padding: 0.35rem; min-height: 2.25rem; min-width: 2.25rem; display: inline-flex; align-items: center; justify-content: center; }
button.icon:hover { border-color: var(--danger); }
td.row-actions { width: 1%; white-space: nowrap; padding-right: 0; }
ul.plain.compact li { padding: 0; border: 0; }
.danger-zone { border-color: var(--danger); }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
textarea.token { word-break: break-all; resize: none; }
dialog h2 { margin-top: 0; }
.trace-item + .trace-item { border-top: 1px solid var(--border); margin-top: 1rem; }
ul.hints { padding-left: 1.25rem; }
tr[data-pass="false"] td { color: var(--danger); }
.filter label { margin: 0; }
.filter select { width: auto; }
dialog { max-width: min(36rem, calc(100vw - 2rem)); border: 1px solid var(--border); border-radius: var(--radius); background: var(--surface); color: var(--text); padding: 1.25rem; }
dialog::backdrop { background: rgb(0 0 0 / 0.5); }

.site-footer { max-width: 64rem; margin: 0 auto; padding: 0 1rem 2rem; color: var(--muted); font-size: 0.9rem; }
`;
