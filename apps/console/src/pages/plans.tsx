import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import {
  capText,
  changedSettings,
  emptyPlanForm,
  givenSettings,
  type PlanForm,
  parsePlanForm,
  planFormOf,
} from '../billing.ts';
import { hasMore, listError, listPlaceholder, type NodeOf, nodesOf } from '../connection.ts';
import { describeError, resultError } from '../errors.ts';
import {
  type BudgetPeriod,
  CreatePlanMutationDocument,
  DeletePlanMutationDocument,
  type PlansQuery,
  PlansQueryDocument,
  UpdatePlanMutationDocument,
} from '../generated/graphql.ts';
import { formatUsd } from '../money.ts';
import { limitsText } from '../settings.ts';
import { AlertLine, MoreRows, Notice } from '../ui/feedback.tsx';
import { Field, formInputs, PeriodOptions } from '../ui/forms.tsx';
import { useLiveRefetch } from '../ui/live-context.ts';
import { DataTable } from '../ui/tables.tsx';
import { SettingsFields } from './sub-account-fields.tsx';

type PlanRow = NodeOf<PlansQuery['plans']>;

export function PlansPage({ report }: { report: Report }) {
  const [result, reexecute] = useQuery({ query: PlansQueryDocument });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  useLiveRefetch(reexecute);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [, del] = useMutation(DeletePlanMutationDocument);
  const plans = nodesOf(result.data?.plans);
  const refresh = () => reexecute({ requestPolicy: 'network-only' });
  const remove = async (p: PlanRow) => {
    if (!window.confirm(`Delete plan ${p.name}?`)) return;
    setMessage(null);
    const r = await del({ id: p.id });
    report(describeError(r.error));
    const err = resultError(r.data?.deletePlan);
    setProblem(err ? `Plan ${p.name} was not deleted: ${err}` : null);
    if (!err && !r.error) {
      setMessage(`Plan ${p.name} deleted.`);
      refresh();
    }
  };
  const editingPlan = plans.find((p) => p.id === editing) ?? null;
  return (
    <section aria-labelledby="plans-h">
      <div className="page-head">
        <h1 id="plans-h">Plans</h1>
        <button type="button" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? 'Close form' : 'New plan'}
        </button>
      </div>
      <p className="muted">
        A plan is a tier of settings. A sub-account on a plan follows it for every setting it does
        not override; a change here reaches every data plane within a second.
      </p>
      {creating ? (
        <PlanEditor
          key="new"
          plan={null}
          onDone={(name) => {
            setCreating(false);
            setMessage(`Plan ${name} created.`);
            refresh();
          }}
        />
      ) : null}
      <AlertLine text={problem} />
      {message ? <Notice>{message}</Notice> : null}
      <AlertLine text={listError(result.data?.plans)} />
      <MoreRows more={hasMore(result.data?.plans)} shown={200} />
      <DataTable
        columns={[
          'Name',
          'Cap / period',
          'Limits',
          'Allowed models',
          'Default tag',
          { label: 'Markup', className: 'num' },
          'Fallback model',
          { label: 'Sub-accounts', className: 'num' },
        ]}
        actions
        empty={listPlaceholder(result, result.data?.plans, plans.length, {
          what: 'plans',
          empty: 'No plans yet.',
        })}
      >
        {plans.map((p) => (
          <tr key={p.id}>
            <td>
              <strong>{p.name}</strong>
              <div className="muted mono small">{p.id}</div>
            </td>
            <td>{capText(p.spendCapCents, p.budgetPeriod, formatUsd)}</td>
            <td className="small">{limitsText(p)}</td>
            <td className="small mono">
              {p.allowedModels.length ? p.allowedModels.join(', ') : <span>every priced</span>}
            </td>
            <td>{p.defaultTag ?? <span className="muted">—</span>}</td>
            <td className="num">
              {p.markupPercent === null ? (
                <span className="muted">workspace</span>
              ) : (
                `${p.markupPercent}%`
              )}
            </td>
            <td className="small mono">{p.fallbackModel ?? <span className="muted">—</span>}</td>
            <td className="num">{p.subAccountCount}</td>
            <td className="row-actions">
              <button
                type="button"
                className="secondary small"
                aria-expanded={editing === p.id}
                onClick={() => setEditing(editing === p.id ? null : p.id)}
              >
                Edit <span className="sr-only">plan {p.name}</span>
              </button>
              <button type="button" className="danger small" onClick={() => remove(p)}>
                Delete <span className="sr-only">plan {p.name}</span>
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      {editingPlan ? (
        <PlanEditor
          key={editingPlan.id}
          plan={editingPlan}
          onDone={(name) => {
            setEditing(null);
            setMessage(`Plan ${name} saved. Its sub-accounts follow within a second.`);
            refresh();
          }}
        />
      ) : null}
    </section>
  );
}

function PlanEditor({ plan, onDone }: { plan: PlanRow | null; onDone: (name: string) => void }) {
  const initial = plan ? planFormOf(plan) : emptyPlanForm();
  const [form, setForm] = useState<PlanForm>(initial);
  const [errors, setErrors] = useState<Partial<Record<keyof PlanForm, string>>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [createState, create] = useMutation(CreatePlanMutationDocument);
  const [updateState, update] = useMutation(UpdatePlanMutationDocument);
  const busy = createState.fetching || updateState.fetching;
  const headingId = plan ? `plan-edit-h-${plan.id}` : 'plan-create-h';
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = parsePlanForm(form);
    if (!parsed.ok) {
      setErrors(parsed.errors);
      setProblem(`Fix the marked fields; nothing was ${plan ? 'changed' : 'created'}.`);
      return;
    }
    setErrors({});
    let err: string | null;
    if (plan) {
      const before = parsePlanForm(initial);
      const input = before.ok ? changedSettings(before.input, parsed.input) : parsed.input;
      if (Object.keys(input).length === 0) {
        onDone(plan.name);
        return;
      }
      const r = await update({ id: plan.id, input });
      err = describeError(r.error)?.message ?? resultError(r.data?.updatePlan);
    } else {
      const r = await create({
        input: { ...givenSettings(parsed.input), name: parsed.input.name },
      });
      err = describeError(r.error)?.message ?? resultError(r.data?.createPlan);
    }
    setProblem(err);
    if (!err) onDone(parsed.input.name);
  };
  const text = formInputs(form, setForm, errors);
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby={headingId}>
      <h2 id={headingId}>{plan ? `Edit plan ${plan.name}` : 'New plan'}</h2>
      <SettingsFields
        form={form}
        setForm={(f) => setForm({ ...form, ...f })}
        errors={errors}
        nameHint="lowercase, like pro or free-tier"
      />
      <div className="grid">
        <div className="field">
          <label htmlFor={`${headingId}-period`}>Budget period</label>
          <select
            id={`${headingId}-period`}
            value={form.period}
            onChange={(e) => setForm({ ...form, period: e.target.value as BudgetPeriod })}
          >
            <PeriodOptions />
          </select>
        </div>
        <Field label="Markup (%)" hint="Empty = the workspace markup" error={errors.markup}>
          {text('markup', { inputMode: 'decimal', placeholder: '20' })}
        </Field>
        <Field
          label="Fallback model"
          hint="Served when the requested model no longer fits the budget"
          error={errors.fallback}
        >
          {text('fallback', { placeholder: 'openai/gpt-4o-mini' })}
        </Field>
      </div>
      <AlertLine text={problem} />
      <button type="submit" disabled={busy}>
        {busy ? 'Saving…' : plan ? 'Save plan' : 'Create plan'}
      </button>
    </form>
  );
}
