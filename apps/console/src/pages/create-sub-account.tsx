import { type FormEvent, useState } from 'react';
import { useMutation } from 'urql';
import { describeError, resultError } from '../errors.ts';
import { type BudgetPeriod, CreateSubAccountMutationDocument } from '../generated/graphql.ts';
import { emptySettings, type SettingsForm } from '../settings.ts';
import {
  type BillingForm,
  createInput,
  emptyBilling,
  type FormErrors,
  serverFieldErrors,
} from '../sub-account-form.ts';
import { AlertLine } from '../ui/feedback.tsx';
import { PeriodOptions } from '../ui/forms.tsx';
import { BillingFields, SettingsFields } from './sub-account-fields.tsx';

/** The new sub-account form; `onCreated` gets its first key, shown once by the list page. */
export function CreateSubAccount({
  onCreated,
}: {
  onCreated: (c: { id: string; name: string; key: string }) => void;
}) {
  const [form, setForm] = useState<SettingsForm>(emptySettings);
  const [billing, setBilling] = useState<BillingForm>(emptyBilling);
  const [period, setPeriod] = useState<BudgetPeriod | ''>('');
  const [errors, setErrors] = useState<FormErrors>({});
  const [message, setMessage] = useState<string | null>(null);
  const [state, create] = useMutation(CreateSubAccountMutationDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const input = createInput(form, billing, period);
    if (!input.ok) {
      setErrors(input.errors);
      setMessage('Fix the marked fields; nothing was created.');
      return;
    }
    setErrors({});
    const r = await create({ input: input.input });
    const p = describeError(r.error);
    if (p) return setMessage(p.message);
    const out = r.data?.createSubAccount;
    const err = resultError(out);
    const marked = serverFieldErrors(out, err);
    if (marked) {
      setErrors(marked);
      return setMessage(`${err} Nothing was created.`);
    }
    if (err) return setMessage(err);
    if (out?.__typename === 'CreateSubAccountPayload') {
      setMessage(null);
      setForm(emptySettings());
      setBilling(emptyBilling());
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
