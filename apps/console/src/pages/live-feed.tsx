import { useEffect, useState, useSyncExternalStore } from 'react';
import { type Client, useClient } from 'urql';
import { SubAccountNameQueryDocument } from '../generated/graphql.ts';
import { describeFeedItem, type FeedItem, feedSubAccountIds, SubAccountNames } from '../live.ts';
import { When } from '../ui/labels.tsx';
import { useLive } from '../ui/live-context.ts';

/** The name of a sub-account through the API's `subAccount(id)`; null when it is not found. */
const lookupWith =
  (client: Client) =>
  async (id: string): Promise<string | null> => {
    const r = await client
      .query(SubAccountNameQueryDocument, { id }, { requestPolicy: 'network-only' })
      .toPromise();
    if (r.error) throw r.error;
    const sa = r.data?.subAccount;
    return sa?.__typename === 'SubAccount' ? sa.name : null;
  };

/** One name cache per client (per signed-in key), kept across visits to the page. */
const namesByClient = new WeakMap<Client, SubAccountNames>();

/**
 * Names of the feed's sub-accounts: those this tab loaded, the others looked up once each; the
 * page renders again as they arrive (the id shows meanwhile, or when a lookup fails).
 */
function useFeedNames(feed: readonly FeedItem[]): ReadonlyMap<string, string> {
  const client = useClient();
  let names = namesByClient.get(client);
  if (!names) {
    names = new SubAccountNames(lookupWith(client));
    namesByClient.set(client, names);
  }
  const cache = names;
  useSyncExternalStore(cache.subscribe, () => cache.version);
  const ids = feedSubAccountIds(feed).join(' ');
  useEffect(() => {
    if (ids) cache.resolve(ids.split(' '));
  }, [cache, ids]);
  return cache.names;
}

/** Budget events and spend updates of the workspace as they arrive, for this tab only. */
export function LivePage() {
  const { live, connection } = useLive();
  const [show, setShow] = useState<'all' | 'event' | 'spend'>('all');
  const items = live.feed.filter((f) => show === 'all' || f.kind === show);
  const names = useFeedNames(live.feed);
  return (
    <section aria-labelledby="live-h">
      <h1 id="live-h">Live feed</h1>
      <p className="muted">
        Budget events and spend updates of this workspace as they happen ({connection}). Kept for
        this tab only.
      </p>
      <div className="filters">
        <div className="field">
          <label htmlFor="live-show">Show</label>
          <select
            id="live-show"
            value={show}
            onChange={(e) => setShow(e.target.value as typeof show)}
          >
            <option value="all">everything</option>
            <option value="event">budget events</option>
            <option value="spend">spend updates</option>
          </select>
        </div>
      </div>
      <ul className="feed" aria-live="polite" aria-relevant="additions" aria-label="Live feed">
        {items.length === 0 ? <li className="muted">Waiting for events…</li> : null}
        {items.map((f) => (
          <li key={f.key} className={f.kind === 'event' ? `event event-${f.event.type}` : 'spend'}>
            {f.kind === 'event' ? (
              <span className={`badge badge-${f.event.type}`}>{f.event.type}</span>
            ) : (
              <span className="badge badge-spend">spend</span>
            )}{' '}
            {f.kind === 'event' && f.event.subAccountId ? (
              <a href={`#/sub-accounts/${f.event.subAccountId}`}>{describeFeedItem(f, names)}</a>
            ) : f.kind === 'spend' ? (
              <a href={`#/sub-accounts/${f.spend.subAccountId}`}>{describeFeedItem(f, names)}</a>
            ) : (
              describeFeedItem(f, names)
            )}{' '}
            <When iso={f.at} />
          </li>
        ))}
      </ul>
    </section>
  );
}
