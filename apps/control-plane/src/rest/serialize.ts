import type {
  AdminKey,
  Plan,
  ProviderCredential,
  SubAccount,
  SubAccountKey,
  TagBudget,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEndpoint,
  Workspace,
} from '@tollgate/db';
import type { ModelPrice } from '@tollgate/pricing';
import { centsOf } from '../lib/money.ts';
import { keyKind } from '../services/provider-keys.ts';
import { inheritedFields } from '../services/sub-account-plan.ts';

/** Snake_case shapes of SPEC §4. Money as cents (≤ 4 decimals), times as ISO strings. */
const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function workspaceJson(ws: Workspace) {
  return {
    id: ws.id,
    name: ws.name,
    markup_percent: ws.markupBp / 100,
    spend_cap_cents: centsOf(ws.spendCapMicros),
    budget_period: ws.budgetPeriod,
    byok_waives_markup: ws.byokWaivesMarkup,
    created_at: iso(ws.createdAt),
  };
}

/** `current`: the key this very call was made with. */
export function adminKeyJson(k: AdminKey, callerKeyId: string) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    current: k.id === callerKeyId,
    created_at: iso(k.createdAt),
    revoked_at: iso(k.revokedAt),
    expires_at: iso(k.expiresAt),
  };
}

export function subAccountJson(sa: SubAccount & { plan?: { slug: string } | null }) {
  return {
    id: sa.id,
    name: sa.name,
    status: sa.status,
    external_id: sa.externalId,
    metadata: sa.metadata,
    spend_cap_cents: centsOf(sa.spendCapMicros),
    budget_period: sa.budgetPeriod,
    rate_limit_rpm: sa.rateLimitRpm,
    rate_limit_rpd: sa.rateLimitRpd,
    rate_limit_tpm: sa.rateLimitTpm,
    max_concurrent: sa.maxConcurrent,
    allowed_models: sa.allowedModels,
    default_tag: sa.defaultTag,
    prepaid: sa.prepaid,
    low_balance_threshold_cents: centsOf(sa.lowBalanceThresholdMicros),
    fallback_model: sa.fallbackModel,
    plan: sa.plan?.slug ?? null,
    plan_id: sa.planId,
    inherited_from_plan: inheritedFields(sa),
    created_at: iso(sa.createdAt),
    updated_at: iso(sa.updatedAt),
  };
}

export function keyJson(k: SubAccountKey) {
  return {
    id: k.id,
    sub_account_id: k.subAccountId,
    prefix: k.prefix,
    created_at: iso(k.createdAt),
    expires_at: iso(k.expiresAt),
    revoked_at: iso(k.revokedAt),
  };
}

export function budgetJson(b: TagBudget) {
  return {
    id: b.id,
    tag: b.tag,
    cap_cents: centsOf(b.capMicros),
    period: b.budgetPeriod,
    ...(b.budgetPeriod === 'monthly' ? { monthly_cap_cents: centsOf(b.capMicros) } : {}),
    created_at: iso(b.createdAt),
  };
}

export function priceJson(p: ModelPrice) {
  return {
    model: p.model,
    provider: p.provider,
    input_per_mtok_cents: centsOf(p.inputPerMTok),
    output_per_mtok_cents: centsOf(p.outputPerMTok),
    cached_input_per_mtok_cents: centsOf(p.cachedInputPerMTok),
    cache_write_per_mtok_cents: centsOf(p.cacheWritePerMTok),
    context_window: p.contextWindow,
    max_output_tokens: p.maxOutputTokens,
    source: p.source,
    as_of: p.asOf,
  };
}

/** Never carries the key itself: only its last four characters. */
export function providerKeyJson(k: ProviderCredential) {
  return {
    id: k.id,
    provider: k.provider,
    base_url: k.baseUrl,
    kind: keyKind(k),
    api_version: k.apiVersion,
    sub_account_id: k.subAccountId === '' ? null : k.subAccountId,
    key_hint: `…${k.keyHint}`,
    created_at: iso(k.createdAt),
    updated_at: iso(k.updatedAt),
  };
}

export function webhookJson(w: WebhookEndpoint) {
  return { id: w.id, url: w.url, events: w.events, status: w.status, created_at: iso(w.createdAt) };
}

export function deliveryJson(d: WebhookDelivery & { log: WebhookAttempt[] }) {
  return {
    id: d.id,
    event_type: d.eventType,
    status: d.status,
    attempts: d.log.map((a) => ({
      attempt: a.attempt,
      status_code: a.statusCode,
      error: a.error,
      response_excerpt: a.responseExcerpt,
      duration_ms: a.durationMs,
      at: iso(a.createdAt),
    })),
    next_attempt_at: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
    created_at: iso(d.createdAt),
  };
}

interface Totals {
  requests: number;
  costMicros: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  cachedInputTokens: bigint;
  cacheWriteTokens: bigint;
}

// `input_tokens` are those billed at the input rate; the prompt's tokens read from and written to
// the provider's cache (billed at their own rates) are counted beside them, so the three add up to
// what the provider reported as the prompt.
const totals = (t: Totals) => ({
  requests: t.requests,
  cost_cents: centsOf(t.costMicros),
  input_tokens: Number(t.inputTokens),
  output_tokens: Number(t.outputTokens),
  cached_input_tokens: Number(t.cachedInputTokens),
  cache_write_tokens: Number(t.cacheWriteTokens),
});

export function usageJson(u: {
  range: { from: Date; to: Date };
  summary: Totals & { errors: number; blocked: number };
  byModel: (Totals & { model: string; downgraded: number })[];
  byDay: (Totals & { day: string })[];
  byTag: (Totals & { tag: string })[];
}) {
  return {
    from: iso(u.range.from),
    to: iso(u.range.to),
    summary: { ...totals(u.summary), errors: u.summary.errors, blocked: u.summary.blocked },
    by_model: u.byModel.map((m) => ({
      model_id: m.model,
      ...totals(m),
      downgraded_requests: m.downgraded,
    })),
    by_day: u.byDay.map((d) => ({
      date: d.day,
      requests: d.requests,
      cost_cents: centsOf(d.costMicros),
    })),
    by_tag: u.byTag.map((t) => ({ tag: t.tag, ...totals(t) })),
  };
}

export function tagUsageJson(rows: (Totals & { tag: string })[]) {
  return rows.map((t) => ({ tag: t.tag, ...totals(t) }));
}

/** A ledger entry (credit or daily draw); amounts signed, exact micro-USD and cents. */
export function ledgerEntryJson(e: {
  id: string;
  kind: string;
  at: Date;
  amountMicros: bigint;
  reference: string | null;
  actor: string | null;
  requests: number | null;
}) {
  return {
    id: e.id,
    kind: e.kind,
    at: iso(e.at),
    amount_micro_usd: Number(e.amountMicros),
    amount_cents: centsOf(e.amountMicros),
    reference: e.reference,
    actor: e.actor,
    requests: e.requests,
  };
}

export function creditJson(c: {
  id: string;
  subAccountId: string;
  amountMicros: bigint;
  reference: string;
  actor: string;
  createdAt: Date;
}) {
  return {
    id: c.id,
    sub_account_id: c.subAccountId,
    amount_micro_usd: Number(c.amountMicros),
    amount_cents: centsOf(c.amountMicros),
    reference: c.reference,
    actor: c.actor,
    created_at: iso(c.createdAt),
  };
}

/** Credits, draws and balance: exact integer micro-USD (far inside safe integers), and cents. */
export function balanceJson(b: {
  creditsMicros: bigint;
  drawsMicros: bigint;
  balanceMicros: bigint;
}) {
  return {
    credits_micro_usd: Number(b.creditsMicros),
    draws_micro_usd: Number(b.drawsMicros),
    balance_micro_usd: Number(b.balanceMicros),
    balance_cents: centsOf(b.balanceMicros),
  };
}

export function planJson(p: Plan, subAccounts?: number) {
  return {
    id: p.id,
    name: p.slug,
    spend_cap_cents: centsOf(p.spendCapMicros),
    budget_period: p.budgetPeriod,
    rate_limit_rpm: p.rateLimitRpm,
    rate_limit_rpd: p.rateLimitRpd,
    rate_limit_tpm: p.rateLimitTpm,
    max_concurrent: p.maxConcurrent,
    allowed_models: p.allowedModels,
    default_tag: p.defaultTag,
    markup_percent: p.markupBp === null ? null : p.markupBp / 100,
    fallback_model: p.fallbackModel,
    ...(subAccounts !== undefined ? { sub_accounts: subAccounts } : {}),
    created_at: iso(p.createdAt),
    updated_at: iso(p.updatedAt),
  };
}
