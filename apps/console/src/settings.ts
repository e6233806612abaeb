import { centsToDollarInput, parseDollars, parseLimit, parseModelList } from './money.ts';

// The sub-account settings form (create and edit share it): text fields in, an API input out, or
// an error per field — nothing is sent while any field is wrong.

export interface SettingsForm {
  name: string;
  cap: string;
  rpm: string;
  rpd: string;
  tpm: string;
  concurrency: string;
  models: string;
  tag: string;
}

export interface SettingsInput {
  name: string;
  spendCapCents: number | null;
  rateLimitRpm: number | null;
  rateLimitRpd: number | null;
  rateLimitTpm: number | null;
  maxConcurrent: number | null;
  allowedModels: string[];
  defaultTag: string | null;
}

export type SettingsResult =
  | { ok: true; input: SettingsInput }
  | { ok: false; errors: Partial<Record<keyof SettingsForm, string>> };

/** The API's bounds (the control plane's limitField and allowed-models list): 1 to 1,000,000,000. */
export const MAX_LIMIT = 1_000_000_000;
export const MAX_MODELS = 500;

export const emptySettings = (): SettingsForm => ({
  name: '',
  cap: '',
  rpm: '',
  rpd: '',
  tpm: '',
  concurrency: '',
  models: '',
  tag: '',
});

export function settingsOf(sa: SettingsInput): SettingsForm {
  const n = (v: number | null) => (v === null ? '' : String(v));
  return {
    name: sa.name,
    cap: centsToDollarInput(sa.spendCapCents),
    rpm: n(sa.rateLimitRpm),
    rpd: n(sa.rateLimitRpd),
    tpm: n(sa.rateLimitTpm),
    concurrency: n(sa.maxConcurrent),
    models: sa.allowedModels.join(', '),
    tag: sa.defaultTag ?? '',
  };
}

export function parseSettings(form: SettingsForm): SettingsResult {
  const errors: Partial<Record<keyof SettingsForm, string>> = {};
  const name = form.name.trim();
  if (!name) errors.name = 'a name is required';
  else if (name.length > 200) errors.name = 'at most 200 characters';
  const cap = parseDollars(form.cap);
  if (!cap.ok) errors.cap = cap.error;
  const limit = (key: 'rpm' | 'rpd' | 'tpm' | 'concurrency') => {
    const r = parseLimit(form[key], MAX_LIMIT);
    if (!r.ok) errors[key] = r.error;
    else if (r.value === 0) errors[key] = 'must be at least 1 (leave empty for no limit)';
    return r.ok ? r.value : null;
  };
  const rpm = limit('rpm');
  const rpd = limit('rpd');
  const tpm = limit('tpm');
  const concurrency = limit('concurrency');
  const models = parseModelList(form.models);
  if (!models.ok) errors.models = models.error;
  else if (models.value.length > MAX_MODELS) errors.models = `at most ${MAX_MODELS} models`;
  const tag = form.tag.trim();
  if (tag && !/^[A-Za-z0-9._:-]{1,64}$/.test(tag)) {
    errors.tag = 'letters, digits and . _ : - only (at most 64)';
  }
  if (Object.keys(errors).length > 0 || !cap.ok || !models.ok) return { ok: false, errors };
  return {
    ok: true,
    input: {
      name,
      spendCapCents: cap.value,
      rateLimitRpm: rpm,
      rateLimitRpd: rpd,
      rateLimitTpm: tpm,
      maxConcurrent: concurrency,
      allowedModels: models.value,
      defaultTag: tag || null,
    },
  };
}

/** A sub-account's (or plan's) rate and concurrency limits in one line; "no limits" without any. */
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
