/**
 * The page frame and the small parts every page uses: skip link, header with who is signed
 * in and the sign-out form, navigation, main landmark, live region for announcements.
 *
 * Everything is rendered by the JSX runtime (../jsx-runtime.ts), which escapes every string it is given; stored
 * names and descriptions are attacker-controlled and are only ever passed as children or
 * attribute values, never as raw HTML.
 */
import { assetUrl } from "../assets";
import type { Child } from "../jsx-runtime";
import type { UiSession, Who } from "../session";

export type Section = "home" | "account" | "org" | "none";

export interface PageProps {
  title: string;
  session: UiSession | null;
  section?: Section;
  /** The organization the page is about, for the navigation of org-token sessions. */
  children?: Child;
  breadcrumbs?: { href: string; label: string }[];
}

const KIND_LABEL: Record<Who["kind"], string> = {
  operator: "Operator",
  user: "User",
  organization: "Organization token",
};

function WhoIsSignedIn({ who }: { who: Who }) {
  switch (who.kind) {
    case "operator":
      return (
        <p class="who">
          <span class="badge">{KIND_LABEL.operator}</span>
          <strong>ADMIN_TOKEN</strong>
        </p>
      );
    case "user":
      return (
        <p class="who">
          <span class="badge">{KIND_LABEL.user}</span>
          <strong>{who.name}</strong>
          <span>{who.email}</span>
        </p>
      );
    case "organization":
      return (
        <p class="who">
          <span class="badge">{KIND_LABEL.organization}</span>
          <strong>{who.name}</strong>
          <code>{who.orgId}</code>
        </p>
      );
  }
}

function Nav({ session, section }: { session: UiSession; section: Section }) {
  const homeLabel = session.who.kind === "organization" ? "Organization" : "Organizations";
  return (
    <nav class="site-nav" aria-label="Settings">
      <ul>
        <li>
          <a href="/settings" aria-current={section === "home" ? "page" : undefined}>
            {homeLabel}
          </a>
        </li>
        <li>
          <a href="/settings/account" aria-current={section === "account" ? "page" : undefined}>
            Account
          </a>
        </li>
      </ul>
    </nav>
  );
}

export function Page({ title, session, section = "none", breadcrumbs, children }: PageProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${title} · edge-sts settings`}</title>
        <link rel="stylesheet" href={assetUrl("style")} />
        <script src={assetUrl("client")} defer></script>
      </head>
      <body>
        <a class="skip-link" href="#main">
          Skip to main content
        </a>
        <header class="site-header">
          <div class="bar">
            <a class="brand" href="/settings">
              edge-sts <span>settings</span>
            </a>
            {session && <WhoIsSignedIn who={session.who} />}
            {session && (
              <form class="inline-form" method="post" action="/settings/sign-out">
                <input type="hidden" name="csrf" value={session.csrf} />
                <button type="submit" class="secondary">
                  Sign out
                </button>
              </form>
            )}
          </div>
          {session && <Nav session={session} section={section} />}
        </header>
        <main id="main" tabindex={-1}>
          {breadcrumbs && breadcrumbs.length > 0 && (
            <nav class="breadcrumbs" aria-label="Breadcrumb">
              <ol>
                {breadcrumbs.map((b) => (
                  <li>
                    <a href={b.href}>{b.label}</a>
                  </li>
                ))}
              </ol>
            </nav>
          )}
          <h1>{title}</h1>
          {children}
        </main>
        <footer class="site-footer">
          <p>edge-sts: the security token service of the build platform.</p>
        </footer>
        <div id="live" class="visually-hidden" aria-live="polite" role="status"></div>
      </body>
    </html>
  );
}

/** A Unix time as a readable UTC date with a machine-readable `datetime` (to the second where events are told apart by it). */
export function Time({ at, seconds }: { at: number | null; seconds?: boolean }) {
  if (at === null) return <span>never</span>;
  const iso = new Date(at * 1000).toISOString();
  return <time datetime={iso}>{`${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)} UTC`}</time>;
}

/**
 * A value with a copy button. The button is hidden until the script runs (it cannot work
 * without it); the value stays selectable either way.
 */
export function Copyable({ id, value, label }: { id: string; value: string; label: string }) {
  return (
    <>
      <code id={id}>{value}</code>
      <button type="button" class="secondary small" data-copy={id} data-copy-label={`${label} copied`} hidden>
        {`Copy ${label}`}
      </button>
    </>
  );
}

/**
 * A table that may scroll sideways on a narrow screen: a labelled region that takes focus,
 * so keyboard users can scroll it too (WCAG 2.1.1).
 */
export function TableWrap({ label, children }: { label: string; children?: Child }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabindex={0}>
      {children}
    </div>
  );
}

/** An alert with a stable machine-readable code (`data-error`), for people and tests alike. */
export function Alert({ code, children }: { code: string; children?: Child }) {
  return (
    <div class="alert" role="alert" data-error={code}>
      {children}
    </div>
  );
}

/**
 * Help text written as a plain string, with `code` in backticks and **strong** in double
 * asterisks: smaller in the bundle than the same markup as JSX. Rendered as text and
 * elements, never parsed as HTML.
 */
export function Rich({ text }: { text: string }) {
  return (
    <>
      {text.split(/(`[^`]+`|\*\*[^*]+\*\*)/).map((part) =>
        part.startsWith("`") ? <code>{part.slice(1, -1)}</code> : part.startsWith("**") ? (
          <strong>
            <Rich text={part.slice(2, -2)} />
          </strong>
        ) : (
          part
        ),
      )}
    </>
  );
}
