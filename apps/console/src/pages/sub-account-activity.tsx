import { useMemo } from 'react';
import { hasMore, listError, listPlaceholder, nodesOf } from '../connection.ts';
import { eventDetail, eventSummary, type FeedItem } from '../live.ts';
import { formatUsd } from '../money.ts';
import { AlertLine, MoreRows } from '../ui/feedback.tsx';
import { When } from '../ui/labels.tsx';
import { DataTable } from '../ui/tables.tsx';
import type { Detail } from './sub-account.tsx';

// What happened to a sub-account: its budget events (stored and live) and its latest requests —
// the first page (newest first) of each of the two connections.

export function BudgetEvents({
  stored,
  live,
  id,
}: {
  /** The first page of its stored events (or the typed error the list answered). */
  stored: Detail['budgetEvents'];
  live: FeedItem[];
  id: string;
}) {
  const rows = useMemo(() => {
    const seen = new Set<string>();
    const out: Array<{ id: string; type: string; text: string; at: string; fresh: boolean }> = [];
    for (const f of live) {
      if (f.kind !== 'event' || f.event.subAccountId !== id || seen.has(f.event.id)) continue;
      seen.add(f.event.id);
      out.push({
        id: f.event.id,
        type: f.event.type,
        text: eventDetail(f.event.type, eventSummary(f.event)),
        at: f.at,
        fresh: true,
      });
    }
    for (const e of nodesOf(stored)) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      const text = eventDetail(e.type, eventSummary(e));
      out.push({ id: e.id, type: e.type, text, at: e.createdAt, fresh: false });
    }
    return out.sort((a, b) => b.at.localeCompare(a.at));
  }, [stored, live, id]);
  const empty = listPlaceholder({}, stored, rows.length, {
    what: 'the budget events',
    empty: 'No budget events yet.',
  });
  return (
    <section aria-labelledby="ev-h">
      <h2 id="ev-h">Budget events</h2>
      <AlertLine text={listError(stored)} />
      <ul className="events" aria-live="polite" aria-relevant="additions">
        {empty ? <li className="muted">{empty}</li> : null}
        {rows.map((r) => (
          <li key={r.id} className={`event event-${r.type}${r.fresh ? ' fresh' : ''}`}>
            <span className={`badge badge-${r.type}`}>{r.type}</span> {r.text} <When iso={r.at} />
          </li>
        ))}
      </ul>
      <MoreRows more={hasMore(stored)} shown={nodesOf(stored).length} />
    </section>
  );
}

export function RecentRequests({ list }: { list: Detail['recentRequests'] }) {
  const rows = nodesOf(list);
  return (
    <section aria-labelledby="rq-h">
      <h2 id="rq-h">Recent requests</h2>
      <AlertLine text={listError(list)} />
      <MoreRows more={hasMore(list)} shown={rows.length} />
      <DataTable
        columns={[
          'Started',
          'Status',
          'Model',
          { label: 'Tokens in / out', className: 'num' },
          { label: 'Cost', className: 'num' },
          { label: 'Latency', className: 'num' },
        ]}
        empty={listPlaceholder({}, list, rows.length, {
          what: 'the requests',
          empty: 'No requests yet.',
        })}
      >
        {rows.map((r) => (
          <tr key={r.requestId}>
            <td>
              <When iso={r.startedAt} />
            </td>
            <td>
              <span className={`badge badge-${r.status}`}>{r.httpStatus}</span>{' '}
              <span className="small">{r.errorClass ?? r.status}</span>
            </td>
            <td className="mono small">{r.model}</td>
            <td className="num">
              {r.inputTokens.toLocaleString('en-US')} / {r.outputTokens.toLocaleString('en-US')}
            </td>
            <td className="num">{formatUsd(r.costCents)}</td>
            <td className="num">{r.latencyMs.toLocaleString('en-US')} ms</td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
