import { type InputHTMLAttributes, type ReactNode, useId } from 'react';

// Form building blocks: labelled fields with hint and error, bound text inputs, period options,
// and a button that asks before it acts.

export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: string;
  error?: string | null;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-err` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children(id, describedBy)}
      {hint ? (
        <small id={hintId} className="muted">
          {hint}
        </small>
      ) : null}
      {error ? (
        <small id={errorId} className="field-error">
          {error}
        </small>
      ) : null}
    </div>
  );
}

/** The keys of a form whose values are text. */
type TextKey<F> = { [K in keyof F]: F[K] extends string ? K : never }[keyof F];

/**
 * Inputs for `Field`s bound to one form object: `input(key, props)` gives the render function of a
 * text input showing `form[key]`, updating that key, and marked invalid while `errors[key]` is set.
 */
export function formInputs<F extends object>(
  form: F,
  setForm: (f: F) => void,
  errors: Partial<Record<keyof F, string>>,
) {
  return (key: TextKey<F>, props: Record<string, unknown> = {}) =>
    function render(id: string, describedBy: string | undefined) {
      return (
        <input
          id={id}
          aria-describedby={describedBy}
          aria-invalid={errors[key] ? true : undefined}
          value={form[key] as string}
          onChange={(e) => setForm({ ...form, [key]: e.target.value })}
          {...props}
        />
      );
    };
}

/** A labelled input in a form grid, under the page's own id. */
export function LabelledInput({
  id,
  label,
  ...input
}: { id: string; label: string } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} {...input} />
    </div>
  );
}

/** The budget periods as `<option>`s, in the order the API documents them. */
export function PeriodOptions() {
  return (
    <>
      <option value="monthly">monthly</option>
      <option value="weekly">weekly</option>
      <option value="daily">daily</option>
      <option value="total">total</option>
    </>
  );
}

/** A button that asks first (`window.confirm`) and acts only on yes; a row's "Delete" by default. */
export function ConfirmButton({
  question,
  onConfirm,
  className = 'danger small',
  children,
}: {
  question: string;
  onConfirm: () => unknown;
  className?: string;
  children: ReactNode;
}) {
  return (
    <button
      type="button"
      className={className}
      onClick={() => {
        if (window.confirm(question)) void onConfirm();
      }}
    >
      {children}
    </button>
  );
}
