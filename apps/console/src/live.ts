import { formatUsd as fmt } from './money.ts';

// The live feed's state: budget events and spend updates as they arrive over graphql-ws.

export interface LiveEvent {
  id: string;
  type: string;
  eventType: string;
  scope: string;
  subAccountId: string | null;
  tag: string | null;
  threshold: number | null;
  capCents: number | null;
  spentCents: number | null;
  createdAt: string;
  /** The stored event's data (`balance_low` carries `balance_cents`, `threshold_cents`). */
  data?: unknown;
}

export interface LiveSpend {
  subAccountId: string;
  spentCents: number;
  capCents: number | null;
  period: string;
  at: string;
}

export type FeedItem =
  | { kind: 'event'; key: string; at: string; event: LiveEvent }
  | { kind: 'spend'; key: string; at: string; spend: LiveSpend };

export interface LiveState {
  /** Newest first, at most `FEED_LIMIT`. */
  feed: FeedItem[];
  /** The latest settled spend per sub-account (newer `at` wins; out-of-order updates are dropped). */
  spend: Record<string, LiveSpend>;
  /** How many of each kind arrived, for the screen reader summary. */
  counts: { events: number; spend: number };
}

export const FEED_LIMIT = 200;

export const emptyLive = (): LiveState => ({
  feed: [],
  spend: {},
  counts: { events: 0, spend: 0 },
});

export type LiveAction = { kind: 'event'; event: LiveEvent } | { kind: 'spend'; spend: LiveSpend };

export function liveReducer(state: LiveState, action: LiveAction): LiveState {
  if (action.kind === 'event') {
    if (state.feed.some((f) => f.kind === 'event' && f.event.id === action.event.id)) return state;
    const item: FeedItem = {
      kind: 'event',
      key: `e:${action.event.id}`,
      at: action.event.createdAt,
      event: action.event,
    };
    return {
      ...state,
      feed: [item, ...state.feed].slice(0, FEED_LIMIT),
      counts: { ...state.counts, events: state.counts.events + 1 },
    };
  }
  const s = action.spend;
  const prev = state.spend[s.subAccountId];
  const stale =
    prev !== undefined && prev.period === s.period && Date.parse(prev.at) > Date.parse(s.at);
  const item: FeedItem = {
    kind: 'spend',
    key: `s:${s.subAccountId}:${s.at}:${state.counts.spend}`,
    at: s.at,
    spend: s,
  };
  return {
    feed: [item, ...state.feed].slice(0, FEED_LIMIT),
    spend: stale ? state.spend : { ...state.spend, [s.subAccountId]: s },
    counts: { ...state.counts, spend: state.counts.spend + 1 },
  };
}

/**
 * The spend to show for a sub-account: the live value when it is newer than what the query
 * loaded (same period), else the query's.
 */
export function currentSpent(
  queried: { spentCents: number; loadedAt: number },
  live: LiveSpend | undefined,
): number {
  if (!live) return queried.spentCents;
  return Date.parse(live.at) >= queried.loadedAt ? live.spentCents : queried.spentCents;
}

const LIMIT_NAMES: Record<string, string> = {
  rpm: 'requests per minute',
  rpd: 'requests per day',
  tpm: 'tokens per minute',
  concurrency: 'concurrent requests',
};

/** What an event says, without who it is about ("crossed 80% — $0.85 of $1.00"). */
export function eventSummary(
  e: Pick<LiveEvent, 'type' | 'threshold' | 'spentCents' | 'capCents'> & { data?: unknown },
): string {
  const amounts =
    e.spentCents !== null && e.capCents !== null
      ? ` — ${fmt(e.spentCents)} of ${fmt(e.capCents)}`
      : '';
  switch (e.type) {
    case 'warning':
      return `crossed ${Math.round((e.threshold ?? 0) * 100)}% of the cap${amounts}`;
    case 'exhausted':
      return `cap reached${amounts}`;
    case 'rate_limited': {
      const d = (e.data ?? {}) as { limit?: unknown; limit_value?: unknown; model?: unknown };
      const value = typeof d.limit_value === 'number' ? `${d.limit_value} ` : '';
      const limit =
        typeof d.limit === 'string' ? ` (${value}${LIMIT_NAMES[d.limit] ?? d.limit})` : '';
      const model = typeof d.model === 'string' && d.model !== '' ? ` on ${d.model}` : '';
      return `rate limited${limit}${model}`;
    }
    case 'request_failed': {
      const d = (e.data ?? {}) as {
        model?: unknown;
        http_status?: unknown;
        error_class?: unknown;
        provider_status?: unknown;
      };
      const model = typeof d.model === 'string' && d.model !== '' ? ` on ${d.model}` : '';
      const why = [d.http_status, d.error_class].filter(
        (x) => typeof x === 'number' || (typeof x === 'string' && x !== ''),
      );
      if (typeof d.provider_status === 'number') why.push(`— provider said ${d.provider_status}`);
      return `a request failed${model}${why.length > 0 ? ` (${why.join(' ')})` : ''}`;
    }
    case 'created':
      return 'created';
    case 'balance_low': {
      const d = (e.data ?? {}) as { balance_cents?: unknown; threshold_cents?: unknown };
      const balance = typeof d.balance_cents === 'number' ? ` — ${fmt(d.balance_cents)} left` : '';
      const below =
        typeof d.threshold_cents === 'number' ? ` (below ${fmt(d.threshold_cents)})` : '';
      return `prepaid balance low${balance}${below}`;
    }
    default:
      return e.type;
  }
}

/**
 * The text beside an event's type badge: its summary, or nothing when that only repeats the type
 * (a `created` event would read "created created").
 */
export function eventDetail(type: string, summary: string): string {
  return summary.trim() === type.trim() ? '' : summary;
}

/** Whether the live connection came back after it was lost, and how many times it has. */
export interface Reconnects {
  lost: boolean;
  count: number;
}

export function trackReconnects(
  prev: Reconnects,
  connection: 'connecting' | 'connected' | 'lost' | 'refused',
): Reconnects {
  if (connection === 'lost') return prev.lost ? prev : { ...prev, lost: true };
  if (connection === 'connected' && prev.lost) return { lost: false, count: prev.count + 1 };
  return prev;
}

/** Names of sub-accounts this tab has loaded, so the feed can say "acme" rather than an id. */
export const knownNames = new Map<string, string>();

/** The name of a sub-account by id from the API: null when it has none (not found). */
export type NameLookup = (id: string) => Promise<string | null>;

/**
 * Names for the feed's sub-accounts: those a page of this tab loaded (`names`), and the others
 * (created after the tab loaded, beyond the first page of the list) looked up through `lookup`,
 * each id once — while it is being looked up, or when the lookup failed or found nothing, the
 * feed shows the id. Listeners hear when a looked-up name arrives.
 */
export class SubAccountNames {
  /** Ids looked up already (in flight or settled): never asked twice. */
  private readonly asked = new Set<string>();
  private readonly listeners = new Set<() => void>();
  /** Changes with every name that arrives (a snapshot for useSyncExternalStore). */
  version = 0;

  constructor(
    private readonly lookup: NameLookup,
    readonly names: Map<string, string> = knownNames,
  ) {}

  /** Looks up the ids that have no name yet and were not asked for before. */
  resolve(ids: Iterable<string | null | undefined>): void {
    for (const id of ids) {
      if (!id || this.names.has(id) || this.asked.has(id)) continue;
      this.asked.add(id);
      this.lookup(id).then(
        (name) => {
          if (name === null || this.names.get(id) === name) return;
          this.names.set(id, name);
          this.version++;
          for (const l of this.listeners) l();
        },
        () => {
          // Looked up once: the feed keeps showing the id.
        },
      );
    }
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };
}

/** The sub-accounts a feed names: of spend updates, and of sub-account events. */
export function feedSubAccountIds(feed: readonly FeedItem[]): string[] {
  const ids = new Set<string>();
  for (const f of feed) {
    if (f.kind === 'spend') ids.add(f.spend.subAccountId);
    else if (f.event.subAccountId && f.event.scope !== 'tag' && f.event.scope !== 'workspace')
      ids.add(f.event.subAccountId);
  }
  return [...ids];
}

/** One line of text for a feed item (also what screen readers hear). */
export function describeFeedItem(
  item: FeedItem,
  names: ReadonlyMap<string, string> = knownNames,
): string {
  if (item.kind === 'spend') {
    const s = item.spend;
    const who = names.get(s.subAccountId) ?? s.subAccountId;
    const cap = s.capCents === null ? 'no cap' : `cap ${fmt(s.capCents)}`;
    return `${who} spent ${fmt(s.spentCents)} (${cap})`;
  }
  const e = item.event;
  const who =
    e.scope === 'tag'
      ? `tag ${e.tag}`
      : e.scope === 'workspace'
        ? 'workspace'
        : (names.get(e.subAccountId ?? '') ?? e.subAccountId ?? 'sub-account');
  return `${who}: ${eventSummary(e)}`;
}
