/**
 * The parts every settings form is made of: the CSRF field, labelled fields with their hint
 * and the API's error beside them, a form-level error, the trash button whose confirmation
 * dialog the script opens, and the dialog that shows a new token's plaintext once.
 *
 * Errors sit after the label and are tied to the field with `aria-describedby` and
 * `aria-invalid`, so a screen reader says them when the field takes focus. Every value is
 * rendered as text or as an attribute value, never as HTML.
 */
import type { FormError, FormState } from "../forms";
import type { Child } from "../jsx-runtime";
import type { UiSession } from "../session";
import { Alert } from "./layout";

export function CsrfField({ session }: { session: UiSession }) {
  return <input type="hidden" name="csrf" value={session.csrf} />;
}

/** The error of the form as a whole (not tied to one of its fields). */
export function FormAlert({ state }: { state?: FormState }) {
  const error = state?.error;
  if (!error || error.field !== "") return null;
  return (
    <Alert code={error.code}>
      <strong>Not saved.</strong> {error.message}
    </Alert>
  );
}

/** The error beside one field, if the refusal named it. */
export function errorFor(state: FormState | undefined, field: string): FormError | undefined {
  const error = state?.error;
  return error && error.field !== "" && (error.field === field || error.field.startsWith(`${field}.`)) ? error : undefined;
}

export function FieldError({ id, error }: { id: string; error?: FormError }) {
  if (!error) return null;
  return (
    <p class="field-error" id={id} data-error={error.code} data-field={error.field}>
      {error.message}
    </p>
  );
}

interface TextFieldProps {
  /** The form's ID, so field IDs are unique on a page holding several forms. */
  form: string;
  name: string;
  label: string;
  hint?: Child;
  state?: FormState;
  required?: boolean;
  inputmode?: "numeric" | "text";
  placeholder?: string;
  /** A `<datalist>` ID offering known values. */
  list?: string;
  maxlength?: number;
}

/** A free-text input's kind: it holds names, IDs and patterns, so no autofill, spell check or capitals. */
export const LITERAL_TEXT = { type: "text", autocomplete: "off", spellcheck: false, autocapitalize: "off" } as const;

export function TextField({ form, name, label, hint, state, required, inputmode, placeholder, list, maxlength }: TextFieldProps) {
  const id = `${form}-${name}`;
  const error = errorFor(state, name);
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>
        {label}
        {!required && <span class="optional"> (optional)</span>}
      </label>
      {hint && (
        <span class="hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
      <FieldError id={`${id}-error`} error={error} />
      <input
        id={id}
        name={name}
        {...LITERAL_TEXT}
        value={state?.values[name] ?? ""}
        required={required}
        inputmode={inputmode}
        placeholder={placeholder}
        list={list}
        maxlength={maxlength}
        aria-describedby={described || undefined}
        aria-invalid={error ? "true" : undefined}
      />
    </div>
  );
}

export function SelectField({
  form,
  name,
  label,
  options,
  state,
  hint,
}: {
  form: string;
  name: string;
  label: string;
  options: { value: string; label: string }[];
  state?: FormState;
  hint?: Child;
}) {
  const id = `${form}-${name}`;
  const error = errorFor(state, name);
  const chosen = state?.values[name];
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {hint && (
        <span class="hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
      <FieldError id={`${id}-error`} error={error} />
      <select id={id} name={name} aria-describedby={described || undefined} aria-invalid={error ? "true" : undefined}>
        {options.map((o) => (
          <option value={o.value} selected={chosen === o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

const TRASH_PATH =
  "M9 3h6l1 2h4v2H4V5h4l1-2zm-3 6h12l-1 12H7L6 9zm4 2v8h2v-8h-2zm4 0v8h2v-8h-2z";

/**
 * A trash button posting to `action`, behind a confirmation: the script opens the dialog
 * (cancel or confirm); without the script the post arrives unconfirmed and the server asks
 * on a page of its own. `what` names the thing for the button's label and the dialog.
 */
export function DeleteButton({
  session,
  id,
  action,
  what,
  consequence,
  confirmLabel = "Delete",
  text,
}: {
  session: UiSession;
  /** Unique on the page: the dialog's ID derives from it. */
  id: string;
  action: string;
  what: string;
  consequence: string;
  confirmLabel?: string;
  /** A visible label instead of the trash icon. */
  text?: string;
}) {
  const dialogId = `confirm-${id}`;
  return (
    <>
      <form class="inline-form" method="post" action={action} data-confirm={dialogId}>
        <CsrfField session={session} />
        <input type="hidden" name="confirmed" value="" />
        {text ? (
          <button type="submit" class="danger">
            {text}
          </button>
        ) : (
          <button type="submit" class="icon" aria-label={`Delete ${what}`} title={`Delete ${what}`}>
            <svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="20" height="20">
              <path fill="currentColor" d={TRASH_PATH} />
            </svg>
          </button>
        )}
      </form>
      <dialog id={dialogId} aria-labelledby={`${dialogId}-title`} aria-describedby={`${dialogId}-text`}>
        <h2 id={`${dialogId}-title`}>{`Delete ${what}?`}</h2>
        <p id={`${dialogId}-text`}>{consequence}</p>
        <form method="dialog" class="actions">
          <button type="submit" value="cancel" class="secondary" autofocus>
            Cancel
          </button>
          <button type="submit" value="confirm" class="danger">
            {confirmLabel}
          </button>
        </form>
      </dialog>
    </>
  );
}

/**
 * A new static token's plaintext, in the one response that has it: a modal dialog (the
 * script makes the server-rendered open dialog modal) with a copy button. Closing it
 * removes it from the page and puts `back` in the address bar, so only the masked preview
 * in the table remains; without the script it closes as a plain dialog.
 */
export function IssuedTokenDialog({ token, preview, kind, back }: { token: string; preview: string; kind: string; back: string }) {
  return (
    <dialog id="issued-token" data-modal data-once={back} open aria-labelledby="issued-token-title" aria-describedby="issued-token-text">
      <h2 id="issued-token-title">{`Copy your new ${kind} token`}</h2>
      <p id="issued-token-text">
        This is the only time it is shown: edge-sts keeps only a hash of it. Once you close this dialog, the table shows only its masked
        preview, <code>{preview}</code>.
      </p>
      <div class="field">
        <label for="issued-token-value">{`New ${kind} token`}</label>
        <textarea id="issued-token-value" class="mono token" rows={2} readonly autocomplete="off" spellcheck={false}>
          {token}
        </textarea>
      </div>
      <div class="actions">
        <button type="button" data-copy="issued-token-value" data-copy-label="Token copied" hidden>
          Copy token
        </button>
        <form method="dialog">
          <button type="submit" class="secondary">
            Close
          </button>
        </form>
      </div>
    </dialog>
  );
}

/** What a redirect after a change said happened (a fixed sentence, never echoed input). */
export function Notice({ text }: { text?: string }) {
  if (!text) return null;
  return (
    <p class="notice" role="status">
      {text}
    </p>
  );
}
