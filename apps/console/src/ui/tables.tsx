import type { ReactNode } from 'react';

// Tables and paging under them.

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
