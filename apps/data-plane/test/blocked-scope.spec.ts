import type { AdmitResult } from '@tollgate/bus';
import type { KeyChain } from '@tollgate/policy';
import { UsageEventSchema } from '@tollgate/usage';
import { describe, expect, it } from 'vitest';
import { admitRefusal, blockedScopeOf, type CounterInfo } from '../src/enforce/refusals.ts';
import { blockedEvent } from '../src/flight.ts';

const chain = {
  key: { id: 'key_1' },
  subAccount: { id: 'sa_1' },
  workspace: { id: 'ws_1' },
} as unknown as KeyChain;
const month = 'm2026-11';
const counters: CounterInfo[] = [
  { counter: { scope: 'sa:sa_1', capMicros: 50_000, periodKey: month }, period: 'monthly' },
  { counter: { scope: 'tag:alpha', capMicros: 90_000, periodKey: month }, period: 'monthly' },
  { counter: { scope: 'tag:beta', capMicros: 10_000, periodKey: month }, period: 'monthly' },
  { counter: { scope: 'ws', capMicros: null, periodKey: month }, period: 'monthly' },
];
const spendRefusal = (scope: string): Exclude<AdmitResult, { ok: true }> => ({
  ok: false,
  kind: 'spend',
  scope,
  capMicros: 10_000,
  spentMicros: 9_990,
  reservedMicros: 0,
  rate: {
    limitRequests: null,
    remainingRequests: null,
    resetRequestsMs: null,
    limitTokens: null,
    remainingTokens: null,
    resetTokensMs: null,
  },
});

/** The usage event of a 402 names the budget that refused (SPEC §8 `exhausted` without guessing). */
describe('blockedScope on refused requests', () => {
  const refused = (scope: string) => {
    const spec = admitRefusal(spendRefusal(scope), counters, Date.UTC(2026, 10, 23));
    const event = blockedEvent('req_1', 0, 5, chain, {
      model: 'openai/m',
      tags: ['alpha', 'beta'],
      stream: false,
      errorClass: spec.code ?? 'spend_cap_reached',
      httpStatus: spec.status,
      provider: 'openai',
      blockedScope: blockedScopeOf(spec),
    });
    return UsageEventSchema.parse(event);
  };

  it('names the tag budget, the sub-account or the workspace, as the 402 scope does', () => {
    expect(refused('tag:beta')).toMatchObject({
      errorClass: 'tag_budget_reached',
      httpStatus: 402,
      blockedScope: 'tag:beta',
    });
    expect(refused('sa:sa_1').blockedScope).toBe('sub_account');
    expect(refused('ws').blockedScope).toBe('workspace');
  });

  it("a prepaid sub-account's 402 says balance_exhausted, with the balance left", () => {
    const prepaid: CounterInfo[] = [
      { ...counters[0]!, period: 'total', prepaid: true },
      ...counters.slice(1),
    ];
    const spec = admitRefusal(spendRefusal('sa:sa_1'), prepaid, Date.UTC(2026, 10, 23));
    expect(spec).toMatchObject({ status: 402, type: 'budget_exceeded', code: 'balance_exhausted' });
    expect(spec.extra).toMatchObject({
      scope: 'sub_account',
      balance_cents: 0.001,
      resets_at: null,
    });
    expect(blockedScopeOf(spec)).toBe('sub_account');
    // Another budget refusing a prepaid sub-account's request keeps its own code.
    expect(admitRefusal(spendRefusal('tag:beta'), prepaid, 0).code).toBe('tag_budget_reached');
    expect(admitRefusal(spendRefusal('ws'), prepaid, 0).code).toBe('spend_cap_reached');
  });

  it('is null on every other answer', () => {
    const rate = admitRefusal(
      {
        ok: false,
        kind: 'rate',
        limit: 'rpm',
        retryAfterMs: 1_000,
        rate: {
          limitRequests: 1,
          remainingRequests: 0,
          resetRequestsMs: 1_000,
          limitTokens: null,
          remainingTokens: null,
          resetTokensMs: null,
        },
      },
      counters,
      0,
    );
    expect(blockedScopeOf(rate)).toBeNull();
    const event = blockedEvent('req_2', 0, 1, chain, {
      model: 'openai/m',
      tags: [],
      stream: false,
      errorClass: 'rpm',
      httpStatus: 429,
      provider: 'openai',
      blockedScope: 'workspace',
    });
    expect(event.blockedScope).toBeNull();
  });
});
