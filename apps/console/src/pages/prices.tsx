import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { hasMore, listError, listPlaceholder, type NodeOf, nodesOf } from '../connection.ts';
import { describeError, resultError } from '../errors.ts';
import {
  DeletePriceMutationDocument,
  type PricesQuery,
  PricesQueryDocument,
  SetPriceMutationDocument,
} from '../generated/graphql.ts';
import { formatUsd } from '../money.ts';
import {
  emptyPriceForm,
  type PriceErrors,
  type PriceForm,
  parsePriceForm,
  priceProblems,
} from '../prices.ts';
import { AlertLine, MoreRows, Notice } from '../ui/feedback.tsx';
import { ConfirmButton, Field, formInputs, LabelledInput } from '../ui/forms.tsx';
import { useLiveRefetch } from '../ui/live-context.ts';
import { DataTable } from '../ui/tables.tsx';

type Price = NodeOf<PricesQuery['prices']>;

/** The `source` of a price the workspace set (price-book.ts). */
const OVERRIDE_SOURCE = 'workspace override';

/** The price catalogue with the workspace's overrides, a form to set one, and a model filter. */
export function PricesPage({ report }: { report: Report }) {
  const [result, reexecute] = useQuery({ query: PricesQueryDocument });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  useLiveRefetch(reexecute);
  const [filter, setFilter] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [, deletePrice] = useMutation(DeletePriceMutationDocument);
  const removeOverride = async (model: string) => {
    setMessage(null);
    const r = await deletePrice({ model });
    report(describeError(r.error));
    const err = resultError(r.data?.deletePrice);
    setProblem(err ? `The override of ${model} was not removed: ${err}` : null);
    if (err || r.error) return;
    // null: the catalogue does not list the model, so nothing prices it any more.
    setMessage(
      r.data?.deletePrice
        ? `Override of ${model} removed: the catalogue's price applies again.`
        : `Override of ${model} removed: the model has no price now.`,
    );
    reexecute({ requestPolicy: 'network-only' });
  };
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
        USD per million tokens. Workspace overrides replace the built-in catalogue. A price set
        without a cached-input price charges cached input at the lower of the catalogue's
        cached-input price and the input price. Cache write is the price of writing the provider's
        prompt cache (Anthropic); left empty, it is the input price at the catalogue's ratio
        (Anthropic: 1.25×).
      </p>
      {message ? <Notice>{message}</Notice> : null}
      <AlertLine text={problem} />
      <SetPrice
        report={report}
        onSet={(model) => {
          setProblem(null);
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
      <PricesTable
        rows={rows}
        onRemove={removeOverride}
        empty={listPlaceholder(result, result.data?.prices, rows.length, {
          what: 'the prices',
          empty: filter.trim() ? `No model name contains “${filter.trim()}”.` : 'No prices.',
        })}
      />
    </section>
  );
}

function PricesTable({
  rows,
  empty,
  onRemove,
}: {
  rows: Price[];
  empty: string | null;
  onRemove: (model: string) => Promise<void>;
}) {
  return (
    <DataTable
      columns={[
        'Model',
        'Kind',
        { label: 'Input', className: 'num' },
        { label: 'Cached input', className: 'num' },
        { label: 'Cache write', className: 'num' },
        { label: 'Output', className: 'num' },
        'Source',
      ]}
      actions
      empty={empty}
    >
      {rows.map((p) => (
        <tr key={p.model}>
          <td className="mono small">{p.model}</td>
          <td>{p.kind}</td>
          <td className="num">{formatUsd(p.inputPerMtokCents)}</td>
          <td className="num">{formatUsd(p.cachedInputPerMtokCents)}</td>
          <td className="num">{formatUsd(p.cacheWritePerMtokCents)}</td>
          <td className="num">{formatUsd(p.outputPerMtokCents)}</td>
          <td className="small break">{p.source}</td>
          <td>
            {p.source === OVERRIDE_SOURCE ? (
              <ConfirmButton
                question={`Remove the workspace's price of ${p.model}? The catalogue's price applies again within a second (a model the catalogue does not list has no price then).`}
                className="secondary small"
                onConfirm={() => onRemove(p.model)}
              >
                Remove override <span className="sr-only">of {p.model}</span>
              </ConfirmButton>
            ) : null}
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

function SetPrice({ report, onSet }: { report: Report; onSet: (model: string) => void }) {
  const [form, setForm] = useState<PriceForm>(emptyPriceForm);
  const [errors, setErrors] = useState<PriceErrors>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [, setPrice] = useMutation(SetPriceMutationDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    // Every field is checked at once, so one submit reports every problem.
    const parsed = parsePriceForm(form);
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return setProblem(`${priceProblems(parsed.errors)} Nothing was set.`);
    }
    setErrors({});
    const r = await setPrice(parsed.input);
    report(describeError(r.error));
    const err = resultError(r.data?.setPrice);
    setProblem(err);
    if (!err && !r.error) onSet(parsed.input.model);
  };
  const input = formInputs(form, setForm, errors);
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby="pr-new">
      <h2 id="pr-new">Set a price</h2>
      <div className="grid">
        <Field label="Model" error={errors.model}>
          {input('model', { placeholder: 'openai/gpt-4o-mini' })}
        </Field>
        <Field label="Input $/Mtok" error={errors.input}>
          {input('input', { inputMode: 'decimal' })}
        </Field>
        <Field label="Output $/Mtok" error={errors.output}>
          {input('output', { inputMode: 'decimal' })}
        </Field>
        <Field
          label="Cached input $/Mtok"
          hint="Empty = the lower of the catalogue's cached-input price and the input price"
          error={errors.cached}
        >
          {input('cached', { inputMode: 'decimal' })}
        </Field>
        <Field
          label="Cache write $/Mtok"
          hint="Empty = the input price at the catalogue's ratio (Anthropic: 1.25×)"
          error={errors.cacheWrite}
        >
          {input('cacheWrite', { inputMode: 'decimal' })}
        </Field>
      </div>
      <AlertLine text={problem} />
      <button type="submit">Set price</button>
    </form>
  );
}
