import { useState } from 'react';
import { describeFeedItem } from '../live.ts';
import { When } from '../ui/labels.tsx';
import { useLive } from '../ui/live-context.ts';

/** Budget events and spend updates of the workspace as they arrive, for this tab only. */
export function LivePage() {
  const { live, connection } = useLive();
  const [show, setShow] = useState<'all' | 'event' | 'spend'>('all');
  const items = live.feed.filter((f) => show === 'all' || f.kind === show);
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
              <a href={`#/sub-accounts/${f.event.subAccountId}`}>{describeFeedItem(f)}</a>
            ) : f.kind === 'spend' ? (
              <a href={`#/sub-accounts/${f.spend.subAccountId}`}>{describeFeedItem(f)}</a>
            ) : (
              describeFeedItem(f)
            )}{' '}
            <When iso={f.at} />
          </li>
        ))}
      </ul>
    </section>
  );
}
