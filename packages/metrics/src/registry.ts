/**
 * A small Prometheus registry: counters, gauges and fixed-bucket histograms with labels, rendered in
 * the text exposition format (version 0.0.4). Label children are resolved once (`labels(...)`) and
 * kept by the caller, so the hot path is a few number updates — no allocation per observation.
 */

export interface CounterChild {
  inc(by?: number): void;
  value(): number;
}
export interface GaugeChild {
  set(value: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
  value(): number;
}
export interface HistogramChild {
  observe(value: number): void;
  count(): number;
  sum(): number;
}

interface Family<C> {
  /** The child for these label values (created once, then the same object). */
  labels(...values: string[]): C;
}
export type Counter = Family<CounterChild> & CounterChild;
export type Gauge = Family<GaugeChild> & GaugeChild;
export type Histogram = Family<HistogramChild> & HistogramChild;

export interface Registry {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge;
  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames?: readonly string[],
  ): Histogram;
  /** Runs before every render: set gauges read from elsewhere (queue depths, ages). A failing
   * collector is skipped (its gauges keep their last values). */
  onCollect(collect: () => void | Promise<void>): void;
  /** The text exposition of every metric. */
  render(): Promise<string>;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

interface Kind<C> {
  type: 'counter' | 'gauge' | 'histogram';
  make(): C;
  lines(name: string, labels: string, child: C, out: string[]): void;
}

interface Entry {
  name: string;
  help: string;
  type: string;
  render(out: string[]): void;
}

function family<C extends object>(
  name: string,
  labelNames: readonly string[],
  kind: Kind<C>,
  entries: Entry[],
  help: string,
): Family<C> & C {
  if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
  for (const l of labelNames) {
    if (!LABEL.test(l) || l.startsWith('__') || l === 'le')
      throw new Error(`invalid label name ${l}`);
  }
  if (entries.some((e) => e.name === name)) throw new Error(`metric ${name} registered twice`);
  const children = new Map<string, { labels: string; child: C }>();
  const labels = (...values: string[]): C => {
    if (values.length !== labelNames.length) {
      throw new Error(`${name} takes ${labelNames.length} label values, got ${values.length}`);
    }
    const key = values.join('\u0001');
    let hit = children.get(key);
    if (hit === undefined) {
      const text = labelNames.map((l, i) => `${l}="${escapeLabel(values[i] ?? '')}"`).join(',');
      hit = { labels: text, child: kind.make() };
      children.set(key, hit);
    }
    return hit.child;
  };
  entries.push({
    name,
    help,
    type: kind.type,
    render(out) {
      for (const { labels: l, child } of children.values()) kind.lines(name, l, child, out);
    },
  });
  // An unlabelled metric is its own single child, present (at 0) from the start.
  const self = labelNames.length === 0 ? labels() : null;
  const unlabelled = () => {
    if (self === null) throw new Error(`${name} has labels: use labels(...)`);
    return self;
  };
  return new Proxy({ labels } as Family<C> & C, {
    get(target, prop) {
      if (prop === 'labels') return target.labels;
      const child = unlabelled() as Record<string | symbol, unknown>;
      const v = child[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(child) : v;
    },
  });
}

const braces = (labels: string) => (labels === '' ? '' : `{${labels}}`);

const COUNTER: Kind<CounterChild> = {
  type: 'counter',
  make() {
    let v = 0;
    return {
      inc(by = 1) {
        if (by < 0) throw new Error('a counter only goes up');
        v += by;
      },
      value: () => v,
    };
  },
  lines(name, labels, child, out) {
    out.push(`${name}${braces(labels)} ${formatValue(child.value())}`);
  },
};

const GAUGE: Kind<GaugeChild> = {
  type: 'gauge',
  make() {
    let v = 0;
    return {
      set(x) {
        v = x;
      },
      inc(by = 1) {
        v += by;
      },
      dec(by = 1) {
        v -= by;
      },
      value: () => v,
    };
  },
  lines(name, labels, child, out) {
    out.push(`${name}${braces(labels)} ${formatValue(child.value())}`);
  },
};

function histogramKind(
  buckets: readonly number[],
): Kind<HistogramChild & { counts: Float64Array }> {
  const bounds = [...buckets];
  for (let i = 1; i < bounds.length; i++) {
    if (!((bounds[i] as number) > (bounds[i - 1] as number)))
      throw new Error('histogram buckets must increase');
  }
  const les = bounds.map(formatValue);
  return {
    type: 'histogram',
    make() {
      // Per-bucket (not cumulative) counts; the last slot is +Inf.
      const counts = new Float64Array(bounds.length + 1);
      let sum = 0;
      let count = 0;
      return {
        counts,
        observe(v) {
          let i = 0;
          while (i < bounds.length && v > (bounds[i] as number)) i++;
          counts[i] = (counts[i] as number) + 1;
          sum += v;
          count++;
        },
        count: () => count,
        sum: () => sum,
      };
    },
    lines(name, labels, child, out) {
      const sep = labels === '' ? '' : ',';
      let cumulative = 0;
      for (let i = 0; i < les.length; i++) {
        cumulative += child.counts[i] as number;
        out.push(`${name}_bucket{${labels}${sep}le="${les[i]}"} ${cumulative}`);
      }
      out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${child.count()}`);
      out.push(`${name}_sum${braces(labels)} ${formatValue(child.sum())}`);
      out.push(`${name}_count${braces(labels)} ${child.count()}`);
    },
  };
}

export function createRegistry(): Registry {
  const entries: Entry[] = [];
  const collectors: Array<() => void | Promise<void>> = [];
  return {
    counter: (name, help, labelNames = []) => family(name, labelNames, COUNTER, entries, help),
    gauge: (name, help, labelNames = []) => family(name, labelNames, GAUGE, entries, help),
    histogram: (name, help, buckets, labelNames = []) =>
      family(name, labelNames, histogramKind(buckets), entries, help) as unknown as Histogram,
    onCollect(collect) {
      collectors.push(collect);
    },
    async render() {
      await Promise.all(
        collectors.map(async (c) => {
          try {
            await c();
          } catch {
            // A source that cannot be read now keeps its last values.
          }
        }),
      );
      const out: string[] = [];
      for (const e of entries) {
        out.push(`# HELP ${e.name} ${escapeHelp(e.help)}`);
        out.push(`# TYPE ${e.name} ${e.type}`);
        e.render(out);
      }
      return `${out.join('\n')}\n`;
    },
  };
}
