import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import type { Problem } from '../errors.ts';

// Telling the reader things: problems, notices and a secret shown once.

/**
 * Focus for a message that just appeared, when focus is nowhere (on the page itself): a submit
 * whose button was disabled while it ran drops focus there, and the keyboard user should continue
 * from the message rather than from the top of the page.
 */
function useFocusIfLost<T extends HTMLElement>(shown: string | null | undefined) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (shown && (document.activeElement === document.body || document.activeElement === null)) {
      ref.current?.focus();
    }
  }, [shown]);
  return ref;
}

/** The visible alert region: problems are said plainly and announced. */
export function Alert({
  problem,
  onDismiss,
}: {
  problem: Problem | string | null;
  onDismiss?: () => void;
}) {
  const message = !problem ? null : typeof problem === 'string' ? problem : problem.message;
  const ref = useFocusIfLost<HTMLDivElement>(message);
  if (!message) return null;
  return (
    <div className="alert" role="alert" tabIndex={-1} ref={ref}>
      <span>{message}</span>
      {onDismiss ? (
        <button type="button" className="link" onClick={onDismiss}>
          Dismiss
        </button>
      ) : null}
    </div>
  );
}

/** A one-line problem next to the form or table it concerns; nothing while there is none. */
export function AlertLine({ text }: { text: string | null | undefined }) {
  const ref = useFocusIfLost<HTMLParagraphElement>(text);
  if (!text) return null;
  return (
    <p className="alert" role="alert" tabIndex={-1} ref={ref}>
      {text}
    </p>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  return (
    <output className="notice" aria-live="polite">
      {children}
    </output>
  );
}

/**
 * A secret shown exactly once: a warning, the value, a copy button; focus lands on it. `kept` says
 * what Tollgate stores: only a hash (API keys), or the secret itself, which it needs (a webhook's
 * signing secret) but never shows again.
 */
export function OnceSecret({
  label,
  secret,
  onDone,
  kept = 'hash',
}: {
  label: string;
  secret: string;
  onDone: () => void;
  kept?: 'hash' | 'secret';
}) {
  const ref = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const inputId = useId();
  useEffect(() => ref.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      const input = document.getElementById(inputId) as HTMLInputElement | null;
      input?.select();
      setCopied(document.execCommand?.('copy') ? 'yes' : 'failed');
    }
  };
  return (
    <section className="once" ref={ref} tabIndex={-1} aria-labelledby={`${inputId}-h`}>
      <h3 id={`${inputId}-h`}>{label}</h3>
      <p className="warning-text">
        <strong>Shown once.</strong> Copy it now and store it safely —{' '}
        {kept === 'hash'
          ? 'Tollgate keeps only its hash and cannot show it again.'
          : 'it is shown only this once.'}
      </p>
      <div className="row">
        <label className="sr-only" htmlFor={inputId}>
          {label}
        </label>
        <input
          id={inputId}
          className="secret"
          readOnly
          value={secret}
          onFocus={(e) => e.target.select()}
        />
        <button type="button" onClick={copy}>
          Copy
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          I have stored it
        </button>
      </div>
      <output aria-live="polite" className="muted">
        {copied === 'yes'
          ? 'Copied to the clipboard.'
          : copied === 'failed'
            ? 'Copy failed: select the text and copy it.'
            : ''}
      </output>
    </section>
  );
}

/** Under a list cut at its page size: more rows exist than the console shows. */
export function MoreRows({ more, shown }: { more: boolean; shown: number }) {
  if (!more) return null;
  return <p className="muted small">Showing the first {shown}; more exist.</p>;
}
