import { useId } from 'react';
import { barLayout, type DayPoint, niceMax, shares } from '../chart.ts';
import { formatUsd, spendBar } from '../money.ts';

// Pictures of money: the spend-vs-cap meter, spend by day and spend by model.

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

/** The plot area of the daily chart, inside its margins. */
const PLOT = { width: 640 - 56 - 8, height: 180 - 22 - 8, left: 56 } as const;

/** Daily spend as SVG bars with a y axis in dollars; every bar has a tooltip title. */
export function DailyChart({ days }: { days: DayPoint[] }) {
  const max = niceMax(Math.max(0, ...days.map((d) => d.costCents)));
  const bars = barLayout(
    days.map((d) => d.costCents),
    PLOT.width,
    PLOT.height,
    max,
  );
  const total = days.reduce((s, d) => s + d.costCents, 0);
  const titleId = useId();
  return (
    <figure className="chart">
      <svg
        viewBox="0 0 640 180"
        role="img"
        aria-labelledby={titleId}
        data-total-cents={total}
        preserveAspectRatio="xMidYMid meet"
      >
        <title id={titleId}>
          Spend by day: {formatUsd(total)} over {days.length} days
        </title>
        <g transform={`translate(${PLOT.left},8)`}>
          <DollarAxis max={max} />
          <DayBars days={days} bars={bars} />
        </g>
      </svg>
      <figcaption>Spend by day (UTC), total {formatUsd(total)}</figcaption>
    </figure>
  );
}

/** Grid lines at 0, half and the top of the scale, labelled in dollars. */
function DollarAxis({ max }: { max: number }) {
  return (
    <>
      {[0, 0.5, 1]
        .map((f) => f * max)
        .map((t) => {
          const y = PLOT.height - (t / max) * PLOT.height;
          return (
            <g key={t}>
              <line x1={0} x2={PLOT.width} y1={y} y2={y} className="grid" />
              <text x={-6} y={y + 4} textAnchor="end" className="axis">
                {formatUsd(t)}
              </text>
            </g>
          );
        })}
    </>
  );
}

/** One bar per day with its tooltip, and a date under every few bars (always the last). */
function DayBars({ days, bars }: { days: DayPoint[]; bars: ReturnType<typeof barLayout> }) {
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));
  return (
    <>
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
            y={PLOT.height + 16}
            textAnchor="middle"
            className="axis"
          >
            {days[i]!.date.slice(5)}
          </text>
        ) : null,
      )}
    </>
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
