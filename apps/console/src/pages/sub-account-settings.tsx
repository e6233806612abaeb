import { type FormEvent, useState } from 'react';
import { useMutation } from 'urql';
import type { Report } from '../App.tsx';
import { planSources } from '../billing.ts';
import { describeError, resultError } from '../errors.ts';
import { inputToSend } from '../form-submit.ts';
import { UpdateSubAccountMutationDocument } from '../generated/graphql.ts';
import { type SettingsForm, settingsOf } from '../settings.ts';
import {
  type BillingForm,
  billingOf,
  type FormErrors,
  rebaseForm,
  serverFieldErrors,
  updateInput,
} from '../sub-account-form.ts';
import { AlertLine, Notice } from '../ui/feedback.tsx';
import type { Detail } from './sub-account.tsx';
import { BillingFields, SettingsFields } from './sub-account-fields.tsx';

// The editable side of a sub-account: its settings form and, on a plan, where each setting comes
// from.

export function EditSettings({ sa, report }: { sa: Detail; report: Report }) {
  const [base, setBase] = useState<SettingsForm>(() => settingsOf(sa));
  const [form, setForm] = useState<SettingsForm>(base);
  const [billingBase, setBillingBase] = useState<BillingForm>(() => billingOf(sa));
  const [billing, setBilling] = useState<BillingForm>(billingBase);
  const [errors, setErrors] = useState<FormErrors>({});
  const [message, setMessage] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [state, update] = useMutation(UpdateSubAccountMutationDocument);
  // The stored settings changed (saved here, followed the plan again, changed elsewhere): the form
  // compares with them from now on, and untouched fields show them.
  const stored = settingsOf(sa);
  const storedBilling = billingOf(sa);
  const storedKey = JSON.stringify([stored, storedBilling]);
  const [seen, setSeen] = useState(storedKey);
  if (seen !== storedKey) {
    setSeen(storedKey);
    setBase(stored);
    setForm(rebaseForm(base, stored, form));
    setBillingBase(storedBilling);
    setBilling(rebaseForm(billingBase, storedBilling, billing));
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const input = inputToSend(
      updateInput(base, form, billingBase, billing),
      { setErrors, setProblem, setMessage },
      {},
    );
    if (input === null) return;
    const r = await update({ id: sa.id, input });
    report(describeError(r.error));
    const err = resultError(r.data?.updateSubAccount);
    setProblem(err);
    const marked = serverFieldErrors(r.data?.updateSubAccount, err);
    if (marked) setErrors(marked);
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
export function PlanSources({
  sa,
  report,
  onChanged,
}: {
  sa: Detail;
  report: Report;
  /** Loads the sub-account again, so the settings form shows what it follows now. */
  onChanged: () => void;
}) {
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
    onChanged();
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
