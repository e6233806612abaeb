import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { hasMore, listError, type NodeOf, nodesOf } from '../connection.ts';
import { describeError, resultError } from '../errors.ts';
import {
  type PricesQuery,
  PricesQueryDocument,
  SetPriceMutationDocument,
} from '../generated/graphql.ts';
import { formatUsd, parseDollars } from '../money.ts';
import { AlertLine, MoreRows, Notice } from '../ui/feedback.tsx';
import { LabelledInput } from '../ui/forms.tsx';
import { DataTable } from '../ui/tables.tsx';

type Price = NodeOf<PricesQuery['prices']>;

/** The price catalogue with the workspace's overrides, a form to set one, and a model filter. */
export function PricesPage({ report }: { report: Report }) {
  const [result, reexecute] = useQuery({ query: PricesQueryDocument });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  const [filter, setFilter] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const rows = useMemo(
    () =>
      nodesOf(result.data?.prices).filter((p) =>
        p.model.toLowerCase().includes(filter.trim().toLowerCase()),
      ),
    [result.data, filter],
  );
  return (
    <section aria-labelledby="pr-h">
      <h1 id="pr-h">Prices</h1>
      <p className="muted">
        USD per million tokens. Workspace overrides replace the built-in catalogue.
      </p>
      {message ? <Notice>{message}</Notice> : null}
      <SetPrice
        report={report}
        onSet={(model) => {
          setMessage(`Price of ${model} set.`);
          reexecute({ requestPolicy: 'network-only' });
        }}
      />
      <div className="filters">
        <LabelledInput
          id="pr-filter"
          label="Filter models"
          type="search"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      </div>
      <AlertLine text={listError(result.data?.prices)} />
      <MoreRows more={hasMore(result.data?.prices)} shown={200} />
      <PricesTable rows={rows} />
    </section>
  );
}

function PricesTable({ rows }: { rows: Price[] }) {
  return (
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
  );
}

function SetPrice({ report, onSet }: { report: Report; onSet: (model: string) => void }) {
  const [form, setForm] = useState({ model: '', input: '', output: '', cached: '' });
  const [problem, setProblem] = useState<string | null>(null);
  const [, setPrice] = useMutation(SetPriceMutationDocument);
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
    if (!err && !r.error) onSet(form.model.trim());
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [k]: e.target.value });
  return (
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
  );
}
