import { describe, expect, it } from 'vitest';
import {
  compile,
  lookupKey,
  type PolicySnapshot,
  priceFor,
  providerRouteFor,
  tagBudgetFor,
  workspacePrices,
} from '../src/index.ts';
import { basePrices, hashOf, key, snapshot } from './fixtures.ts';

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
