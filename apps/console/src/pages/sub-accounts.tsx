import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { givenSettings, parseFallback } from '../billing.ts';
import { describeError, resultError } from '../errors.ts';
import {
  type BudgetPeriod,
  CreateSubAccountMutationDocument,
  PlansQueryDocument,
  type SubAccountStatus,
  SubAccountsQueryDocument,
} from '../generated/graphql.ts';
import { knownNames } from '../live.ts';
import { formatUsd } from '../money.ts';
import { emptySettings, parseSettings, type SettingsForm } from '../settings.ts';
import { SpendMeter } from '../ui/charts.tsx';
import { AlertLine, OnceSecret } from '../ui/feedback.tsx';
import { Field, formInputs, LabelledInput, PeriodOptions } from '../ui/forms.tsx';
import { StatusBadge } from '../ui/labels.tsx';
import { useLive } from '../ui/live-context.ts';
import { Pager } from '../ui/tables.tsx';

const PAGE_SIZE = 50;

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function SubAccountsPage({ report }: { report: Report }) {
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState<SubAccountStatus | ''>('');
  const debounced = useDebounced(search.trim(), 300);
  // Cursors of the pages before the current one: forward pages from the API, back by the stack.
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const after = cursors[cursors.length - 1] ?? null;
  // A new search or filter starts again at the first page.
  const [filterKey, setFilterKey] = useState(`${debounced}|${status}`);
  if (filterKey !== `${debounced}|${status}`) {
    setFilterKey(`${debounced}|${status}`);
    setCursors([null]);
  }
  const [result, reexecute] = useQuery({
    query: SubAccountsQueryDocument,
    variables: { first: PAGE_SIZE, after, search: debounced || null, status: status || null },
  });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  const { live } = useLive();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ id: string; name: string; key: string } | null>(null);
  // urql keeps showing the previous page while the next one loads: say so rather than mislabel it.
  const vars = result.operation?.variables as
    | { after?: string | null; search?: string | null; status?: string | null }
    | undefined;
  const current =
    (result.data !== undefined || result.error !== undefined) &&
    (vars?.after ?? null) === after &&
    (vars?.search ?? null) === (debounced || null) &&
    (vars?.status ?? null) === (status || null);
  const edges = result.data?.subAccounts.edges ?? [];
  for (const { node } of edges) knownNames.set(node.id, node.name);
  const page = cursors.length;
  return (
    <section aria-labelledby="sa-h">
      <div className="page-head">
        <h1 id="sa-h">Sub-accounts</h1>
        <button type="button" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? 'Close form' : 'New sub-account'}
        </button>
      </div>
      {created ? (
        <div className="created">
          <OnceSecret
            label={`API key of ${created.name}`}
            secret={created.key}
            onDone={() => setCreated(null)}
          />
          <p>
            <a href={`#/sub-accounts/${created.id}`}>Open {created.name}</a>
          </p>
        </div>
      ) : null}
      {creating ? (
        <CreateSubAccount
          onCreated={(c) => {
            setCreated(c);
            setCreating(false);
            reexecute({ requestPolicy: 'network-only' });
          }}
        />
      ) : null}
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
      <div className="table-wrap">
        <table className="data">
          <caption className="sr-only">Sub-accounts, page {page}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col" className="w-meter">
                Spend vs cap
              </th>
              <th scope="col">Reserved</th>
              <th scope="col">Limits</th>
              <th scope="col">Default tag</th>
            </tr>
          </thead>
          <tbody aria-busy={!current} className={current ? undefined : 'loading'}>
            {edges.map(({ node }) => {
              const liveSpend = live.spend[node.id];
              const spent = liveSpend
                ? Math.max(liveSpend.spentCents, node.spentCents)
                : node.spentCents;
              return (
                <tr key={node.id}>
                  <td>
                    <a href={`#/sub-accounts/${node.id}`}>{node.name}</a>
                    <div className="muted mono small">{node.id}</div>
                  </td>
                  <td>
                    <StatusBadge status={node.status} />
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
            })}
            {current && edges.length === 0 ? (
              <tr>
                <td colSpan={6} className="muted">
                  {result.error
                    ? 'Could not load sub-accounts (see the message above).'
                    : debounced
                      ? `No sub-account name contains “${debounced}”.`
                      : 'No sub-accounts yet.'}
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <Pager
        label="Pages"
        previousLabel="Previous page"
        nextLabel="Next page"
        canPrevious={page !== 1}
        canNext={Boolean(current && result.data?.subAccounts.pageInfo.hasNextPage)}
        onPrevious={() => setCursors((c) => c.slice(0, -1))}
        onNext={() => {
          const end = result.data?.subAccounts.pageInfo.endCursor;
          if (end) setCursors((c) => [...c, end]);
        }}
      >
        {current ? `Page ${page} · ${edges.length} shown` : `Loading page ${page}…`}
      </Pager>
    </section>
  );
}

export function limitsText(sa: {
  rateLimitRpm: number | null;
  rateLimitRpd: number | null;
  rateLimitTpm: number | null;
  maxConcurrent: number | null;
}): string {
  const parts = [
    sa.rateLimitRpm !== null ? `${sa.rateLimitRpm.toLocaleString('en-US')} rpm` : null,
    sa.rateLimitRpd !== null ? `${sa.rateLimitRpd.toLocaleString('en-US')} rpd` : null,
    sa.rateLimitTpm !== null ? `${sa.rateLimitTpm.toLocaleString('en-US')} tpm` : null,
    sa.maxConcurrent !== null ? `${sa.maxConcurrent} concurrent` : null,
  ].filter(Boolean);
  return parts.length ? parts.join(' · ') : 'no limits';
}

export function SettingsFields({
  form,
  setForm,
  errors,
  nameHint,
  capHint = 'Empty = no cap',
  capDisabled = false,
}: {
  form: SettingsForm;
  setForm: (f: SettingsForm) => void;
  errors: Partial<Record<keyof SettingsForm, string>>;
  nameHint?: string;
  capHint?: string;
  capDisabled?: boolean;
}) {
  const input = formInputs(form, setForm, errors);
  return (
    <div className="grid">
      <Field label="Name" hint={nameHint} error={errors.name}>
        {input('name', { required: true, autoComplete: 'off' })}
      </Field>
      <Field label="Spend cap (USD)" hint={capHint} error={errors.cap}>
        {input(
          'cap',
          capDisabled
            ? { disabled: true, value: '', placeholder: 'its credits' }
            : { inputMode: 'decimal', placeholder: '500.00' },
        )}
      </Field>
      <Field label="Requests per minute" hint="Empty = no limit" error={errors.rpm}>
        {input('rpm', { inputMode: 'numeric' })}
      </Field>
      <Field label="Requests per day" error={errors.rpd}>
        {input('rpd', { inputMode: 'numeric' })}
      </Field>
      <Field label="Tokens per minute" error={errors.tpm}>
        {input('tpm', { inputMode: 'numeric' })}
      </Field>
      <Field label="Concurrent requests" error={errors.concurrency}>
        {input('concurrency', { inputMode: 'numeric' })}
      </Field>
      <Field
        label="Allowed models"
        hint="provider/model, comma separated; empty = every priced model"
        error={errors.models}
      >
        {input('models', { placeholder: 'openai/gpt-4o-mini, anthropic/claude-sonnet-4' })}
      </Field>
      <Field label="Default tag" error={errors.tag}>
        {input('tag', { placeholder: 'acme' })}
      </Field>
    </div>
  );
}

/** Plan, fallback model and prepaid mode: shared by the create and edit forms. */
export interface BillingForm {
  plan: string;
  fallback: string;
  prepaid: boolean;
}

export function BillingFields({
  form,
  setForm,
  errors,
  idPrefix,
  planHint = 'Settings left empty follow the plan',
}: {
  form: BillingForm;
  setForm: (f: BillingForm) => void;
  errors: { fallback?: string };
  idPrefix: string;
  planHint?: string;
}) {
  const [plans] = useQuery({ query: PlansQueryDocument });
  const names = plans.data?.plans.map((p) => p.name) ?? [];
  if (form.plan && !names.includes(form.plan)) names.push(form.plan);
  return (
    <div className="grid">
      <div className="field">
        <label htmlFor={`${idPrefix}-plan`}>Plan</label>
        <select
          id={`${idPrefix}-plan`}
          value={form.plan}
          onChange={(e) => setForm({ ...form, plan: e.target.value })}
        >
          <option value="">no plan</option>
          {names.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
        <small className="muted">{planHint}</small>
      </div>
      <Field
        label="Fallback model"
        hint="Served when the requested model no longer fits the budget"
        error={errors.fallback}
      >
        {formInputs(form, setForm, errors)('fallback', { placeholder: 'openai/gpt-4o-mini' })}
      </Field>
      <div className="field check">
        <label htmlFor={`${idPrefix}-prepaid`}>
          <input
            id={`${idPrefix}-prepaid`}
            type="checkbox"
            checked={form.prepaid}
            onChange={(e) => setForm({ ...form, prepaid: e.target.checked })}
          />{' '}
          Prepaid balance
        </label>
        <small className="muted">Spends credits you top up; no cap of its own</small>
      </div>
    </div>
  );
}

function CreateSubAccount({
  onCreated,
}: {
  onCreated: (c: { id: string; name: string; key: string }) => void;
}) {
  const [form, setForm] = useState<SettingsForm>(emptySettings);
  const [billing, setBilling] = useState<BillingForm>({ plan: '', fallback: '', prepaid: false });
  const [period, setPeriod] = useState<BudgetPeriod | ''>('');
  const [errors, setErrors] = useState<Partial<Record<keyof SettingsForm | 'fallback', string>>>(
    {},
  );
  const [message, setMessage] = useState<string | null>(null);
  const [state, create] = useMutation(CreateSubAccountMutationDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseSettings(form);
    const fallback = parseFallback(billing.fallback);
    const extra: { fallback?: string } = {};
    if (!fallback.ok) extra.fallback = fallback.error;
    if (!parsed.ok || !fallback.ok || Object.keys(extra).length > 0) {
      setErrors({ ...(parsed.ok ? {} : parsed.errors), ...extra });
      setMessage('Fix the marked fields; nothing was created.');
      return;
    }
    setErrors({});
    const r = await create({
      input: {
        ...givenSettings(parsed.input),
        // A prepaid sub-account's cap is its credits.
        ...(billing.prepaid ? { spendCapCents: undefined } : {}),
        name: parsed.input.name,
        ...(period && !billing.prepaid ? { budgetPeriod: period } : {}),
        ...(billing.plan ? { plan: billing.plan } : {}),
        ...(fallback.value ? { fallbackModel: fallback.value } : {}),
        ...(billing.prepaid ? { prepaid: true } : {}),
      },
    });
    const p = describeError(r.error);
    if (p) return setMessage(p.message);
    const out = r.data?.createSubAccount;
    const err = resultError(out);
    if (err) return setMessage(err);
    if (out?.__typename === 'CreateSubAccountPayload') {
      setMessage(null);
      setForm(emptySettings());
      setBilling({ plan: '', fallback: '', prepaid: false });
      onCreated({ id: out.subAccount.id, name: out.subAccount.name, key: out.key });
    }
  };
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby="create-h">
      <h2 id="create-h">New sub-account</h2>
      <SettingsFields
        form={form}
        setForm={setForm}
        errors={errors}
        capHint={
          billing.prepaid
            ? 'Prepaid: the cap is its credits'
            : billing.plan
              ? 'Empty = the plan’s'
              : 'Empty = no cap'
        }
        capDisabled={billing.prepaid}
      />
      <BillingFields form={billing} setForm={setBilling} errors={errors} idPrefix="create" />
      <div className="field narrow">
        <label htmlFor="create-period">Budget period</label>
        <select
          id="create-period"
          value={billing.prepaid ? 'total' : period}
          disabled={billing.prepaid}
          onChange={(e) => setPeriod(e.target.value as BudgetPeriod | '')}
        >
          <option value="">{billing.plan ? 'the plan’s' : 'monthly (default)'}</option>
          <PeriodOptions />
        </select>
      </div>
      <AlertLine text={message} />
      <button type="submit" disabled={state.fetching}>
        {state.fetching ? 'Creating…' : 'Create sub-account'}
      </button>
    </form>
  );
}
