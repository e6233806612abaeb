import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { hasMore, listError, listPlaceholder, type NodeOf, nodesOf } from '../connection.ts';
import { describeError, resultError } from '../errors.ts';
import {
  CreateProviderKeyMutationDocument,
  DeleteProviderKeyMutationDocument,
  type ProviderKeysQuery,
  ProviderKeysQueryDocument,
} from '../generated/graphql.ts';
import { AlertLine, MoreRows, Notice } from '../ui/feedback.tsx';
import { ConfirmButton, LabelledInput } from '../ui/forms.tsx';
import { When } from '../ui/labels.tsx';
import { useLiveRefetch } from '../ui/live-context.ts';
import { DataTable } from '../ui/tables.tsx';

type ProviderKey = NodeOf<ProviderKeysQuery['providerKeys']>;

const EMPTY_FORM = { provider: '', apiKey: '', baseUrl: '', kind: 'openai', apiVersion: '' };

/** The workspace's own provider keys (BYOK): listed by hint only, stored, deleted. */
export function ProviderKeysPage({ report }: { report: Report }) {
  const [result, reexecute] = useQuery({ query: ProviderKeysQueryDocument });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  useLiveRefetch(reexecute);
  const [message, setMessage] = useState<string | null>(null);
  const refresh = () => reexecute({ requestPolicy: 'network-only' });
  const keys = nodesOf(result.data?.providerKeys);
  return (
    <section aria-labelledby="pk-h">
      <h1 id="pk-h">Provider keys (BYOK)</h1>
      <p className="muted">
        A workspace's own provider key takes precedence over the platform's. Keys are never shown
        back.
      </p>
      {message ? <Notice>{message}</Notice> : null}
      <AlertLine text={listError(result.data?.providerKeys)} />
      <MoreRows more={hasMore(result.data?.providerKeys)} shown={200} />
      <ProviderKeysTable
        keys={keys}
        empty={listPlaceholder(result, result.data?.providerKeys, keys.length, {
          what: 'the provider keys',
          empty: "No provider keys: the platform's keys are used.",
        })}
        report={report}
        onDeleted={(text) => {
          setMessage(text);
          refresh();
        }}
      />
      <StoreProviderKey
        report={report}
        onStored={() => {
          setMessage('Provider key stored. Only its last characters are shown from now on.');
          refresh();
        }}
      />
    </section>
  );
}

function ProviderKeysTable({
  keys,
  empty,
  report,
  onDeleted,
}: {
  keys: ProviderKey[];
  empty: string | null;
  report: Report;
  onDeleted: (message: string) => void;
}) {
  const [, del] = useMutation(DeleteProviderKeyMutationDocument);
  return (
    <DataTable columns={['Provider', 'Kind', 'Base URL', 'Key', 'Updated']} actions empty={empty}>
      {keys.map((k) => (
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
                onDeleted(resultError(r.data?.deleteProviderKey) ?? `${k.provider} key deleted.`);
              }}
            >
              Delete <span className="sr-only">{k.provider} key</span>
            </ConfirmButton>
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

function StoreProviderKey({ report, onStored }: { report: Report; onStored: () => void }) {
  const [, create] = useMutation(CreateProviderKeyMutationDocument);
  const [form, setForm] = useState(EMPTY_FORM);
  const [problem, setProblem] = useState<string | null>(null);
  // Providers with their own API (not OpenAI-compatible): no wire flavour to choose.
  const native = form.provider.trim() === 'anthropic';
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!form.provider.trim() || !form.apiKey.trim())
      return setProblem('Provider and API key are required.');
    // The API's rules for these two (the control plane's provider-keys service).
    if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(form.provider.trim()))
      return setProblem('Provider must be lowercase letters, digits, _ . or - (like openai).');
    if (form.apiKey.trim().length < 8)
      return setProblem('API key must be at least 8 characters long.');
    const azure = !native && form.kind === 'azure';
    const r = await create({
      provider: form.provider.trim(),
      apiKey: form.apiKey.trim(),
      baseUrl: form.baseUrl.trim() || null,
      // A provider with its own API (anthropic) has no OpenAI-compatible flavour to choose.
      kind: native ? null : form.kind,
      apiVersion: azure ? form.apiVersion.trim() || null : null,
    });
    report(describeError(r.error));
    const err = resultError(r.data?.createProviderKey);
    setProblem(err);
    if (!err && !r.error) {
      // The key leaves the page as soon as it is stored: it is never shown back.
      setForm(EMPTY_FORM);
      onStored();
    }
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [k]: e.target.value });
  return (
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
        {native ? null : (
          <div className="field">
            <label htmlFor="pk-kind">Kind</label>
            <select id="pk-kind" value={form.kind} onChange={set('kind')}>
              <option value="openai">openai (OpenAI-compatible)</option>
              <option value="azure">Azure OpenAI</option>
            </select>
          </div>
        )}
        <LabelledInput
          id="pk-base"
          label="Base URL (optional)"
          type="url"
          value={form.baseUrl}
          onChange={set('baseUrl')}
        />
        {!native && form.kind === 'azure' ? (
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
  );
}
