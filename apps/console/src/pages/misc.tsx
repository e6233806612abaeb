import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { type ExportFormat, exportFileName, exportLineCount, exportPath } from '../billing.ts';
import { storedKey } from '../client.ts';
import { describeError, resultError } from '../errors.ts';
import {
  type BudgetPeriod,
  CreateBudgetMutationDocument,
  CreateProviderKeyMutationDocument,
  DeleteBudgetMutationDocument,
  DeleteProviderKeyMutationDocument,
  PricesQueryDocument,
  ProviderKeysQueryDocument,
  SetPriceMutationDocument,
  TagSpendQueryDocument,
} from '../generated/graphql.ts';
import { describeFeedItem } from '../live.ts';
import { formatUsd, monthOf, parseDollars, shiftMonth } from '../money.ts';
import {
  AlertLine,
  ConfirmButton,
  DataTable,
  LabelledInput,
  Notice,
  PeriodOptions,
  SpendMeter,
  useLive,
  When,
} from '../ui.tsx';

export function TagsPage({ report }: { report: Report }) {
  const [month, setMonth] = useState(() => monthOf(new Date()));
  const [result, reexecute] = useQuery({ query: TagSpendQueryDocument, variables: { month } });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  const [, del] = useMutation(DeleteBudgetMutationDocument);
  const [message, setMessage] = useState<string | null>(null);
  const budgets = result.data?.budgets ?? [];
  const usage = result.data?.usageByTag ?? [];
  const budgetOf = new Map(budgets.map((b) => [b.tag, b]));
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
      <DataTable
        columns={[
          'Tag',
          { label: 'Requests', className: 'num' },
          { label: 'Tokens in / out', className: 'num' },
          { label: 'Spend', className: 'num' },
          { label: 'Monthly tag budget', className: 'w-meter' },
        ]}
        empty={usage.length === 0 ? <>No tagged spend in {month}.</> : null}
      >
        {usage.map((u) => {
          const b = budgetOf.get(u.tag);
          return (
            <tr key={u.tag}>
              <td>{u.tag}</td>
              <td className="num">{u.requests.toLocaleString('en-US')}</td>
              <td className="num">
                {u.inputTokens.toLocaleString('en-US')} / {u.outputTokens.toLocaleString('en-US')}
              </td>
              <td className="num">{formatUsd(u.costCents)}</td>
              <td>
                {b && b.period === 'monthly' ? (
                  <SpendMeter
                    compact
                    spentCents={u.costCents}
                    reservedCents={0}
                    capCents={b.capCents}
                  />
                ) : b ? (
                  <span className="small">
                    {formatUsd(b.capCents)} {b.period}
                  </span>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
            </tr>
          );
        })}
      </DataTable>
      <BillingExport month={month} report={report} />
      <h2>Tag budgets</h2>
      {message ? <Notice>{message}</Notice> : null}
      <DataTable
        columns={['Tag', { label: 'Cap', className: 'num' }, 'Period']}
        actions
        empty={budgets.length === 0 ? 'No tag budgets.' : null}
      >
        {budgets.map((b) => (
          <tr key={b.id}>
            <td>{b.tag}</td>
            <td className="num">{formatUsd(b.capCents)}</td>
            <td>{b.period}</td>
            <td>
              <ConfirmButton
                question={`Delete the budget of tag ${b.tag}?`}
                onConfirm={async () => {
                  const r = await del({ id: b.id });
                  report(describeError(r.error));
                  setMessage(resultError(r.data?.deleteBudget) ?? `Budget of ${b.tag} deleted.`);
                  reexecute({ requestPolicy: 'network-only' });
                }}
              >
                Delete <span className="sr-only">budget {b.tag}</span>
              </ConfirmButton>
            </td>
          </tr>
        ))}
      </DataTable>
      <CreateBudget report={report} onDone={() => reexecute({ requestPolicy: 'network-only' })} />
    </section>
  );
}

/**
 * The month's billing export from the control plane. It needs the admin key, so it is fetched
 * with the Authorization header and the blob handed to the browser as a download.
 */
function BillingExport({ month, report }: { month: string; report: Report }) {
  const [busy, setBusy] = useState<ExportFormat | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const download = async (format: ExportFormat) => {
    setBusy(format);
    setMessage(null);
    setProblem(null);
    try {
      const res = await fetch(exportPath(month, format), {
        headers: { authorization: `Bearer ${storedKey() ?? ''}` },
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as {
          error?: { message?: string };
        } | null;
        if (res.status === 401 || res.status === 403)
          return report(describeError({ response: { status: res.status } }));
        return setProblem(
          `The export failed (${res.status}): ${body?.error?.message ?? res.statusText}`,
        );
      }
      const blob = await res.blob();
      const lines = exportLineCount(await blob.text(), format);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = exportFileName(month, format);
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setMessage(`Downloaded ${a.download}: ${lines} line${lines === 1 ? '' : 's'}.`);
    } catch (err) {
      report(describeError({ networkError: { message: String(err) } }));
    } finally {
      setBusy(null);
    }
  };
  return (
    <section aria-labelledby="export-h" className="export">
      <h2 id="export-h">Billing export for {month}</h2>
      <p className="muted small">
        One line per sub-account × model × tag set of the UTC month, in micro-USD; the lines add up
        to the month's usage.
      </p>
      <div className="actions">
        <button type="button" disabled={busy !== null} onClick={() => download('csv')}>
          {busy === 'csv' ? 'Preparing…' : `Download CSV (${month})`}
        </button>
        <button type="button" disabled={busy !== null} onClick={() => download('jsonl')}>
          {busy === 'jsonl' ? 'Preparing…' : `Download JSON lines (${month})`}
        </button>
      </div>
      <AlertLine text={problem} />
      {message ? <Notice>{message}</Notice> : null}
    </section>
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

export function ProviderKeysPage({ report }: { report: Report }) {
  const [result, reexecute] = useQuery({ query: ProviderKeysQueryDocument });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  const [, create] = useMutation(CreateProviderKeyMutationDocument);
  const [, del] = useMutation(DeleteProviderKeyMutationDocument);
  const [form, setForm] = useState({
    provider: '',
    apiKey: '',
    baseUrl: '',
    kind: 'openai',
    apiVersion: '',
  });
  const [problem, setProblem] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!form.provider.trim() || !form.apiKey.trim())
      return setProblem('Provider and API key are required.');
    const r = await create({
      provider: form.provider.trim(),
      apiKey: form.apiKey.trim(),
      baseUrl: form.baseUrl.trim() || null,
      kind: form.kind,
      apiVersion: form.apiVersion.trim() || null,
    });
    report(describeError(r.error));
    const err = resultError(r.data?.createProviderKey);
    setProblem(err);
    if (!err && !r.error) {
      // The key leaves the page as soon as it is stored: it is never shown back.
      setForm({ provider: '', apiKey: '', baseUrl: '', kind: 'openai', apiVersion: '' });
      setMessage('Provider key stored. Only its last characters are shown from now on.');
      reexecute({ requestPolicy: 'network-only' });
    }
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [k]: e.target.value });
  return (
    <section aria-labelledby="pk-h">
      <h1 id="pk-h">Provider keys (BYOK)</h1>
      <p className="muted">
        A workspace's own provider key takes precedence over the platform's. Keys are never shown
        back.
      </p>
      {message ? <Notice>{message}</Notice> : null}
      <DataTable
        columns={['Provider', 'Kind', 'Base URL', 'Key', 'Updated']}
        actions
        empty={
          (result.data?.providerKeys ?? []).length === 0
            ? "No provider keys: the platform's keys are used."
            : null
        }
      >
        {(result.data?.providerKeys ?? []).map((k) => (
          <tr key={k.id}>
            <td>{k.provider}</td>
            <td>
              {k.kind}
              {k.apiVersion ? ` (${k.apiVersion})` : ''}
            </td>
            <td className="mono small break">{k.baseUrl ?? '—'}</td>
            <td className="mono">{k.keyHint}</td>
            <td>
              <When iso={k.updatedAt} />
            </td>
            <td>
              <ConfirmButton
                question={`Delete the ${k.provider} key?`}
                onConfirm={async () => {
                  const r = await del({ id: k.id });
                  report(describeError(r.error));
                  setMessage(
                    resultError(r.data?.deleteProviderKey) ?? `${k.provider} key deleted.`,
                  );
                  reexecute({ requestPolicy: 'network-only' });
                }}
              >
                Delete <span className="sr-only">{k.provider} key</span>
              </ConfirmButton>
            </td>
          </tr>
        ))}
      </DataTable>
      <form className="panel" onSubmit={submit} noValidate aria-labelledby="pk-new">
        <h2 id="pk-new">Store a provider key</h2>
        <div className="grid">
          <LabelledInput
            id="pk-provider"
            label="Provider"
            value={form.provider}
            onChange={set('provider')}
            placeholder="openai"
          />
          <LabelledInput
            id="pk-key"
            label="API key"
            type="password"
            autoComplete="off"
            value={form.apiKey}
            onChange={set('apiKey')}
          />
          <div className="field">
            <label htmlFor="pk-kind">Kind</label>
            <select id="pk-kind" value={form.kind} onChange={set('kind')}>
              <option value="openai">openai-compatible</option>
              <option value="azure">Azure OpenAI</option>
            </select>
          </div>
          <LabelledInput
            id="pk-base"
            label="Base URL (optional)"
            type="url"
            value={form.baseUrl}
            onChange={set('baseUrl')}
          />
          {form.kind === 'azure' ? (
            <LabelledInput
              id="pk-ver"
              label="API version"
              value={form.apiVersion}
              onChange={set('apiVersion')}
              placeholder="2024-10-21"
            />
          ) : null}
        </div>
        <AlertLine text={problem} />
        <button type="submit">Store key</button>
      </form>
    </section>
  );
}

export function PricesPage({ report }: { report: Report }) {
  const [result, reexecute] = useQuery({ query: PricesQueryDocument });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  const [filter, setFilter] = useState('');
  const [form, setForm] = useState({ model: '', input: '', output: '', cached: '' });
  const [problem, setProblem] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [, setPrice] = useMutation(SetPriceMutationDocument);
  const rows = useMemo(
    () =>
      (result.data?.prices ?? []).filter((p) =>
        p.model.toLowerCase().includes(filter.trim().toLowerCase()),
      ),
    [result.data, filter],
  );
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!/^[^/\s]+\/\S+$/.test(form.model.trim()))
      return setProblem('Model must be provider/model.');
    const input = parseDollars(form.input);
    const output = parseDollars(form.output);
    const cached = parseDollars(form.cached);
    if (!input.ok || input.value === null)
      return setProblem(`Input price ${input.ok ? 'is required' : input.error}.`);
    if (!output.ok || output.value === null)
      return setProblem(`Output price ${output.ok ? 'is required' : output.error}.`);
    if (!cached.ok) return setProblem(`Cached input price ${cached.error}.`);
    const r = await setPrice({
      model: form.model.trim(),
      inputPerMtokCents: input.value,
      outputPerMtokCents: output.value,
      cachedInputPerMtokCents: cached.value,
    });
    report(describeError(r.error));
    const err = resultError(r.data?.setPrice);
    setProblem(err);
    if (!err && !r.error) {
      setMessage(`Price of ${form.model.trim()} set.`);
      reexecute({ requestPolicy: 'network-only' });
    }
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [k]: e.target.value });
  return (
    <section aria-labelledby="pr-h">
      <h1 id="pr-h">Prices</h1>
      <p className="muted">
        USD per million tokens. Workspace overrides replace the built-in catalogue.
      </p>
      {message ? <Notice>{message}</Notice> : null}
      <form className="panel" onSubmit={submit} noValidate aria-labelledby="pr-new">
        <h2 id="pr-new">Set a price</h2>
        <div className="grid">
          <LabelledInput
            id="pr-model"
            label="Model"
            value={form.model}
            onChange={set('model')}
            placeholder="openai/gpt-4o-mini"
          />
          <LabelledInput
            id="pr-in"
            label="Input $/Mtok"
            inputMode="decimal"
            value={form.input}
            onChange={set('input')}
          />
          <LabelledInput
            id="pr-out"
            label="Output $/Mtok"
            inputMode="decimal"
            value={form.output}
            onChange={set('output')}
          />
          <LabelledInput
            id="pr-cached"
            label="Cached input $/Mtok"
            inputMode="decimal"
            value={form.cached}
            onChange={set('cached')}
          />
        </div>
        <AlertLine text={problem} />
        <button type="submit">Set price</button>
      </form>
      <div className="filters">
        <LabelledInput
          id="pr-filter"
          label="Filter models"
          type="search"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      </div>
      <DataTable
        columns={[
          'Model',
          'Kind',
          { label: 'Input', className: 'num' },
          { label: 'Cached input', className: 'num' },
          { label: 'Output', className: 'num' },
          'Source',
        ]}
      >
        {rows.map((p) => (
          <tr key={p.model}>
            <td className="mono small">{p.model}</td>
            <td>{p.kind}</td>
            <td className="num">{formatUsd(p.inputPerMtokCents)}</td>
            <td className="num">{formatUsd(p.cachedInputPerMtokCents)}</td>
            <td className="num">{formatUsd(p.outputPerMtokCents)}</td>
            <td className="small break">{p.source}</td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
