import {
  createContext,
  type InputHTMLAttributes,
  type ReactNode,
  useContext,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react';
import { barLayout, type DayPoint, niceMax, shares } from './chart.ts';
import type { ConnectionState } from './client.ts';
import type { Problem } from './errors.ts';
import type { LiveState } from './live.ts';
import { formatUsd, spendBar } from './money.ts';

export interface LiveContextValue {
  live: LiveState;
  connection: ConnectionState;
}

export const LiveContext = createContext<LiveContextValue>({
  live: { feed: [], spend: {}, counts: { events: 0, spend: 0 } },
  connection: 'connecting',
});

export const useLive = () => useContext(LiveContext);

/** The visible alert region: problems are said plainly and announced. */
export function Alert({
  problem,
  onDismiss,
}: {
  problem: Problem | string | null;
  onDismiss?: () => void;
}) {
  if (!problem) return null;
  const message = typeof problem === 'string' ? problem : problem.message;
  return (
    <div className="alert" role="alert">
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
  if (!text) return null;
  return (
    <p className="alert" role="alert">
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

/** Spend vs cap: settled spend, then reserved (in flight), on one bar, with the same text for readers. */
export function SpendMeter({
  spentCents,
  reservedCents,
  capCents,
  compact = false,
}: {
  spentCents: number;
  reservedCents: number;
  capCents: number | null;
  compact?: boolean;
}) {
  const bar = spendBar(spentCents, reservedCents, capCents);
  return (
    <div className={`meter-wrap${compact ? ' compact' : ''}`}>
      {/* The bar is a picture of the text next to it; readers get the text. */}
      <div
        className={`meter level-${bar.level}`}
        aria-hidden="true"
        data-percent={bar.percent ?? ''}
        data-spent-share={bar.spent ?? ''}
      >
        {bar.spent !== null ? (
          <>
            <span className="meter-spent" style={{ width: `${bar.spent * 100}%` }} />
            <span className="meter-reserved" style={{ width: `${(bar.reserved ?? 0) * 100}%` }} />
          </>
        ) : null}
      </div>
      <span className="meter-text">{bar.label}</span>
    </div>
  );
}

/** Daily spend as SVG bars with a y axis in dollars; every bar has a tooltip title. */
export function DailyChart({ days }: { days: DayPoint[] }) {
  const W = 640;
  const H = 180;
  const left = 56;
  const bottom = 22;
  const plotW = W - left - 8;
  const plotH = H - bottom - 8;
  const max = niceMax(Math.max(0, ...days.map((d) => d.costCents)));
  const bars = barLayout(
    days.map((d) => d.costCents),
    plotW,
    plotH,
    max,
  );
  const total = days.reduce((s, d) => s + d.costCents, 0);
  const ticks = [0, 0.5, 1].map((f) => f * max);
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));
  const titleId = useId();
  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-labelledby={titleId}
        data-total-cents={total}
        preserveAspectRatio="xMidYMid meet"
      >
        <title id={titleId}>
          Spend by day: {formatUsd(total)} over {days.length} days
        </title>
        <g transform={`translate(${left},8)`}>
          {ticks.map((t) => {
            const y = plotH - (t / max) * plotH;
            return (
              <g key={t}>
                <line x1={0} x2={plotW} y1={y} y2={y} className="grid" />
                <text x={-6} y={y + 4} textAnchor="end" className="axis">
                  {formatUsd(t)}
                </text>
              </g>
            );
          })}
          {bars.map((b, i) => {
            const d = days[i]!;
            return (
              <rect key={d.date} x={b.x} y={b.y} width={b.width} height={b.height} className="bar">
                <title>
                  {d.date}: {formatUsd(d.costCents)}, {d.requests} requests
                </title>
              </rect>
            );
          })}
          {bars.map((b, i) =>
            i % labelEvery === 0 || i === bars.length - 1 ? (
              <text
                key={`l${days[i]!.date}`}
                x={b.x + b.width / 2}
                y={plotH + 16}
                textAnchor="middle"
                className="axis"
              >
                {days[i]!.date.slice(5)}
              </text>
            ) : null,
          )}
        </g>
      </svg>
      <figcaption>Spend by day (UTC), total {formatUsd(total)}</figcaption>
    </figure>
  );
}

export function ModelBars({
  rows,
}: {
  rows: Array<{ modelId: string; costCents: number; requests: number }>;
}) {
  if (rows.length === 0) return <p className="muted">No requests in this window.</p>;
  return (
    <figure className="chart">
      <ul className="hbars" aria-label="Spend by model">
        {shares(rows).map((r) => (
          <li key={r.modelId}>
            <span className="hbar-label">{r.modelId}</span>
            <span className="hbar-track" aria-hidden="true">
              <span className="hbar" style={{ width: `${r.share * 100}%` }} />
            </span>
            <span className="hbar-value">
              {formatUsd(r.costCents)} · {r.requests} req
            </span>
          </li>
        ))}
      </ul>
      <figcaption>Spend by model</figcaption>
    </figure>
  );
}

/** A secret shown exactly once: a warning, the value, a copy button; focus lands on it. */
export function OnceSecret({
  label,
  secret,
  onDone,
}: {
  label: string;
  secret: string;
  onDone: () => void;
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
        <strong>Shown once.</strong> Copy it now and store it safely — Tollgate keeps only its hash
        and cannot show it again.
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

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

export function When({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span className="muted">—</span>;
  const d = new Date(iso);
  return (
    <time dateTime={iso} title={iso}>
      {d.toISOString().replace('T', ' ').slice(0, 19)}
    </time>
  );
}

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

/** A table column heading: plain text, or text with a cell class (`num`, `w-meter`). */
export type Column = string | { label: string; className: string };

/**
 * The console's data table: a scrolling wrapper, column headings, an optional trailing
 * "Actions" column (a heading for readers only), and one muted row spanning every column
 * when `empty` is given (pass null while there are rows).
 */
export function DataTable({
  columns,
  actions = false,
  empty = null,
  children,
}: {
  columns: Column[];
  actions?: boolean;
  empty?: ReactNode;
  children?: ReactNode;
}) {
  const span = columns.length + (actions ? 1 : 0);
  return (
    <div className="table-wrap">
      <table className="data">
        <thead>
          <tr>
            {columns.map((c) =>
              typeof c === 'string' ? (
                <th key={c} scope="col">
                  {c}
                </th>
              ) : (
                <th key={c.label} scope="col" className={c.className}>
                  {c.label}
                </th>
              ),
            )}
            {actions ? (
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {empty !== null && empty !== undefined && empty !== false ? (
            <tr>
              <td colSpan={span} className="muted">
                {empty}
              </td>
            </tr>
          ) : null}
          {children}
        </tbody>
      </table>
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

/** Previous / next paging under a table, with where the reader is in between. */
export function Pager({
  label,
  previousLabel,
  nextLabel,
  canPrevious,
  canNext,
  onPrevious,
  onNext,
  children,
}: {
  label: string;
  previousLabel: string;
  nextLabel: string;
  canPrevious: boolean;
  canNext: boolean;
  onPrevious: () => void;
  onNext: () => void;
  children: ReactNode;
}) {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" className="secondary" disabled={!canPrevious} onClick={onPrevious}>
        {previousLabel}
      </button>
      <span>{children}</span>
      <button type="button" className="secondary" disabled={!canNext} onClick={onNext}>
        {nextLabel}
      </button>
    </nav>
  );
}
