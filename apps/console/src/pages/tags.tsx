import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { hasMore, listError, listPlaceholder, type NodeOf, nodesOf } from '../connection.ts';
import { describeError, resultError } from '../errors.ts';
import {
  type BudgetPeriod,
  CreateBudgetMutationDocument,
  DeleteBudgetMutationDocument,
  type TagSpendQuery,
  TagSpendQueryDocument,
  UpdateBudgetMutationDocument,
} from '../generated/graphql.ts';
import { centsToDollarInput, formatUsd, monthOf, parseDollars, shiftMonth } from '../money.ts';
import { SpendMeter } from '../ui/charts.tsx';
import { AlertLine, MoreRows, Notice } from '../ui/feedback.tsx';
import { ConfirmButton, LabelledInput, PeriodOptions } from '../ui/forms.tsx';
import { useLive, useLiveRefetch } from '../ui/live-context.ts';
import { DataTable } from '../ui/tables.tsx';
import { BillingExport } from './billing-export.tsx';

type TagUsage = Extract<
  TagSpendQuery['usageByTag'],
  { __typename: 'QueryUsageByTagSuccess' }
>['data'][number];
type TagBudget = NodeOf<TagSpendQuery['budgets']>;

/** Spend by tag of a UTC month, its billing export, and the tag budgets. */
export function TagsPage({ report }: { report: Report }) {
  const [month, setMonth] = useState(() => monthOf(new Date()));
  const [result, reexecute] = useQuery({ query: TagSpendQueryDocument, variables: { month } });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  // Live: any settled spend (the updates do not say its tags) or budget event reloads the tag
  // spend, at most once a second — like the sub-account pages.
  const { live } = useLive();
  useLiveRefetch(reexecute, `${live.counts.spend}|${live.counts.events}`);
  const budgets = nodesOf(result.data?.budgets);
  const byTag = result.data?.usageByTag;
  const usage = byTag?.__typename === 'QueryUsageByTagSuccess' ? byTag.data : [];
  const refresh = () => reexecute({ requestPolicy: 'network-only' });
  const usageEmpty = listPlaceholder(result, byTag, usage.length, {
    what: 'the spend by tag',
    empty: `No tagged spend in ${month}.`,
  });
  const budgetsEmpty = listPlaceholder(result, result.data?.budgets, budgets.length, {
    what: 'the tag budgets',
    empty: 'No tag budgets.',
  });
  return (
    <section aria-labelledby="tags-h">
      <h1 id="tags-h">Spend by tag</h1>
      <div className="filters">
        <button type="button" className="secondary" onClick={() => setMonth(shiftMonth(month, -1))}>
          Previous month
        </button>
        <LabelledInput
          id="tag-month"
          label="Month (UTC)"
          type="month"
          value={month}
          onChange={(e) => /^\d{4}-\d{2}$/.test(e.target.value) && setMonth(e.target.value)}
        />
        <button type="button" className="secondary" onClick={() => setMonth(shiftMonth(month, 1))}>
          Next month
        </button>
      </div>
      <AlertLine text={listError(byTag) ?? listError(result.data?.budgets)} />
      <TagSpendTable usage={usage} budgets={budgets} empty={usageEmpty} />
      <BillingExport month={month} report={report} />
      <h2>Tag budgets</h2>
      <MoreRows more={hasMore(result.data?.budgets)} shown={200} />
      <TagBudgets budgets={budgets} empty={budgetsEmpty} report={report} onChanged={refresh} />
      <CreateBudget report={report} onDone={refresh} />
    </section>
  );
}

function TagSpendTable({
  usage,
  budgets,
  empty,
}: {
  usage: TagUsage[];
  budgets: TagBudget[];
  empty: string | null;
}) {
  const budgetOf = new Map(budgets.map((b) => [b.tag, b]));
  return (
    <DataTable
      columns={[
        'Tag',
        { label: 'Requests', className: 'num' },
        { label: 'Tokens in / out', className: 'num' },
        { label: 'Spend', className: 'num' },
        { label: 'Monthly tag budget', className: 'w-meter' },
      ]}
      empty={empty}
    >
      {usage.map((u) => (
        <tr key={u.tag}>
          <td>{u.tag}</td>
          <td className="num">{u.requests.toLocaleString('en-US')}</td>
          <td className="num">
            {u.inputTokens.toLocaleString('en-US')} / {u.outputTokens.toLocaleString('en-US')}
          </td>
          <td className="num">{formatUsd(u.costCents)}</td>
          <td>
            <TagBudgetCell budget={budgetOf.get(u.tag)} spentCents={u.costCents} />
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

/** A monthly budget as a meter of the month's spend; another period as its cap; none as a dash. */
function TagBudgetCell({ budget, spentCents }: { budget?: TagBudget; spentCents: number }) {
  if (budget && budget.period === 'monthly') {
    return (
      <SpendMeter compact spentCents={spentCents} reservedCents={0} capCents={budget.capCents} />
    );
  }
  if (budget) {
    return (
      <span className="small">
        {formatUsd(budget.capCents)} {budget.period}
      </span>
    );
  }
  return <span className="muted">—</span>;
}

function TagBudgets({
  budgets,
  empty,
  report,
  onChanged,
}: {
  budgets: TagBudget[];
  empty: string | null;
  report: Report;
  onChanged: () => void;
}) {
  const [, del] = useMutation(DeleteBudgetMutationDocument);
  const [message, setMessage] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const editingBudget = budgets.find((b) => b.id === editing) ?? null;
  return (
    <>
      {message ? <Notice>{message}</Notice> : null}
      <DataTable
        columns={['Tag', { label: 'Cap', className: 'num' }, 'Period']}
        actions
        empty={empty}
      >
        {budgets.map((b) => (
          <tr key={b.id}>
            <td>{b.tag}</td>
            <td className="num">{formatUsd(b.capCents)}</td>
            <td>{b.period}</td>
            <td className="row-actions">
              <button
                type="button"
                className="secondary small"
                aria-expanded={editing === b.id}
                onClick={() => setEditing(editing === b.id ? null : b.id)}
              >
                Edit <span className="sr-only">budget {b.tag}</span>
              </button>
              <ConfirmButton
                question={`Delete the budget of tag ${b.tag}?`}
                onConfirm={async () => {
                  const r = await del({ id: b.id });
                  report(describeError(r.error));
                  setMessage(resultError(r.data?.deleteBudget) ?? `Budget of ${b.tag} deleted.`);
                  onChanged();
                }}
              >
                Delete <span className="sr-only">budget {b.tag}</span>
              </ConfirmButton>
            </td>
          </tr>
        ))}
      </DataTable>
      {editingBudget ? (
        <EditBudget
          key={editingBudget.id}
          budget={editingBudget}
          report={report}
          onDone={(text) => {
            setEditing(null);
            setMessage(text);
            onChanged();
          }}
        />
      ) : null}
    </>
  );
}

/** A budget's cap and period changed in place: the tag stays capped throughout. */
function EditBudget({
  budget,
  report,
  onDone,
}: {
  budget: TagBudget;
  report: Report;
  onDone: (message: string) => void;
}) {
  const [cap, setCap] = useState(() => centsToDollarInput(budget.capCents));
  const [period, setPeriod] = useState<BudgetPeriod>(budget.period);
  const [problem, setProblem] = useState<string | null>(null);
  const [state, update] = useMutation(UpdateBudgetMutationDocument);
  const headingId = `tb-edit-h-${budget.id}`;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const c = parseDollars(cap);
    if (!c.ok || c.value === null)
      return setProblem(`Cap ${c.ok ? 'is required' : c.error}. Nothing was changed.`);
    if (c.value === budget.capCents && period === budget.period) return onDone('Nothing changed.');
    // Only what changed is sent (the audit log names it).
    const r = await update({
      id: budget.id,
      ...(c.value !== budget.capCents ? { capCents: c.value } : {}),
      ...(period !== budget.period ? { period } : {}),
    });
    report(describeError(r.error));
    const err = resultError(r.data?.updateBudget);
    setProblem(err);
    if (!err && !r.error) onDone(`Budget of ${budget.tag} saved.`);
  };
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby={headingId}>
      <h2 id={headingId}>Edit budget {budget.tag}</h2>
      <p className="muted">
        Takes effect on every data plane within a second. A new period counts the tag's spend of
        that period so far.
      </p>
      <div className="grid">
        <LabelledInput
          id={`${headingId}-cap`}
          label="Cap (USD)"
          inputMode="decimal"
          value={cap}
          onChange={(e) => setCap(e.target.value)}
        />
        <div className="field">
          <label htmlFor={`${headingId}-period`}>Period</label>
          <select
            id={`${headingId}-period`}
            value={period}
            onChange={(e) => setPeriod(e.target.value as BudgetPeriod)}
          >
            <PeriodOptions />
          </select>
        </div>
      </div>
      <AlertLine text={problem} />
      <button type="submit" disabled={state.fetching}>
        {state.fetching ? 'Saving…' : 'Save budget'}
      </button>
    </form>
  );
}

function CreateBudget({ report, onDone }: { report: Report; onDone: () => void }) {
  const [tag, setTag] = useState('');
  const [cap, setCap] = useState('');
  const [period, setPeriod] = useState<BudgetPeriod>('monthly');
  const [problem, setProblem] = useState<string | null>(null);
  const [, create] = useMutation(CreateBudgetMutationDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(tag.trim()))
      return setProblem('Tag: letters, digits and . _ : - only.');
    const c = parseDollars(cap);
    if (!c.ok || c.value === null) return setProblem(`Cap ${c.ok ? 'is required' : c.error}.`);
    const r = await create({ tag: tag.trim(), capCents: c.value, period });
    report(describeError(r.error));
    const err = resultError(r.data?.createBudget);
    setProblem(err);
    if (!err && !r.error) {
      setTag('');
      setCap('');
      onDone();
    }
  };
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby="tb-new">
      <h2 id="tb-new">New tag budget</h2>
      <div className="grid">
        <LabelledInput
          id="tb-tag"
          label="Tag"
          value={tag}
          onChange={(e) => setTag(e.target.value)}
        />
        <LabelledInput
          id="tb-cap"
          label="Cap (USD)"
          inputMode="decimal"
          value={cap}
          onChange={(e) => setCap(e.target.value)}
        />
        <div className="field">
          <label htmlFor="tb-period">Period</label>
          <select
            id="tb-period"
            value={period}
            onChange={(e) => setPeriod(e.target.value as BudgetPeriod)}
          >
            <PeriodOptions />
          </select>
        </div>
      </div>
      <AlertLine text={problem} />
      <button type="submit">Create budget</button>
    </form>
  );
}
