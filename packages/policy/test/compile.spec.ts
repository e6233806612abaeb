import { describe, expect, it } from 'vitest';
import {
  compile,
  compileInSlices,
  lookupKey,
  type PolicySnapshot,
  priceFor,
  providerRouteFor,
  tagBudgetFor,
  workspacePrices,
} from '../src/index.ts';
import { basePrices, hashOf, key, snapshot, subAccount, turnsDuring } from './fixtures.ts';

const withChecksum = (body = snapshot()): PolicySnapshot => ({ ...body, checksum: '0'.repeat(64) });

describe('compile', () => {
  it('indexes keys by hash and resolves their chain', () => {
    const policy = compile(withChecksum());
    expect(policy.revision).toBe(7);
    expect(policy.snapshotGeneratedAt).toBe('2026-11-23T10:00:00.000Z');
    const chain = lookupKey(policy, hashOf('sk-tg-one'));
    expect(chain?.key.id).toBe('key_1');
    expect(chain?.subAccount.id).toBe('sa_1');
    expect(chain?.workspace.id).toBe('ws_1');
    expect(lookupKey(policy, hashOf('sk-tg-other'))).toBeUndefined();
  });

  it('parses expiry once', () => {
    const policy = compile(
      withChecksum(snapshot({ keys: [key({ expiresAt: '2026-12-01T00:00:00.000Z' })] })),
    );
    expect(policy.keysById.get('key_1')?.expiresAtMs).toBe(Date.UTC(2026, 11, 1));
    expect(compile(withChecksum()).keysById.get('key_1')?.expiresAtMs).toBeNull();
  });

  it('fails closed for a key whose sub-account is missing', () => {
    const policy = compile(withChecksum(snapshot({ keys: [key({ subAccountId: 'sa_gone' })] })));
    expect(policy.keysByHash.has(hashOf('sk-tg-one'))).toBe(true);
    expect(lookupKey(policy, hashOf('sk-tg-one'))).toBeUndefined();
  });

  it('prefers the workspace override, then the catalogue', () => {
    const policy = compile(withChecksum(), { basePrices });
    expect(priceFor(policy, 'ws_1', 'self/llama')).toMatchObject({
      source: 'workspace',
      inputPerMTok: 100_000,
    });
    expect(priceFor(policy, 'ws_1', 'openai/gpt-5.4-mini')).toMatchObject({
      source: 'base',
      outputPerMTok: 2_000_000,
    });
    expect(priceFor(policy, 'ws_2', 'self/llama')).toBeUndefined();
    expect(priceFor(policy, 'ws_1', 'nobody/knows')).toBeUndefined();
    // Without a catalogue only overrides are priced.
    expect(priceFor(compile(withChecksum()), 'ws_1', 'openai/gpt-5.4-mini')).toBeUndefined();
  });

  it('finds tag budgets, routes and the workspace price list', () => {
    const policy = compile(withChecksum());
    expect(tagBudgetFor(policy, 'ws_1', 'feature-x')?.id).toBe('bud_1');
    expect(tagBudgetFor(policy, 'ws_2', 'feature-x')).toBeUndefined();
    expect(providerRouteFor(policy, 'ws_1', 'openai')?.sealedApiKey).toBe('sealed:abc');
    expect(providerRouteFor(policy, 'ws_1', 'anthropic')).toBeUndefined();
    expect([...workspacePrices(policy, 'ws_1').keys()]).toEqual(['self/llama']);
    expect(workspacePrices(policy, 'ws_2').size).toBe(0);
  });
});

describe('compile, a slice at a time (large policies)', () => {
  it('builds the same indexes as compile, yielding in between', async () => {
    const subAccounts = Array.from({ length: 57 }, (_, i) => subAccount({ id: `sa_${i}` }));
    const keys = subAccounts.map((a, i) =>
      key({ id: `key_${i}`, subAccountId: a.id, hash: hashOf(`k${i}`), revoked: i % 5 === 0 }),
    );
    const body = withChecksum(snapshot({ subAccounts, keys }));
    const whole = compile(body, { basePrices });
    const { value: sliced, turns } = await turnsDuring(() =>
      compileInSlices(body, { basePrices }, 4),
    );
    expect(turns).toBeGreaterThan(20);
    for (const index of ['subAccounts', 'keysById', 'keysByHash', 'workspaces'] as const) {
      expect(sliced[index].size).toBe(whole[index].size);
      expect([...sliced[index].values()]).toEqual(
        expect.arrayContaining([...whole[index].values()]),
      );
    }
    for (let i = 0; i < keys.length; i++) {
      expect(lookupKey(sliced, hashOf(`k${i}`))).toEqual(lookupKey(whole, hashOf(`k${i}`)));
    }
    const { subAccounts: _a, keysById: _b, keysByHash: _c, ...rest } = sliced;
    const { subAccounts: _d, keysById: _e, keysByHash: _f, ...restWhole } = whole;
    expect(rest).toEqual(restWhole);
  });
});
