// Geometry of the hand-made SVG charts: pure functions, so they are tested without a browser.

export interface DayPoint {
  date: string;
  costCents: number;
  requests: number;
}

/** Every UTC day of the last `days` days ending at `today`, zero where the report has no row. */
export function fillDays(rows: readonly DayPoint[], days: number, today: Date): DayPoint[] {
  const byDate = new Map(rows.map((r) => [r.date, r]));
  const out: DayPoint[] = [];
  const end = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  for (let i = days - 1; i >= 0; i--) {
    const date = new Date(end - i * 86_400_000).toISOString().slice(0, 10);
    out.push(byDate.get(date) ?? { date, costCents: 0, requests: 0 });
  }
  return out;
}

/** A round axis maximum ≥ `value` (1, 2, 2.5, 5 × 10ⁿ), so gridlines read well. */
export function niceMax(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * exp + Number.EPSILON * exp) return step * exp;
  }
  return 10 * exp;
}

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Vertical bars for `values` in a `width`×`height` plot area: equal slots with a gap, heights
 * scaled to `max`; a non-zero value is at least 1px tall so it never disappears.
 */
export function barLayout(
  values: readonly number[],
  width: number,
  height: number,
  max: number,
): Bar[] {
  if (values.length === 0) return [];
  const slot = width / values.length;
  const gap = Math.min(slot * 0.2, 6);
  return values.map((v, i) => {
    const scaled = max > 0 ? (Math.max(v, 0) / max) * height : 0;
    const h = v > 0 ? Math.max(scaled, 1) : 0;
    return { x: i * slot + gap / 2, y: height - h, width: Math.max(slot - gap, 1), height: h };
  });
}

/** Horizontal share bars (spend by model): each row's width relative to the largest. */
export function shares<T extends { costCents: number }>(
  rows: readonly T[],
): Array<T & { share: number }> {
  const top = Math.max(0, ...rows.map((r) => r.costCents));
  return [...rows]
    .sort((a, b) => b.costCents - a.costCents)
    .map((r) => ({ ...r, share: top > 0 ? Math.max(r.costCents, 0) / top : 0 }));
}
