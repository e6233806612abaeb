import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { changedSettings, parseFallback, planSources } from '../billing.ts';
import { fillDays } from '../chart.ts';
import { describeError, resultError } from '../errors.ts';
import {
  CreateSubAccountKeyMutationDocument,
  DeleteSubAccountMutationDocument,
  RevokeSubAccountKeyMutationDocument,
  type SubAccountDetailQuery,
  SubAccountDetailQueryDocument,
  UpdateSubAccountMutationDocument,
} from '../generated/graphql.ts';
import { eventSummary, type FeedItem, knownNames } from '../live.ts';
import { formatUsd } from '../money.ts';
import { parseSettings, type SettingsForm, settingsOf } from '../settings.ts';
import { DailyChart, ModelBars, SpendMeter } from '../ui/charts.tsx';
import { AlertLine, Notice, OnceSecret } from '../ui/feedback.tsx';
import { StatusBadge, When } from '../ui/labels.tsx';
import { useLive } from '../ui/live-context.ts';
import { DataTable } from '../ui/tables.tsx';
import { Balance } from './balance.tsx';
import { BillingFields, type BillingForm, limitsText, SettingsFields } from './sub-accounts.tsx';

const WINDOWS = { '24h': 1, '7d': 7, '30d': 30 } as const;
type Window = keyof typeof WINDOWS;

type Detail = Extract<SubAccountDetailQuery['subAccount'], { __typename: 'SubAccount' }>;

export function SubAccountPage({ id, report }: { id: string; report: Report }) {
  const [range, setRange] = useState<Window>('7d');
  const [result, reexecute] = useQuery({
    query: SubAccountDetailQueryDocument,
    variables: { id, window: range },
  });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  const { live } = useLive();
  // Live: each spend update or budget event of this sub-account refreshes the page's numbers,
  // at most once a second.
  const liveSpend = live.spend[id];
  const lastEvent = live.feed.find((f) => f.kind === 'event' && f.event.subAccountId === id);
  const trigger = `${liveSpend?.at ?? ''}|${lastEvent?.key ?? ''}`;
  const lastRefresh = useRef(0);
  useEffect(() => {
    if (trigger === '|') return;
    const wait = Math.max(0, lastRefresh.current + 1_000 - Date.now());
    const t = setTimeout(() => {
      lastRefresh.current = Date.now();
      reexecute({ requestPolicy: 'network-only' });
    }, wait);
    return () => clearTimeout(t);
  }, [trigger, reexecute]);

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
  const usage = result.data?.subAccountUsage;
  const report_ = usage?.__typename === 'UsageReport' ? usage : null;
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
      <div className="cards">
        <div className="card wide">
          <h2>Spend this period ({sa.budgetPeriod})</h2>
          <SpendMeter
            spentCents={spent}
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
      {sa.prepaid ? (
        <Balance
          id={sa.id}
          refresh={trigger}
          report={report}
          onToppedUp={() => reexecute({ requestPolicy: 'network-only' })}
        />
      ) : null}

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
      {report_ ? (
        <>
          <p className="summary">
            <strong>{formatUsd(report_.summary.costCents)}</strong> ·{' '}
            <span data-testid="request-count">{report_.summary.requests}</span> requests ·{' '}
            {report_.summary.inputTokens.toLocaleString('en-US')} in /{' '}
            {report_.summary.outputTokens.toLocaleString('en-US')} out tokens ·{' '}
            {report_.summary.errors} errors · {report_.summary.blocked} blocked
          </p>
          <div className="cards">
            <div className="card wide">
              <DailyChart
                days={fillDays(
                  report_.byDay,
                  WINDOWS[range] === 1 ? 2 : WINDOWS[range],
                  new Date(),
                )}
              />
            </div>
            <div className="card">
              <ModelBars rows={report_.byModel} />
            </div>
          </div>
        </>
      ) : usage ? (
        <p className="alert" role="alert">
          {'message' in usage ? usage.message : 'Usage is unavailable.'}
        </p>
      ) : null}

      <BudgetEvents stored={sa.budgetEvents} live={live.feed} id={id} />
      <RecentRequests rows={sa.recentRequests} />
      <Keys sa={sa} report={report} />
      <PlanSources sa={sa} report={report} />
      <EditSettings key={sa.id} sa={sa} report={report} />
    </section>
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

function BudgetEvents({
  stored,
  live,
  id,
}: {
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
        text: eventSummary(f.event),
        at: f.at,
        fresh: true,
      });
    }
    for (const e of stored) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      const text = eventSummary(e);
      out.push({ id: e.id, type: e.type, text, at: e.createdAt, fresh: false });
    }
    return out.sort((a, b) => b.at.localeCompare(a.at));
  }, [stored, live, id]);
  return (
    <section aria-labelledby="ev-h">
      <h2 id="ev-h">Budget events</h2>
      <ul className="events" aria-live="polite" aria-relevant="additions">
        {rows.length === 0 ? <li className="muted">No budget events yet.</li> : null}
        {rows.map((r) => (
          <li key={r.id} className={`event event-${r.type}${r.fresh ? ' fresh' : ''}`}>
            <span className={`badge badge-${r.type}`}>{r.type}</span> {r.text} <When iso={r.at} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function RecentRequests({ rows }: { rows: Detail['recentRequests'] }) {
  return (
    <section aria-labelledby="rq-h">
      <h2 id="rq-h">Recent requests</h2>
      <DataTable
        columns={[
          'Started',
          'Status',
          'Model',
          { label: 'Tokens in / out', className: 'num' },
          { label: 'Cost', className: 'num' },
          { label: 'Latency', className: 'num' },
        ]}
        empty={rows.length === 0 ? 'No requests yet.' : null}
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

function Keys({ sa, report }: { sa: Detail; report: Report }) {
  const [, createKey] = useMutation(CreateSubAccountKeyMutationDocument);
  const [, revoke] = useMutation(RevokeSubAccountKeyMutationDocument);
  const [secret, setSecret] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const rotate = async () => {
    const r = await createKey({ subAccountId: sa.id });
    report(describeError(r.error));
    const out = r.data?.createSubAccountKey;
    const err = resultError(out);
    if (err) setMessage(err);
    else if (out?.__typename === 'CreateSubAccountKeyPayload') {
      setSecret(out.plaintext);
      setMessage(
        `New key ${out.key.prefix}… created; older keys keep working until you revoke them.`,
      );
    }
  };
  const revokeKey = async (keyId: string, prefix: string) => {
    if (!window.confirm(`Revoke key ${prefix}…? Requests with it are refused within a second.`))
      return;
    const r = await revoke({ subAccountId: sa.id, keyId });
    report(describeError(r.error));
    setMessage(
      resultError(r.data?.revokeSubAccountKey) ?? (r.error ? null : `Key ${prefix}… revoked.`),
    );
  };
  const now = Date.now();
  return (
    <section aria-labelledby="keys-h">
      <div className="section-head">
        <h2 id="keys-h">API keys</h2>
        {sa.status !== 'deleted' ? (
          <button type="button" onClick={rotate}>
            Create key (rotate)
          </button>
        ) : null}
      </div>
      {secret ? (
        <OnceSecret label="New API key" secret={secret} onDone={() => setSecret(null)} />
      ) : null}
      {message ? <Notice>{message}</Notice> : null}
      <DataTable columns={['Prefix', 'Created', 'Expires', 'State']} actions>
        {sa.keys.map((k) => {
          const expired = k.expiresAt !== null && Date.parse(k.expiresAt) <= now;
          const state = k.revokedAt ? 'revoked' : expired ? 'expired' : 'active';
          return (
            <tr key={k.id}>
              <td className="mono">{k.prefix}…</td>
              <td>
                <When iso={k.createdAt} />
              </td>
              <td>
                <When iso={k.expiresAt} />
              </td>
              <td>
                <StatusBadge status={state} />
              </td>
              <td>
                {state === 'active' ? (
                  <button
                    type="button"
                    className="danger small"
                    onClick={() => revokeKey(k.id, k.prefix)}
                  >
                    Revoke <span className="sr-only">key {k.prefix}</span>
                  </button>
                ) : null}
              </td>
            </tr>
          );
        })}
      </DataTable>
    </section>
  );
}

function EditSettings({ sa, report }: { sa: Detail; report: Report }) {
  const [base, setBase] = useState<SettingsForm>(() => settingsOf(sa));
  const [form, setForm] = useState<SettingsForm>(base);
  const billingOf = (d: Detail): BillingForm => ({
    plan: d.plan?.name ?? '',
    fallback: d.fallbackModel ?? '',
    prepaid: d.prepaid,
  });
  const [billingBase, setBillingBase] = useState<BillingForm>(() => billingOf(sa));
  const [billing, setBilling] = useState<BillingForm>(billingBase);
  const [errors, setErrors] = useState<Partial<Record<keyof SettingsForm | 'fallback', string>>>(
    {},
  );
  const [message, setMessage] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [state, update] = useMutation(UpdateSubAccountMutationDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseSettings(form);
    const before = parseSettings(base);
    const fallback = parseFallback(billing.fallback);
    setMessage(null);
    if (!parsed.ok || !fallback.ok) {
      setErrors({
        ...(parsed.ok ? {} : parsed.errors),
        ...(fallback.ok ? {} : { fallback: fallback.error }),
      });
      setProblem('Fix the marked fields; nothing was changed.');
      return;
    }
    setErrors({});
    // Only what changed: an untouched field of a sub-account on a plan keeps following the plan.
    const input: Record<string, unknown> = before.ok
      ? changedSettings(before.input, parsed.input)
      : { ...parsed.input };
    if (billing.plan !== billingBase.plan) input.plan = billing.plan || null;
    if (billing.fallback.trim() !== billingBase.fallback) input.fallbackModel = fallback.value;
    if (billing.prepaid !== billingBase.prepaid) {
      input.prepaid = billing.prepaid;
      if (billing.prepaid) delete input.spendCapCents;
    }
    if (Object.keys(input).length === 0) {
      setProblem(null);
      setMessage('Nothing changed.');
      return;
    }
    const r = await update({ id: sa.id, input });
    report(describeError(r.error));
    const err = resultError(r.data?.updateSubAccount);
    setProblem(err);
    if (!err && !r.error) {
      setBase(form);
      setBillingBase(billing);
      setMessage('Saved. Data planes apply it within a second.');
    }
  };
  if (sa.status === 'deleted') return null;
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby="edit-h">
      <h2 id="edit-h">Settings</h2>
      <SettingsFields
        form={form}
        setForm={setForm}
        errors={errors}
        capHint={billing.prepaid ? 'Prepaid: the cap is its credits' : 'Empty = no cap'}
        capDisabled={billing.prepaid && billingBase.prepaid}
      />
      <BillingFields
        form={billing}
        setForm={setBilling}
        errors={errors}
        idPrefix="edit"
        planHint="Settings you change here override the plan"
      />
      <AlertLine text={problem} />
      {message ? <Notice>{message}</Notice> : null}
      <button type="submit" disabled={state.fetching}>
        {state.fetching ? 'Saving…' : 'Save settings'}
      </button>
    </form>
  );
}

/** On a plan: which settings come from it, and "follow the plan again" for an overridden one. */
function PlanSources({ sa, report }: { sa: Detail; report: Report }) {
  const [state, update] = useMutation(UpdateSubAccountMutationDocument);
  const [message, setMessage] = useState<string | null>(null);
  if (!sa.plan) return null;
  const rows = planSources(sa.inheritedFromPlan, sa.prepaid);
  const follow = async (api: string, label: string) => {
    const r = await update({ id: sa.id, input: { inherit: [api] } });
    report(describeError(r.error));
    setMessage(
      resultError(r.data?.updateSubAccount) ??
        (r.error ? null : `${label} follows plan ${sa.plan?.name} again.`),
    );
  };
  return (
    <section aria-labelledby="plan-h" className="panel">
      <h2 id="plan-h">
        Plan <a href="#/plans">{sa.plan.name}</a>
      </h2>
      <p className="muted small">
        Settings from the plan follow it; the sub-account’s own settings override it.
      </p>
      <ul className="sources">
        {rows.map((r) => (
          <li key={r.api} data-setting={r.api}>
            <span>{r.label}</span>
            {r.source === 'plan' ? (
              <span className="badge badge-plan">from plan</span>
            ) : (
              <span className="badge badge-own">own</span>
            )}
            {r.canInherit ? (
              <button
                type="button"
                className="link"
                disabled={state.fetching}
                onClick={() => follow(r.api, r.label)}
              >
                Follow the plan again <span className="sr-only">for {r.label}</span>
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {message ? <Notice>{message}</Notice> : null}
    </section>
  );
}
