import { describe, expect, it } from 'vitest';
import {
  applyDelta,
  type CompiledPolicy,
  compile,
  type KeyPolicy,
  lookupKey,
  type PolicyDelta,
  type PolicySnapshot,
  priceFor,
  providerRouteFor,
  type SubAccountPolicy,
  tagBudgetFor,
} from '../src/index.ts';
import { delta, hashOf, key, snapshot, subAccount } from './fixtures.ts';

const compiled = (body = snapshot()): CompiledPolicy =>
  compile({ ...body, checksum: '0'.repeat(64) });
const asDelta = (body: ReturnType<typeof delta>): PolicyDelta => ({
  ...body,
  checksum: '0'.repeat(64),
});

function applied(policy: CompiledPolicy, body: ReturnType<typeof delta>): CompiledPolicy {
  const result = applyDelta(policy, asDelta(body));
  if (!result.ok) throw new Error(`delta refused: ${result.reason}`);
  return result.policy;
}

describe('applyDelta', () => {
  it('applies upserts and removals, leaving the old policy as it was', () => {
    const before = compiled();
    const after = applied(
      before,
      delta(7, {
        upserts: {
          keys: [key({ id: 'key_2', hash: hashOf('sk-tg-two') })],
          subAccounts: [subAccount({ status: 'suspended' })],
        },
        deletes: { tagBudgets: ['bud_1'], prices: [{ workspaceId: 'ws_1', model: 'self/llama' }] },
      }),
    );
    expect(after.revision).toBe(8);
    expect(lookupKey(after, hashOf('sk-tg-two'))?.key.id).toBe('key_2');
    expect(lookupKey(after, hashOf('sk-tg-one'))?.subAccount.status).toBe('suspended');
    expect(tagBudgetFor(after, 'ws_1', 'feature-x')).toBeUndefined();
    expect(priceFor(after, 'ws_1', 'self/llama')).toBeUndefined();

    expect(before.revision).toBe(7);
    expect(lookupKey(before, hashOf('sk-tg-two'))).toBeUndefined();
    expect(lookupKey(before, hashOf('sk-tg-one'))?.subAccount.status).toBe('active');
    expect(tagBudgetFor(before, 'ws_1', 'feature-x')?.id).toBe('bud_1');
    expect(priceFor(before, 'ws_1', 'self/llama')).toBeDefined();
  });

  it('removes keys from both indexes, and re-indexes a changed hash', () => {
    const rehashed = applied(
      compiled(),
      delta(7, { upserts: { keys: [key({ hash: hashOf('new') })] } }),
    );
    expect(lookupKey(rehashed, hashOf('sk-tg-one'))).toBeUndefined();
    expect(lookupKey(rehashed, hashOf('new'))?.key.id).toBe('key_1');

    const removed = applied(rehashed, delta(8, { deletes: { keys: ['key_1'] } }));
    expect(removed.keysById.size).toBe(0);
    expect(removed.keysByHash.size).toBe(0);
  });

  it('moves a tag budget to its new tag', () => {
    const before = compiled();
    const budget = { ...before.tagBudgetsById.get('bud_1')!, tag: 'feature-y' };
    const after = applied(before, delta(7, { upserts: { tagBudgets: [budget] } }));
    expect(tagBudgetFor(after, 'ws_1', 'feature-x')).toBeUndefined();
    expect(tagBudgetFor(after, 'ws_1', 'feature-y')?.id).toBe('bud_1');
  });

  it('drops a removed workspace with its overrides and routes; its keys fail closed', () => {
    const after = applied(compiled(), delta(7, { deletes: { workspaces: ['ws_1'] } }));
    expect(lookupKey(after, hashOf('sk-tg-one'))).toBeUndefined();
    expect(after.prices.has('ws_1')).toBe(false);
    expect(after.providerRoutes.has('ws_1')).toBe(false);
    expect(providerRouteFor(after, 'ws_1', 'openai')).toBeUndefined();
  });

  it('reports a revision gap without touching the policy', () => {
    const before = compiled();
    const result = applyDelta(before, asDelta(delta(9, { deletes: { keys: ['key_1'] } })));
    expect(result).toEqual({ ok: false, reason: 'gap', revision: 7, baseRevision: 9 });
    expect(before.revision).toBe(7);
    expect(lookupKey(before, hashOf('sk-tg-one'))).toBeDefined();
  });

  it('reports a replayed or older delta as stale', () => {
    const result = applyDelta(compiled(), asDelta(delta(6)));
    expect(result).toMatchObject({ ok: false, reason: 'stale' });
  });
});

describe('a delta on a large policy', () => {
  it('copies only what it touches (structural sharing), at 100k keys', () => {
    const N = 100_000;
    const subAccounts: SubAccountPolicy[] = [];
    const keys: KeyPolicy[] = [];
    for (let i = 0; i < N; i++) {
      subAccounts.push(subAccount({ id: `sa_${i}` }));
      keys.push(key({ id: `key_${i}`, subAccountId: `sa_${i}`, hash: hashOf(`sk-tg-${i}`) }));
    }
    const body: PolicySnapshot = {
      ...snapshot({ subAccounts, keys }),
      checksum: '0'.repeat(64),
    };
    const before = compile(body);
    expect(before.keysByHash.size).toBe(N);

    const revoked = key({
      id: 'key_42',
      subAccountId: 'sa_42',
      hash: hashOf('sk-tg-42'),
      revoked: true,
    });
    const after = applied(before, delta(7, { upserts: { keys: [revoked] } }));

    // Indexes the delta does not touch are the very same objects.
    expect(after.subAccounts).toBe(before.subAccounts);
    expect(after.workspaces).toBe(before.workspaces);
    expect(after.tagBudgetsById).toBe(before.tagBudgetsById);
    expect(after.tagBudgetsByTag).toBe(before.tagBudgetsByTag);
    expect(after.prices).toBe(before.prices);
    expect(after.providerRoutes).toBe(before.providerRoutes);
    // In the touched indexes only the one shard holding the key was copied.
    expect(after.keysById.sharedShards(before.keysById)).toBe(255);
    expect(after.keysByHash.sharedShards(before.keysByHash)).toBe(255);
    // Entities outside the delta are shared, not cloned.
    expect(after.keysById.get('key_41')).toBe(before.keysById.get('key_41'));

    expect(lookupKey(after, hashOf('sk-tg-42'))?.key.revoked).toBe(true);
    expect(lookupKey(before, hashOf('sk-tg-42'))?.key.revoked).toBe(false);
    expect(after.keysByHash.size).toBe(N);
  });
});
