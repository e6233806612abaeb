import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import type { Report } from '../App.tsx';
import { describeError, resultError } from '../errors.ts';
import { inputToSend } from '../form-submit.ts';
import {
  type BudgetPeriod,
  UpdateWorkspaceMutationDocument,
  type WorkspaceQuery,
  WorkspaceQueryDocument,
} from '../generated/graphql.ts';
import { formatUsd } from '../money.ts';
import { AlertLine, Notice } from '../ui/feedback.tsx';
import { Field, formInputs, PeriodOptions } from '../ui/forms.tsx';
import { useLiveRefetch } from '../ui/live-context.ts';
import {
  apiFieldErrors,
  type WorkspaceErrors,
  type WorkspaceForm,
  type WorkspaceValues,
  workspaceCapText,
  workspaceFormOf,
  workspaceUpdateInput,
} from '../workspace-settings.ts';
import { AdminKeys } from './admin-keys.tsx';

type Workspace = WorkspaceQuery['workspace'];

/** The workspace's own settings: what they are now, and a form to change them. */
export function SettingsPage({ report }: { report: Report }) {
  // Network-only: the editor's base (what an edit is compared with) must be the stored settings,
  // never a cached copy from before a change made elsewhere (REST, another tab).
  const [result, reexecute] = useQuery({
    query: WorkspaceQueryDocument,
    requestPolicy: 'network-only',
  });
  useEffect(() => report(describeError(result.error)), [result.error, report]);
  useLiveRefetch(reexecute);
  const ws = result.data?.workspace;
  return (
    <section aria-labelledby="settings-h">
      <h1 id="settings-h">Settings</h1>
      <p className="muted">
        The workspace cap covers the spend of all its sub-accounts together; the markup applies to
        billed cost wherever a plan does not set its own. Changes reach every data plane within a
        second.
      </p>
      {ws ? (
        <>
          <Summary ws={ws} />
          <SettingsEditor
            key={ws.id}
            ws={ws}
            report={report}
            onSaved={() => reexecute({ requestPolicy: 'network-only' })}
          />
        </>
      ) : (
        <p className="muted">
          {result.fetching ? 'Loading…' : 'Could not load the workspace (see the message above).'}
        </p>
      )}
      <AdminKeys report={report} />
    </section>
  );
}

function Summary({ ws }: { ws: Workspace }) {
  return (
    <div className="card">
      <h2>Workspace {ws.name}</h2>
      <dl className="figures settings-figures" data-testid="workspace-settings">
        <div>
          <dt>ID</dt>
          <dd className="mono small">{ws.id}</dd>
        </div>
        <div>
          <dt>Spend cap</dt>
          <dd data-testid="ws-cap">
            {workspaceCapText(ws.spendCapCents, ws.budgetPeriod, formatUsd)}
          </dd>
        </div>
        <div>
          <dt>Markup</dt>
          <dd data-testid="ws-markup">{ws.markupPercent}%</dd>
        </div>
        <div>
          <dt>BYOK waives markup</dt>
          <dd data-testid="ws-byok">{ws.byokWaivesMarkup ? 'yes' : 'no'}</dd>
        </div>
      </dl>
    </div>
  );
}

function SettingsEditor({
  ws,
  report,
  onSaved,
}: {
  ws: Workspace;
  report: Report;
  onSaved: () => void;
}) {
  // `base` is what the API holds: an edit sends only what differs from it.
  const [base, setBase] = useState<WorkspaceValues>(() => valuesOf(ws));
  const [form, setForm] = useState<WorkspaceForm>(() => workspaceFormOf(valuesOf(ws)));
  const [errors, setErrors] = useState<WorkspaceErrors>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [state, update] = useMutation(UpdateWorkspaceMutationDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const input = inputToSend(
      workspaceUpdateInput(base, form),
      { setErrors, setProblem, setMessage },
      {},
    );
    if (input === null) return;
    const r = await update({ input });
    report(describeError(r.error));
    const out = r.data?.updateWorkspace;
    if (out && out.__typename !== 'Workspace') {
      const field = out.__typename === 'ValidationError' ? out.field : null;
      const onField = apiFieldErrors(field, out.message);
      setErrors(onField ?? {});
      setProblem(
        onField
          ? 'The API refused the marked field; nothing was changed.'
          : `The API refused the change: ${resultError(out)}`,
      );
      return;
    }
    if (out?.__typename === 'Workspace' && !r.error) {
      const saved = valuesOf(out);
      setBase(saved);
      setForm(workspaceFormOf(saved));
      setProblem(null);
      setMessage('Saved. Data planes apply it within a second.');
      onSaved();
    }
  };
  const text = formInputs(form, setForm, errors);
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby="ws-edit-h">
      <h2 id="ws-edit-h">Edit settings</h2>
      <div className="grid">
        <Field label="Workspace cap (USD)" hint="Empty = no cap" error={errors.cap}>
          {text('cap', { inputMode: 'decimal', placeholder: '1000.00' })}
        </Field>
        <div className="field">
          <label htmlFor="ws-period">Budget period</label>
          <select
            id="ws-period"
            value={form.period}
            onChange={(e) => setForm({ ...form, period: e.target.value as BudgetPeriod })}
          >
            <PeriodOptions />
          </select>
          <small className="muted">The cap resets at the start of each period (UTC)</small>
        </div>
        <Field label="Markup (%)" hint="On billed cost; 0 = none" error={errors.markup}>
          {text('markup', { inputMode: 'decimal', placeholder: '20' })}
        </Field>
        <div className="field check">
          <label htmlFor="ws-byok">
            <input
              id="ws-byok"
              type="checkbox"
              checked={form.byokWaivesMarkup}
              onChange={(e) => setForm({ ...form, byokWaivesMarkup: e.target.checked })}
            />{' '}
            BYOK waives markup
          </label>
          <small className="muted">
            Traffic on the workspace's own provider keys is billed without markup
          </small>
        </div>
      </div>
      <AlertLine text={problem} />
      {message ? <Notice>{message}</Notice> : null}
      <button type="submit" disabled={state.fetching}>
        {state.fetching ? 'Saving…' : 'Save settings'}
      </button>
    </form>
  );
}

function valuesOf(ws: Omit<Workspace, 'id' | 'name'>): WorkspaceValues {
  return {
    spendCapCents: ws.spendCapCents ?? null,
    budgetPeriod: ws.budgetPeriod,
    markupPercent: ws.markupPercent,
    byokWaivesMarkup: ws.byokWaivesMarkup,
  };
}
