import { describe, expect, it } from 'vitest';
import {
  applyDelta,
  type CompiledPolicy,
  compile,
  decide,
  decodeDelta,
  decodeSnapshot,
  encodeDelta,
  encodeSnapshot,
  lookupKey,
  type PlanPolicy,
  providerRouteFor,
  subAccountRouteFor,
} from '../src/index.ts';
import { delta, hashOf, snapshot, subAccount } from './fixtures.ts';

function plan(over: Partial<PlanPolicy> = {}): PlanPolicy {
  return {
    id: 'plan_pro',
    workspaceId: 'ws_1',
    spendCapMicros: 100_000_000,
    budgetPeriod: 'monthly',
    rateLimitRpm: 60,
    rateLimitRpd: null,
    rateLimitTpm: null,
    maxConcurrent: 4,
    allowedModels: ['openai/gpt-5.4-mini'],
    defaultTag: 'pro',
    markupPercent: 25,
    fallbackModel: 'openai/gpt-5.4-mini',
    ...over,
  };
}

const onPlan = snapshot({
  plans: [plan()],
  subAccounts: [
    subAccount({
      planId: 'plan_pro',
      overrides: ['rateLimitRpm', 'allowedModels'],
      rateLimitRpm: 5,
      allowedModels: [],
      spendCapMicros: 1,
    }),
  ],
});

const compiled = (body = onPlan): CompiledPolicy => compile(decodeOrThrow(encodeSnapshot(body)));

function decodeOrThrow(text: string) {
  const r = decodeSnapshot(text);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

const ONE = hashOf('sk-tg-one');

describe('plans in the policy', () => {
  it('a sub-account reads every setting it does not override from its plan', () => {
    const chain = lookupKey(compiled(), ONE)!;
    expect(chain.plan?.id).toBe('plan_pro');
    // Overridden: its own values, even "all models" (empty list) and a lower RPM.
    expect(chain.subAccount.rateLimitRpm).toBe(5);
    expect(chain.subAccount.allowedModels).toEqual([]);
    // Inherited: the plan's, whatever the sub-account's own column held.
    expect(chain.subAccount.spendCapMicros).toBe(100_000_000);
    expect(chain.subAccount.maxConcurrent).toBe(4);
    expect(chain.subAccount.defaultTag).toBe('pro');
    expect(chain.subAccount.fallbackModel).toBe('openai/gpt-5.4-mini');
  });

  it('a plan delta alone changes every sub-account on the plan; the old policy is unchanged', () => {
    const before = compiled();
    const body = delta(7, { upserts: { plans: [plan({ spendCapMicros: 7, maxConcurrent: 1 })] } });
    const decoded = decodeDelta(encodeDelta(body));
    if (!decoded.ok) throw new Error(decoded.message);
    const result = applyDelta(before, decoded.value);
    if (!result.ok) throw new Error(result.reason);
    const after = lookupKey(result.policy, ONE)!;
    expect(after.subAccount.spendCapMicros).toBe(7);
    expect(after.subAccount.maxConcurrent).toBe(1);
    expect(after.subAccount.rateLimitRpm).toBe(5);
    // The sub-account index is shared as is: nothing per sub-account was rebuilt.
    expect(result.policy.subAccounts).toBe(before.subAccounts);
    expect(lookupKey(before, ONE)!.subAccount.spendCapMicros).toBe(100_000_000);
  });

  it('the allow-list decide() checks is the effective one', () => {
    const policy = compile(
      decodeOrThrow(
        encodeSnapshot(
          snapshot({ plans: [plan()], subAccounts: [subAccount({ planId: 'plan_pro' })] }),
        ),
      ),
      {
        basePrices: () => ({
          inputPerMTok: 1,
          outputPerMTok: 1,
          cachedInputPerMTok: 1,
          cacheWritePerMTok: 1,
        }),
      },
    );
    expect(decide(policy, { keyHash: ONE, model: 'openai/gpt-5.4-mini', nowMs: 0 }).ok).toBe(true);
    const refused = decide(policy, { keyHash: ONE, model: 'openai/gpt-5.4', nowMs: 0 });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.reason).toBe('model_not_allowed');
  });

  it('a snapshot naming an unknown plan is refused; one without plans (older publisher) reads as before', () => {
    const dangling = snapshot({ subAccounts: [subAccount({ planId: 'plan_gone' })] });
    expect(() => encodeSnapshot(dangling)).toThrow(/unknown plan_gone/);
    const old = decodeOrThrow(encodeSnapshot(snapshot()));
    expect(old.plans).toBeUndefined();
    const chain = lookupKey(compile(old), ONE)!;
    expect(chain.plan).toBeUndefined();
    expect(chain.subAccount.spendCapMicros).toBe(5_000_000);
  });

  it('a plan missing after a faulty delta fails closed', () => {
    const result = applyDelta(compiled(), {
      ...delta(7, { deletes: { plans: ['plan_pro'] } }),
      checksum: '0'.repeat(64),
    });
    if (!result.ok) throw new Error(result.reason);
    expect(lookupKey(result.policy, ONE)).toBeUndefined();
  });
});

describe('sub-account provider routes', () => {
  const route = {
    workspaceId: 'ws_1',
    provider: 'openai',
    baseUrl: 'https://own.example/v1',
    sealedApiKey: 'sealed:own',
    subAccountId: 'sa_1',
  };

  it('are their own list: the workspace route stays the workspace route', () => {
    const policy = compiled(snapshot({ subAccountRoutes: [route] }));
    expect(subAccountRouteFor(policy, 'sa_1', 'openai')?.sealedApiKey).toBe('sealed:own');
    expect(providerRouteFor(policy, 'ws_1', 'openai')?.sealedApiKey).toBe('sealed:abc');
    expect(subAccountRouteFor(policy, 'sa_2', 'openai')).toBeUndefined();
  });

  it('are set and removed by deltas; one without its sub-account is refused', () => {
    const before = compiled();
    const set = applyDelta(before, {
      ...delta(7, { upserts: { subAccountRoutes: [route] } }),
      checksum: '0'.repeat(64),
    });
    if (!set.ok) throw new Error(set.reason);
    expect(subAccountRouteFor(set.policy, 'sa_1', 'openai')?.baseUrl).toBe(route.baseUrl);
    const removed = applyDelta(set.policy, {
      ...delta(8, {
        deletes: { subAccountRoutes: [{ subAccountId: 'sa_1', provider: 'openai' }] },
      }),
      checksum: '0'.repeat(64),
    });
    if (!removed.ok) throw new Error(removed.reason);
    expect(subAccountRouteFor(removed.policy, 'sa_1', 'openai')).toBeUndefined();
    const { subAccountId: _, ...orphan } = route;
    expect(() => encodeDelta(delta(7, { upserts: { subAccountRoutes: [orphan] } }))).toThrow(
      /no subAccountId/,
    );
    expect(() =>
      encodeSnapshot(snapshot({ subAccountRoutes: [{ ...route, subAccountId: 'sa_x' }] })),
    ).toThrow(/unknown sa_x/);
  });
});
