import { useEffect, useState } from 'react';
import { useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { subAccountsEmptyText } from '../connection.ts';
import { describeError } from '../errors.ts';
import {
  type SubAccountStatus,
  type SubAccountsQuery,
  SubAccountsQueryDocument,
} from '../generated/graphql.ts';
import { knownNames } from '../live.ts';
import { formatUsd } from '../money.ts';
import { limitsText } from '../settings.ts';
import { SpendMeter } from '../ui/charts.tsx';
import { OnceSecret } from '../ui/feedback.tsx';
import { LabelledInput } from '../ui/forms.tsx';
import { StatusBadge } from '../ui/labels.tsx';
import { useLive, useLiveRefetch } from '../ui/live-context.ts';
import { Pager } from '../ui/tables.tsx';
import { CreateSubAccount } from './create-sub-account.tsx';

const PAGE_SIZE = 50;

type Page = Extract<SubAccountsQuery['subAccounts'], { __typename: 'SubAccountConnection' }>;
type Edge = Page['edges'][number];

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/**
 * One page of the sub-account list for a search and a status filter, with forward/back paging.
 * `current` is false while the shown rows are another page's (urql keeps them while loading).
 */
function useSubAccountPages(search: string, status: SubAccountStatus | '', report: Report) {
  // Cursors of the pages before the current one: forward pages from the API, back by the stack.
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const after = cursors[cursors.length - 1] ?? null;
  // A new search or filter starts again at the first page.
  const [filterKey, setFilterKey] = useState(`${search}|${status}`);
  if (filterKey !== `${search}|${status}`) {
    setFilterKey(`${search}|${status}`);
    setCursors([null]);
  }
  const [result, reexecute] = useQuery({
    query: SubAccountsQueryDocument,
    variables: { first: PAGE_SIZE, after, search: search || null, status: status || null },
  });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  // Spend moves live from the subscription; what is reserved comes with the list: reloaded as spend
  // updates arrive (at most once a second), so a settled request's reservation leaves the row.
  const { live } = useLive();
  useLiveRefetch(reexecute, String(live.counts.spend));
  // urql keeps showing the previous page while the next one loads: say so rather than mislabel it.
  const vars = result.operation?.variables as
    | { after?: string | null; search?: string | null; status?: string | null }
    | undefined;
  const current =
    (result.data !== undefined || result.error !== undefined) &&
    (vars?.after ?? null) === after &&
    (vars?.search ?? null) === (search || null) &&
    (vars?.status ?? null) === (status || null);
  const answer = result.data?.subAccounts;
  const page = answer?.__typename === 'SubAccountConnection' ? answer : null;
  const edges = page?.edges ?? [];
  for (const { node } of edges) knownNames.set(node.id, node.name);
  return {
    edges,
    current,
    failed: result.error !== undefined,
    page: cursors.length,
    hasNext: Boolean(current && page?.pageInfo.hasNextPage),
    previous: () => setCursors((c) => c.slice(0, -1)),
    next: () => {
      const end = page?.pageInfo.endCursor;
      if (end) setCursors((c) => [...c, end]);
    },
    refresh: () => reexecute({ requestPolicy: 'network-only' }),
  };
}

export function SubAccountsPage({ report }: { report: Report }) {
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState<SubAccountStatus | ''>('');
  const debounced = useDebounced(search.trim(), 300);
  const list = useSubAccountPages(debounced, status, report);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ id: string; name: string; key: string } | null>(null);
  return (
    <section aria-labelledby="sa-h">
      <div className="page-head">
        <h1 id="sa-h">Sub-accounts</h1>
        <button type="button" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? 'Close form' : 'New sub-account'}
        </button>
      </div>
      {created ? <CreatedKey created={created} onDone={() => setCreated(null)} /> : null}
      {creating ? (
        <CreateSubAccount
          onCreated={(c) => {
            setCreated(c);
            setCreating(false);
            list.refresh();
          }}
        />
      ) : null}
      <Filters search={search} setSearch={setSearch} status={status} setStatus={setStatus} />
      <SubAccountsTable
        edges={list.edges}
        page={list.page}
        current={list.current}
        empty={
          list.failed
            ? 'Could not load sub-accounts (see the message above).'
            : subAccountsEmptyText(debounced, status)
        }
      />
      <Pager
        label="Pages"
        previousLabel="Previous page"
        nextLabel="Next page"
        canPrevious={list.page !== 1}
        canNext={list.hasNext}
        onPrevious={list.previous}
        onNext={list.next}
      >
        {list.current
          ? `Page ${list.page} · ${list.edges.length} shown`
          : `Loading page ${list.page}…`}
      </Pager>
    </section>
  );
}

function SubAccountsTable({
  edges,
  page,
  current,
  empty,
}: {
  edges: Edge[];
  page: number;
  current: boolean;
  /** What an empty (current) page says. */
  empty: string;
}) {
  return (
    <div className="table-wrap">
      <table className="data">
        <caption className="sr-only">Sub-accounts, page {page}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Plan</th>
            <th scope="col" className="w-meter">
              Spend vs cap
            </th>
            <th scope="col">Reserved</th>
            <th scope="col">Limits</th>
            <th scope="col">Default tag</th>
          </tr>
        </thead>
        <tbody aria-busy={!current} className={current ? undefined : 'loading'}>
          {edges.map(({ node }) => (
            <SubAccountRow key={node.id} node={node} />
          ))}
          {current && edges.length === 0 ? (
            <tr>
              <td colSpan={7} className="muted">
                {empty}
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}

function SubAccountRow({ node }: { node: Edge['node'] }) {
  const { live } = useLive();
  const liveSpend = live.spend[node.id];
  const spent = liveSpend ? Math.max(liveSpend.spentCents, node.spentCents) : node.spentCents;
  return (
    <tr>
      <td>
        <a href={`#/sub-accounts/${node.id}`}>{node.name}</a>
        <div className="muted mono small">{node.id}</div>
      </td>
      <td>
        <StatusBadge status={node.status} />
      </td>
      <td>
        {node.plan ? <a href="#/plans">{node.plan.name}</a> : <span className="muted">—</span>}
      </td>
      <td>
        <SpendMeter
          compact
          spentCents={spent}
          reservedCents={node.reservedCents}
          capCents={node.spendCapCents}
        />
        <div className="muted small">{node.budgetPeriod}</div>
      </td>
      <td className="num">{formatUsd(node.reservedCents)}</td>
      <td className="small">{limitsText(node)}</td>
      <td>{node.defaultTag ?? <span className="muted">—</span>}</td>
    </tr>
  );
}

/** The key of the sub-account just created, shown once, with the way to its page. */
function CreatedKey({
  created,
  onDone,
}: {
  created: { id: string; name: string; key: string };
  onDone: () => void;
}) {
  return (
    <div className="created">
      <OnceSecret label={`API key of ${created.name}`} secret={created.key} onDone={onDone} />
      <p>
        <a href={`#/sub-accounts/${created.id}`}>Open {created.name}</a>
      </p>
    </div>
  );
}

/** Search by name and filter by status; a change starts again at the first page. */
function Filters({
  search,
  setSearch,
  status,
  setStatus,
}: {
  search: string;
  setSearch: (s: string) => void;
  status: SubAccountStatus | '';
  setStatus: (s: SubAccountStatus | '') => void;
}) {
  return (
    <form className="filters" aria-label="Find sub-accounts" onSubmit={(e) => e.preventDefault()}>
      <LabelledInput
        id="sa-search"
        label="Search by name"
        type="search"
        value={search}
        onChange={(e) => setSearch(e.target.value)}
        placeholder="acme"
      />
      <div className="field">
        <label htmlFor="sa-status">Status</label>
        <select
          id="sa-status"
          value={status}
          onChange={(e) => setStatus(e.target.value as SubAccountStatus | '')}
        >
          <option value="">any status</option>
          <option value="active">active</option>
          <option value="suspended">suspended</option>
          <option value="deleted">deleted</option>
        </select>
      </div>
    </form>
  );
}
