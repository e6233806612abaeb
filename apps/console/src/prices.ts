import { MODEL_NAME, parseDollars } from './money.ts';

// The "Set a price" form: every field checked at once, an error per field — nothing is sent while
// any field is wrong.

export interface PriceForm {
  model: string;
  input: string;
  output: string;
  cached: string;
  cacheWrite: string;
}

export type PriceErrors = Partial<Record<keyof PriceForm, string>>;

export interface PriceInput {
  model: string;
  inputPerMtokCents: number;
  outputPerMtokCents: number;
  /** null: the server uses min(the catalogue's cached-input price, the input price). */
  cachedInputPerMtokCents: number | null;
  /** null: the server uses the input price at the catalogue's cache-write ratio (Anthropic 1.25×). */
  cacheWritePerMtokCents: number | null;
}

export const emptyPriceForm = (): PriceForm => ({
  model: '',
  input: '',
  output: '',
  cached: '',
  cacheWrite: '',
});

export function parsePriceForm(
  form: PriceForm,
): { ok: true; input: PriceInput } | { ok: false; errors: PriceErrors } {
  const errors: PriceErrors = {};
  const model = form.model.trim();
  if (!MODEL_NAME.test(model)) errors.model = 'must be provider/model';
  const input = parseDollars(form.input);
  if (!input.ok) errors.input = input.error;
  else if (input.value === null) errors.input = 'is required';
  const output = parseDollars(form.output);
  if (!output.ok) errors.output = output.error;
  else if (output.value === null) errors.output = 'is required';
  const cached = parseDollars(form.cached);
  if (!cached.ok) errors.cached = cached.error;
  const cacheWrite = parseDollars(form.cacheWrite);
  if (!cacheWrite.ok) errors.cacheWrite = cacheWrite.error;
  if (
    Object.keys(errors).length > 0 ||
    !input.ok ||
    input.value === null ||
    !output.ok ||
    output.value === null ||
    !cached.ok ||
    !cacheWrite.ok
  )
    return { ok: false, errors };
  return {
    ok: true,
    input: {
      model,
      inputPerMtokCents: input.value,
      outputPerMtokCents: output.value,
      cachedInputPerMtokCents: cached.value,
      cacheWritePerMtokCents: cacheWrite.value,
    },
  };
}

const FIELD_NAMES: Record<keyof PriceForm, string> = {
  model: 'Model',
  input: 'Input price',
  output: 'Output price',
  cached: 'Cached input price',
  cacheWrite: 'Cache write price',
};

/** All of a price form's problems in one sentence each ("Model must be provider/model. …"). */
export function priceProblems(errors: PriceErrors): string {
  return (Object.keys(FIELD_NAMES) as Array<keyof PriceForm>)
    .filter((k) => errors[k])
    .map((k) => `${FIELD_NAMES[k]} ${errors[k]}.`)
    .join(' ');
}
