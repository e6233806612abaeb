import { useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { fillDays } from '../chart.ts';
import { describeError, resultError } from '../errors.ts';
import {
  DeleteSubAccountMutationDocument,
  type SubAccountDetailQuery,
  SubAccountDetailQueryDocument,
  UpdateSubAccountMutationDocument,
} from '../generated/graphql.ts';
import { knownNames } from '../live.ts';
import { formatUsd } from '../money.ts';
import { limitsText } from '../settings.ts';
import { DailyChart, ModelBars, SpendMeter } from '../ui/charts.tsx';
import { Notice } from '../ui/feedback.tsx';
import { StatusBadge, When } from '../ui/labels.tsx';
import { useLive, useLiveRefetch } from '../ui/live-context.ts';
import { Balance } from './balance.tsx';
import { BudgetEvents, RecentRequests } from './sub-account-activity.tsx';
import { Keys } from './sub-account-keys.tsx';
import { EditSettings, PlanSources } from './sub-account-settings.tsx';

const WINDOWS = { '24h': 1, '7d': 7, '30d': 30 } as const;
type Window = keyof typeof WINDOWS;

/** The sub-account of the detail query, when it was found. */
export type Detail = Extract<SubAccountDetailQuery['subAccount'], { __typename: 'SubAccount' }>;
type Usage = SubAccountDetailQuery['subAccountUsage'];

/**
 * Live: each spend update or budget event of this sub-account refreshes the page's numbers, at most
 * once a second (and so does the live connection coming back). `trigger` changes with each of them
 * ("|" before the first).
 */
function useLiveRefresh(id: string, reexecute: (opts: { requestPolicy: 'network-only' }) => void) {
  const { live } = useLive();
  const liveSpend = live.spend[id];
  const lastEvent = live.feed.find((f) => f.kind === 'event' && f.event.subAccountId === id);
  const trigger = `${liveSpend?.at ?? ''}|${lastEvent?.key ?? ''}`;
  useLiveRefetch(reexecute, trigger);
  return { trigger, liveSpend, feed: live.feed };
}

export function SubAccountPage({ id, report }: { id: string; report: Report }) {
  const [range, setRange] = useState<Window>('7d');
  const [result, reexecute] = useQuery({
    query: SubAccountDetailQueryDocument,
    variables: { id, window: range },
  });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  // `reexecute` is stable across renders, so the refresh effect runs only when `trigger` changes.
  const { trigger, liveSpend, feed } = useLiveRefresh(id, reexecute);
  // After a change whose answer does not carry everything the page shows (a new key, a setting
  // that follows the plan again): load the sub-account again.
  const refresh = () => reexecute({ requestPolicy: 'network-only' });

  const sa = result.data?.subAccount;
  if (sa?.__typename === 'SubAccount') knownNames.set(sa.id, sa.name);
  if (!sa) {
    return result.fetching ? <p aria-busy="true">Loading…</p> : null;
  }
  if (sa.__typename !== 'SubAccount') {
    return (
      <section>
        <h1>Sub-account not found</h1>
        <p>
          {sa.message}. <a href="#/sub-accounts">Back to sub-accounts</a>
        </p>
      </section>
    );
  }
  const spent = liveSpend ? Math.max(liveSpend.spentCents, sa.spentCents) : sa.spentCents;
  return (
    <section aria-labelledby="detail-h" className="detail">
      <p className="crumbs">
        <a href="#/sub-accounts">Sub-accounts</a> / {sa.name}
      </p>
      <div className="page-head">
        <h1 id="detail-h">
          {sa.name} <StatusBadge status={sa.status} />
        </h1>
        <StatusActions sa={sa} report={report} />
      </div>
      <OverviewCards sa={sa} spentCents={spent} />
      {sa.prepaid ? (
        <Balance
          id={sa.id}
          lowBalanceThresholdCents={sa.lowBalanceThresholdCents ?? null}
          refresh={trigger}
          report={report}
          onToppedUp={refresh}
        />
      ) : null}
      <UsageSection range={range} setRange={setRange} usage={result.data?.subAccountUsage} />
      <BudgetEvents stored={sa.budgetEvents} live={feed} id={id} />
      <RecentRequests list={sa.recentRequests} />
      <Keys sa={sa} report={report} onChanged={refresh} />
      <PlanSources sa={sa} report={report} onChanged={refresh} />
      <EditSettings key={sa.id} sa={sa} report={report} />
    </section>
  );
}

/** Spend this period against the cap, and the limits and billing settings in force. */
function OverviewCards({ sa, spentCents }: { sa: Detail; spentCents: number }) {
  return (
    <div className="cards">
      <div className="card wide">
        <h2>Spend this period ({sa.budgetPeriod})</h2>
        <SpendMeter
          spentCents={spentCents}
          reservedCents={sa.reservedCents}
          capCents={sa.spendCapCents}
        />
        <p className="muted small">
          Reserved in flight {formatUsd(sa.reservedCents)} · resets <When iso={sa.resetsAt} />
        </p>
      </div>
      <div className="card">
        <h2>Limits</h2>
        <p>{limitsText(sa)}</p>
        <p className="small">
          Models: {sa.allowedModels.length ? sa.allowedModels.join(', ') : 'every priced model'}
        </p>
        <p className="small">Default tag: {sa.defaultTag ?? '—'}</p>
        <p className="small">Fallback model: {sa.fallbackModel ?? '—'}</p>
        <p className="small">
          Plan: {sa.plan ? <a href="#/plans">{sa.plan.name}</a> : 'none'}
          {sa.prepaid ? ' · prepaid' : ''}
        </p>
      </div>
    </div>
  );
}

/** The usage report of a window: summary line, spend by day and spend by model. */
function UsageSection({
  range,
  setRange,
  usage,
}: {
  range: Window;
  setRange: (w: Window) => void;
  usage: Usage | undefined;
}) {
  const report = usage?.__typename === 'UsageReport' ? usage : null;
  return (
    <>
      <div className="section-head">
        <h2>Usage</h2>
        <div className="field inline">
          <label htmlFor="usage-window">Window</label>
          <select
            id="usage-window"
            value={range}
            onChange={(e) => setRange(e.target.value as Window)}
          >
            <option value="24h">last 24 hours</option>
            <option value="7d">last 7 days</option>
            <option value="30d">last 30 days</option>
          </select>
        </div>
      </div>
      {report ? (
        <>
          <p className="summary">
            <strong>{formatUsd(report.summary.costCents)}</strong> ·{' '}
            <span data-testid="request-count">{report.summary.requests}</span>{' '}
            {report.summary.requests === 1 ? 'request' : 'requests'} ·{' '}
            {report.summary.inputTokens.toLocaleString('en-US')} in /{' '}
            {report.summary.outputTokens.toLocaleString('en-US')} out tokens ·{' '}
            {report.summary.errors} {report.summary.errors === 1 ? 'error' : 'errors'} ·{' '}
            {report.summary.blocked} blocked
          </p>
          <div className="cards">
            <div className="card wide">
              <DailyChart
                days={fillDays(report.byDay, WINDOWS[range] === 1 ? 2 : WINDOWS[range], new Date())}
              />
            </div>
            <div className="card">
              <ModelBars rows={report.byModel} />
            </div>
          </div>
        </>
      ) : usage ? (
        <p className="alert" role="alert">
          {'message' in usage ? usage.message : 'Usage is unavailable.'}
        </p>
      ) : null}
    </>
  );
}

function StatusActions({ sa, report }: { sa: Detail; report: Report }) {
  const [state, update] = useMutation(UpdateSubAccountMutationDocument);
  const [delState, del] = useMutation(DeleteSubAccountMutationDocument);
  const [message, setMessage] = useState<string | null>(null);
  const setStatus = async (status: 'active' | 'suspended') => {
    const r = await update({ id: sa.id, input: { status } });
    report(describeError(r.error));
    setMessage(resultError(r.data?.updateSubAccount) ?? (r.error ? null : `Now ${status}.`));
  };
  const remove = async () => {
    if (!window.confirm(`Delete ${sa.name}? Its keys stop working at once; its usage stays.`))
      return;
    const r = await del({ id: sa.id });
    report(describeError(r.error));
    setMessage(resultError(r.data?.deleteSubAccount) ?? (r.error ? null : 'Deleted.'));
  };
  if (sa.status === 'deleted') return null;
  return (
    <div className="actions">
      {sa.status === 'active' ? (
        <button
          type="button"
          className="warn"
          disabled={state.fetching}
          onClick={() => setStatus('suspended')}
        >
          Suspend
        </button>
      ) : (
        <button type="button" disabled={state.fetching} onClick={() => setStatus('active')}>
          Resume
        </button>
      )}
      <button type="button" className="danger" disabled={delState.fetching} onClick={remove}>
        Delete
      </button>
      {message ? <Notice>{message}</Notice> : null}
    </div>
  );
}
