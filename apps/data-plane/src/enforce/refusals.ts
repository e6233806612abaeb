import type { AdmitResult, Counter, Limiter, RateLimitName, RateSnapshot } from '@tollgate/bus';
import { type BudgetPeriod, type KeyChain, periodWindow } from '@tollgate/policy';
import { microsToCents } from '@tollgate/pricing';
import { type BlockedScope, BlockedScopeSchema } from '@tollgate/usage';
import type { ErrorSpec } from '../http/errors.ts';

/** OpenAI's reset format: `1s`, `6m0s`, `1h2m3s`. */
function duration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** The `x-ratelimit-*` headers (OpenAI's names) for what the sub-account has limits on. */
export function rateHeaders(rate: RateSnapshot | null): Record<string, string> {
  const h: Record<string, string> = {};
  if (rate === null) return h;
  if (rate.limitRequests !== null) {
    h['x-ratelimit-limit-requests'] = String(rate.limitRequests);
    h['x-ratelimit-remaining-requests'] = String(rate.remainingRequests ?? 0);
    h['x-ratelimit-reset-requests'] = duration(rate.resetRequestsMs ?? 0);
  }
  if (rate.limitTokens !== null) {
    h['x-ratelimit-limit-tokens'] = String(rate.limitTokens);
    h['x-ratelimit-remaining-tokens'] = String(rate.remainingTokens ?? 0);
    h['x-ratelimit-reset-tokens'] = duration(rate.resetTokensMs ?? 0);
  }
  return h;
}

const RATE_MESSAGES = {
  rpm: 'Rate limit reached for requests per minute.',
  rpd: 'Rate limit reached for requests per day.',
  tpm: 'Rate limit reached for tokens per minute.',
  concurrency: 'Too many concurrent requests.',
} as const;

/**
 * A request whose own worst case is above the whole tokens-per-minute limit: no wait lets it
 * through, so it says what to change and carries no Retry-After — and `x-should-retry: false`,
 * which the official OpenAI SDKs honour instead of retrying a 429 (OpenAI answers such a request
 * 429 "Request too large … on tokens per min" too).
 */
export function tpmTooLarge(tokens: number, limit: number): ErrorSpec {
  return {
    status: 429,
    type: 'rate_limit_exceeded',
    code: 'tpm',
    message: `Request too large for the tokens-per-minute limit: it may use up to ${tokens} tokens (prompt estimate plus max output), the limit is ${limit} per minute. Lower max_tokens or shorten the prompt; retrying will not help.`,
    headers: { 'x-should-retry': 'false' },
  };
}

/** A counter's period, kept beside the counter so a refusal can say when it resets. */
export interface CounterInfo {
  counter: Counter;
  period: BudgetPeriod;
  /** A prepaid sub-account's counter: its cap is the credits bought, a refusal `balance_exhausted`. */
  prepaid?: boolean;
}

/** The `Retry-After` of a rate refusal: whole seconds, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The value of the sub-account's limit that refused a request. */
export function limitValue(chain: KeyChain, limit: RateLimitName): number {
  const sa = chain.subAccount;
  const value = {
    rpm: sa.rateLimitRpm,
    rpd: sa.rateLimitRpd,
    tpm: sa.rateLimitTpm,
    concurrency: sa.maxConcurrent,
  }[limit];
  return value ?? 0;
}

/** SPEC §6's 402 and 429 bodies for a limiter refusal. */
export function admitRefusal(
  result: Exclude<AdmitResult, { ok: true }>,
  counters: readonly CounterInfo[],
  nowMs: number,
): ErrorSpec {
  if (result.kind === 'rate') {
    const seconds = retryAfterSeconds(result.retryAfterMs);
    return {
      status: 429,
      type: 'rate_limit_exceeded',
      code: result.limit,
      message: `${RATE_MESSAGES[result.limit]} Retry after ${seconds}s.`,
      headers: { 'retry-after': String(seconds), ...rateHeaders(result.rate) },
    };
  }
  const info = counters.find((c) => c.counter.scope === result.scope);
  const resetsAt = info === undefined ? null : periodWindow(info.period, nowMs).resetsAt;
  const scope = result.scope.startsWith('sa:')
    ? 'sub_account'
    : result.scope === 'ws'
      ? 'workspace'
      : result.scope;
  const isTag = scope.startsWith('tag:');
  if (info?.prepaid && scope === 'sub_account') {
    return {
      status: 402,
      type: 'budget_exceeded',
      code: 'balance_exhausted',
      headers: rateHeaders(result.rate),
      message: 'The prepaid balance of this sub-account is exhausted; top it up to continue.',
      extra: {
        scope,
        cap_cents: microsToCents(result.capMicros),
        spent_cents: microsToCents(result.spentMicros),
        reserved_cents: microsToCents(result.reservedMicros),
        balance_cents: microsToCents(Math.max(0, result.capMicros - result.spentMicros)),
        resets_at: null,
      },
    };
  }
  const budget = isTag
    ? `The budget of tag ${scope.slice(4)}`
    : `The ${scope === 'workspace' ? 'workspace' : 'sub-account'} spend cap`;
  // Refused before the cap is spent: what is left (not held by requests in flight) is less than
  // this request's smallest possible cost (its prompt and a minimal answer).
  const left = result.capMicros - result.spentMicros - result.reservedMicros;
  return {
    status: 402,
    type: 'budget_exceeded',
    code: isTag ? 'tag_budget_reached' : 'spend_cap_reached',
    headers: rateHeaders(result.rate),
    message:
      left > 0
        ? `${budget} has ${microsToCents(left)} cents left for this period, less than the smallest possible cost of this request.`
        : `${budget} is ${isTag ? 'exhausted' : 'reached'} for this period.`,
    extra: {
      scope,
      cap_cents: microsToCents(result.capMicros),
      spent_cents: microsToCents(result.spentMicros),
      reserved_cents: microsToCents(result.reservedMicros),
      resets_at: resetsAt === null ? null : new Date(resetsAt).toISOString(),
    },
  };
}

/** The budget a refusal names (its 402's `scope`: `sub_account`, `workspace`, `tag:<name>`), for
 * the usage event's `blockedScope` — so budget events say which budget refused instead of guessing.
 * null for any other answer. */
export function blockedScopeOf(spec: ErrorSpec): BlockedScope | null {
  if (spec.status !== 402 || spec.type !== 'budget_exceeded') return null;
  const parsed = BlockedScopeSchema.safeParse(spec.extra?.scope);
  return parsed.success ? parsed.data : null;
}

/** The sub-account's rate limits as they stand, as headers; none without limits (no read) or when
 * the limiter cannot answer. */
export async function currentRates(
  deps: { limiter: Pick<Limiter, 'rates'> },
  chain: KeyChain,
  nowMs: number,
): Promise<Record<string, string>> {
  const sa = chain.subAccount;
  const rate = { rpm: sa.rateLimitRpm, rpd: sa.rateLimitRpd, tpm: sa.rateLimitTpm };
  if (rate.rpm === null && rate.rpd === null && rate.tpm === null) return {};
  const snapshot = await deps.limiter
    .rates({ workspaceId: chain.workspace.id, subAccountId: sa.id, nowMs, rate })
    .catch(() => null);
  return rateHeaders(snapshot);
}
