import { useQuery } from 'urql';
import { DEFAULT_LOW_BALANCE_PERCENT } from '../billing.ts';
import { nodesOf } from '../connection.ts';
import { PlansQueryDocument } from '../generated/graphql.ts';
import type { SettingsForm } from '../settings.ts';
import type { BillingErrors, BillingForm } from '../sub-account-form.ts';
import { Field, formInputs } from '../ui/forms.tsx';

// The fields of the sub-account forms: settings (shared with plans) and billing (plan, fallback,
// prepaid), used by the create and edit forms.

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

/** Plan, fallback model, prepaid mode and its low-balance alert: shared by create and edit. */
export function BillingFields({
  form,
  setForm,
  errors,
  idPrefix,
  planHint = 'Settings left empty follow the plan',
}: {
  form: BillingForm;
  setForm: (f: BillingForm) => void;
  errors: BillingErrors;
  idPrefix: string;
  planHint?: string;
}) {
  const [plans] = useQuery({ query: PlansQueryDocument });
  const names = nodesOf(plans.data?.plans).map((p) => p.name);
  if (form.plan && !names.includes(form.plan)) names.push(form.plan);
  const input = formInputs(form, setForm, errors);
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
        {input('fallback', { placeholder: 'openai/gpt-4o-mini' })}
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
      {form.prepaid ? (
        <Field
          label="Low balance (USD)"
          hint={`balance.low fires below it; empty = ${DEFAULT_LOW_BALANCE_PERCENT} % of the credits`}
          error={errors.lowBalance}
        >
          {input('lowBalance', { inputMode: 'decimal', placeholder: '5.00' })}
        </Field>
      ) : null}
    </div>
  );
}
