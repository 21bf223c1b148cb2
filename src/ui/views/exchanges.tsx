/**
 * A project's recent exchanges (its audit log's exchange events, newest first, a page at a
 * time) and the explain page: the form that takes a refused job's ID token, and explain's
 * whole trace rendered for a person: what `POST /token` answers, each verification stage
 * with its checks, each relationship's checks (expected, actual, pass) and hints.
 *
 * Every value here came from a CI job's claims or someone's typing and is rendered as text.
 * The pasted token is never rendered: the form always comes back empty.
 */
import type { ExchangeEvent as StoredExchange } from "../../audit/events";
import type { ProviderName } from "../../config";
import type { Organization, Project } from "../../db/organizations";
import { toWire, type Reason, type WireError } from "../../errors";
import type { ExplainedCheck, Explanation } from "../../trust/explain";
import type { FormState } from "../forms";
import type { UiSession } from "../session";
import { CsrfField, errorFor, FieldError, FormAlert } from "./forms";
import { Page, TableWrap, Time } from "./layout";
import { PROVIDER_LABEL } from "./relationships";

/** An exchange event as the audit listing renders it. */
export type ExchangeEvent = Omit<StoredExchange, "v">;

const crumbs = (org: Organization, project: Project) => [
  { href: `/settings/orgs/${org.id}`, label: org.name },
  { href: `/settings/projects/${project.id}`, label: project.name },
];

/** A claim or check value as text: strings as they are, anything else as JSON; absent says so. */
const text = (value: unknown) => (value === null || value === undefined ? "(absent)" : typeof value === "string" ? value : JSON.stringify(value));

/** A refusal: its reason as the audit log and log line name it, and what the wire told the job (when this version knows the reason). */
function Refusal({ e }: { e: ExchangeEvent }) {
  const wire = e.reason ? (toWire(e.reason as Reason) as WireError | undefined) : undefined;
  return (
    <>
      <code>{e.reason ?? "?"}</code> {wire && `${wire.description}; `}
      {e.detail}
    </>
  );
}

/** A verdict as words: `would_admit` → "would admit", `not_evaluated` → "not evaluated". */
const words = (result: string): string => result.replace("_", " ");

/** What each shadow relationship would have done, in the exchange's record and in explain's answer alike. */
function ShadowVerdicts({ shadow, none }: { shadow: readonly { relationship_id: string; result: string; reason: string | null }[]; none: string }) {
  if (shadow.length === 0) return <>{none}</>;
  return (
    <ul class="plain compact">
      {shadow.map((s) => (
        <li>
          <code>{s.relationship_id}</code> {words(s.result)} {s.reason && <code>{s.reason}</code>}
        </li>
      ))}
    </ul>
  );
}

function Outcome({ e }: { e: ExchangeEvent }) {
  return e.outcome === "minted" ? (
    <span>
      <strong>minted</strong> {e.scope && <>scope <code>{e.scope}</code></>} {e.jti && <>jti <code>{e.jti}</code></>}
    </span>
  ) : (
    <span>
      <strong>refused</strong> <Refusal e={e} />
    </span>
  );
}

function Exchange({ e, base }: { e: ExchangeEvent; base: string }) {
  const prov = Object.entries(e.provenance);
  return (
    <li>
      <div class="item-head">
        <p>
          <strong>{`${e.outcome === "minted" ? "Minted" : "Refused"}`}</strong> <Time at={e.time} seconds />
        </p>
        {e.outcome === "refused" && (
          <a class="button secondary" href={`${base}/explain?event=${e.id}`}>
            Explain<span class="visually-hidden">{` the refused exchange ${e.id}`}</span>
          </a>
        )}
      </div>
      <dl class="facts">
        <dt>Provider</dt>
        <dd>{PROVIDER_LABEL[e.provider as ProviderName] ?? e.provider}</dd>
        <dt>Identity</dt>
        <dd>
          <code>{e.identity}</code>
        </dd>
        <dt>Outcome</dt>
        <dd>
          <Outcome e={e} />
        </dd>
        <dt>Relationship</dt>
        <dd>{e.relationship_id ? <code>{e.relationship_id}</code> : "none admitted it"}</dd>
        <dt>Provenance</dt>
        <dd>
          <ul class="plain compact">
            {prov.map(([k, v]) => (
              <li>
                {`${k}: `}
                <code>{String(v)}</code>
              </li>
            ))}
            {e.omitted.length > 0 && <li>{`too long to keep: ${e.omitted.join(", ")}`}</li>}
          </ul>
        </dd>
        <dt>Shadow</dt>
        <dd>
          <ShadowVerdicts shadow={e.shadow} none="no shadow relationship" />
        </dd>
        {e.pinned && (
          <>
            <dt>Pinned</dt>
            <dd>{Object.entries(e.pinned).map(([k, v]) => `${k} ${v}`).join(", ")}</dd>
          </>
        )}
        <dt>Request</dt>
        <dd>
          <code>{e.request_id}</code> {`from ${e.client_network}`}
        </dd>
      </dl>
    </li>
  );
}

interface ExchangesPageData {
  org: Organization;
  project: Project;
  events: ExchangeEvent[];
  next: string | null;
  /** Whether this page is a later one (a cursor was given). */
  paged: boolean;
  /** Only minted or only refused exchanges; all when absent. */
  outcome?: "minted" | "refused";
}

export function ExchangesPage({ session, data }: { session: UiSession; data: ExchangesPageData }) {
  const { org, project, events, next, outcome } = data;
  const base = `/settings/projects/${project.id}`;
  const only = outcome ? `outcome=${outcome}&` : "";
  return (
    <Page title={`Recent exchanges: ${project.name}`} session={session} section="home" breadcrumbs={crumbs(org, project)}>
      <section class="card" aria-labelledby="exchanges-heading">
        <h2 id="exchanges-heading">{data.paged ? "Older exchanges" : "Latest exchanges"}</h2>
        <p class="hint">
          From the organization's audit log, newest first: every exchange of a verified ID token for this project, minted or refused. Tokens
          that failed verification are not recorded. Explain a refused one with that job's ID token.
        </p>
        <form method="get" action={`${base}/exchanges`} class="actions filter">
          <label for="outcome">Show</label>
          <select id="outcome" name="outcome">
            {(["", "refused", "minted"] as const).map((o) => (
              <option value={o} selected={(outcome ?? "") === o}>
                {o ? `${o} only` : "all exchanges"}
              </option>
            ))}
          </select>
          <button type="submit" class="secondary">
            Show
          </button>
        </form>
        {events.length === 0 ? (
          <p class="empty">No exchanges recorded{data.paged ? " before these." : " for this project yet."}</p>
        ) : (
          <ul class="plain">
            {events.map((e) => (
              <Exchange e={e} base={base} />
            ))}
          </ul>
        )}
        <div class="actions">
          {data.paged && <a href={`${base}/exchanges${only && `?${only.slice(0, -1)}`}`}>Latest exchanges</a>}
          {next && (
            <a class="button secondary" href={`${base}/exchanges?${only}cursor=${encodeURIComponent(next)}`}>
              Older exchanges
            </a>
          )}
        </div>
      </section>
    </Page>
  );
}

function Checks({ checks, label }: { checks: ExplainedCheck[]; label: string }) {
  if (checks.length === 0) return null;
  const hints = checks.flatMap((c) => c.hints.map((h) => ({ c, h })));
  return (
    <>
      <TableWrap label={label}>
        <table>
          <caption class="visually-hidden">{label}</caption>
          <thead>
            <tr>
              <th scope="col">Check</th>
              <th scope="col">Expected</th>
              <th scope="col">Actual</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {checks.map((c) => (
              <tr data-pass={String(c.pass)}>
                <td>
                  {c.field ?? c.check}
                  {c.claim && <span class="muted">{` (claim ${c.claim})`}</span>}
                </td>
                <td class="mono">{text(c.expected)}</td>
                <td class="mono">{text(c.actual)}</td>
                <td>{c.pass ? "pass" : <strong>fail</strong>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      {hints.length > 0 && (
        <ul class="hints">
          {hints.map(({ c, h }) => (
            <li data-hint={h.code}>
              <strong>{c.field ?? c.check}:</strong> {h.message} {h.fix && <>Change: <code>{h.fix}</code></>}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function Trace({ e }: { e: Explanation }) {
  const x = e.exchange;
  return (
    <>
      <section class="card" aria-labelledby="answer-heading" id="explanation">
        <h2 id="answer-heading">What POST /token answers</h2>
        <p data-status={String(x.status)}>
          <strong>{x.status === 200 ? "200: it would mint" : `${x.status} ${x.error}`}</strong> {x.error_description}
        </p>
        <dl class="facts">
          {x.relationship_id && (
            <>
              <dt>Relationship</dt>
              <dd>
                <code>{x.relationship_id}</code>
              </dd>
            </>
          )}
          <dt>Token</dt>
          <dd>{`${e.token.provider ? PROVIDER_LABEL[e.token.provider] : "unknown issuer"}, signature ${e.token.signature_verified ? "verified" : "not verified"}`}</dd>
          <dt>Shadow</dt>
          <dd>
            <ShadowVerdicts shadow={x.shadow} none="none" />
          </dd>
          <dt>Evaluated</dt>
          <dd>
            <Time at={e.evaluated_at} seconds />
          </dd>
        </dl>
        {e.token.claims && (
          <details>
            <summary>The token's claims</summary>
            <dl class="facts" id="token-claims">
              {Object.entries(e.token.claims).map(([k, v]) => (
                <>
                  <dt>{k}</dt>
                  <dd class="mono">{text(v)}</dd>
                </>
              ))}
            </dl>
          </details>
        )}
        <p class="hint">Explain mints nothing, spends nothing and writes nothing: the job's token is as it was.</p>
      </section>
      <section class="card" aria-labelledby="relationships-heading">
        <h2 id="relationships-heading">Trust relationships</h2>
        {e.relationships.length === 0 && <p class="empty">This project has no trust relationships.</p>}
        {e.relationships.map((r) => (
          <div class="trace-item" id={r.id}>
            <h3>
              {`${PROVIDER_LABEL[r.provider as ProviderName] ?? r.provider} ${r.id}: ${words(r.result)}`}
              {r.failed_check && ` (${r.failed_check})`}
            </h3>
            <p class="hint">{`${r.mode}${r.description ? `: ${r.description}` : ""}`}</p>
            <Checks checks={r.checks} label={`Checks of ${r.id}`} />
          </div>
        ))}
      </section>
      <section class="card" aria-labelledby="verification-heading">
        <h2 id="verification-heading">Verification</h2>
        {e.verification.map((s) => (
          <div class="trace-item" id={`stage-${s.stage}`}>
            <h3>{`${s.stage}: ${s.result}`}</h3>
            {s.refusal && <p>{`${s.refusal.status} ${s.refusal.error}: ${s.refusal.error_description}`}</p>}
            <Checks checks={s.checks} label={`Checks of stage ${s.stage}`} />
          </div>
        ))}
      </section>
    </>
  );
}

export interface ExplainPageData {
  org: Organization;
  project: Project;
  /** The refused exchange the admin came from, when the page was opened from one. */
  event?: ExchangeEvent;
  explanation?: Explanation;
  state?: FormState;
}

export function ExplainPage({ session, data }: { session: UiSession; data: ExplainPageData }) {
  const { org, project, event, explanation, state } = data;
  const action = `/settings/projects/${project.id}/explain`;
  const error = errorFor(state, "subject_token");
  const described = `explain-token-hint${error ? " explain-token-error" : ""}`;
  return (
    <Page title={`Explain: ${project.name}`} session={session} section="home" breadcrumbs={crumbs(org, project)}>
      {explanation && <Trace e={explanation} />}
      <section class="card" aria-labelledby="explain-heading">
        <h2 id="explain-heading">{explanation ? "Explain another token" : "Explain an exchange"}</h2>
        {event && (
          <dl class="facts" id="explained-event">
            <dt>Exchange</dt>
            <dd>
              <Time at={event.time} seconds />
            </dd>
            <dt>Identity</dt>
            <dd>
              <code>{event.identity}</code>
            </dd>
            <dt>Refused</dt>
            <dd>
              <Refusal e={event} />
            </dd>
            {Object.entries(event.provenance).map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>
                  <code>{String(v)}</code>
                </dd>
              </>
            ))}
          </dl>
        )}
        <form method="post" action={action} class="stacked">
          <CsrfField session={session} />
          {event && <input type="hidden" name="event" value={event.id} />}
          <FormAlert state={state} />
          <div class="field">
            <label for="explain-token">The job's ID token</label>
            <span class="hint" id="explain-token-hint">
              ID tokens are never stored, so paste the one this job got from its CI (an expired one still explains). It is checked as the
              exchange would check it with this project as audience, then forgotten: not stored, not logged, not shown again.
            </span>
            <FieldError id="explain-token-error" error={error} />
            <textarea
              id="explain-token"
              name="subject_token"
              class="mono token"
              rows={4}
              required
              autocomplete="off"
              spellcheck={false}
              autocapitalize="off"
              aria-describedby={described}
              aria-invalid={error ? "true" : undefined}
            ></textarea>
          </div>
          <div class="actions">
            <button type="submit">Explain</button>
            <a href={`/settings/projects/${project.id}/exchanges`}>Recent exchanges</a>
          </div>
        </form>
      </section>
    </Page>
  );
}
