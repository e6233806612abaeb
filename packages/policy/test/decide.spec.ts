import { describe, expect, it } from 'vitest';
import { type CompiledPolicy, compile, type Decision, decide } from '../src/index.ts';
import { basePrices, hashOf, key, snapshot, subAccount } from './fixtures.ts';

const NOW = Date.parse('2026-11-23T12:00:00.000Z');
const HASH = hashOf('sk-tg-one');

function policyWith(over: Parameters<typeof snapshot>[0] = {}): CompiledPolicy {
  return compile({ ...snapshot(over), checksum: '0'.repeat(64) }, { basePrices });
}

function run(policy: CompiledPolicy, model = 'openai/gpt-5.4-mini', nowMs = NOW): Decision {
  return decide(policy, { keyHash: HASH, model, nowMs });
}

function expectNoSecrets(decision: Decision): void {
  if (decision.ok) return;
  expect(decision.message).not.toContain(HASH);
  expect(decision.message).not.toContain('sk-tg');
}

describe('decide', () => {
  it('allows a valid key on a priced model, with its chain and price', () => {
    const decision = run(policyWith());
    expect(decision.ok).toBe(true);
    if (!decision.ok) return;
    expect(decision.chain.key.id).toBe('key_1');
    expect(decision.chain.subAccount.id).toBe('sa_1');
    expect(decision.chain.workspace.id).toBe('ws_1');
    expect(decision.price).toMatchObject({ model: 'openai/gpt-5.4-mini', source: 'base' });
  });

  it('prices from the workspace override', () => {
    const decision = run(policyWith(), 'self/llama');
    expect(decision.ok && decision.price.source).toBe('workspace');
  });

  it('answers invalid_api_key for an unknown hash, without a chain', () => {
    const decision = decide(policyWith(), { keyHash: hashOf('nope'), model: 'x/y', nowMs: NOW });
    expect(decision).toEqual({
      ok: false,
      reason: 'invalid_api_key',
      status: 401,
      type: 'invalid_request_error',
      code: 'invalid_api_key',
      message: expect.any(String),
    });
    expectNoSecrets(decision);
  });

  it('answers invalid_api_key for a key whose sub-account is missing', () => {
    const policy = policyWith({ keys: [key({ subAccountId: 'sa_gone' })] });
    expect(run(policy)).toMatchObject({ ok: false, reason: 'invalid_api_key', status: 401 });
  });

  it('answers key_revoked 401 (code invalid_api_key) for a revoked key', () => {
    const decision = run(policyWith({ keys: [key({ revoked: true })] }));
    expect(decision).toMatchObject({
      ok: false,
      reason: 'key_revoked',
      status: 401,
      code: 'invalid_api_key',
      chain: { key: { id: 'key_1' } },
    });
    expectNoSecrets(decision);
  });

  it('answers key_expired from the expiry instant on, not before', () => {
    const policy = policyWith({ keys: [key({ expiresAt: '2026-11-23T12:00:00.000Z' })] });
    expect(run(policy, 'openai/gpt-5.4-mini', NOW - 1).ok).toBe(true);
    const decision = run(policy, 'openai/gpt-5.4-mini', NOW);
    expect(decision).toMatchObject({
      ok: false,
      reason: 'key_expired',
      status: 401,
      code: 'invalid_api_key',
    });
    expectNoSecrets(decision);
  });

  it('answers 401 for a deleted sub-account', () => {
    const decision = run(policyWith({ subAccounts: [subAccount({ status: 'deleted' })] }));
    expect(decision).toMatchObject({
      ok: false,
      reason: 'sub_account_deleted',
      status: 401,
      type: 'invalid_request_error',
      code: 'invalid_api_key',
    });
    expectNoSecrets(decision);
  });

  it('answers 403 permission_denied for a suspended sub-account', () => {
    const decision = run(policyWith({ subAccounts: [subAccount({ status: 'suspended' })] }));
    expect(decision).toMatchObject({
      ok: false,
      reason: 'sub_account_suspended',
      status: 403,
      type: 'permission_denied',
      code: 'sub_account_suspended',
      chain: { subAccount: { id: 'sa_1' } },
    });
  });

  it('answers 403 model_not_allowed outside a non-empty allow-list', () => {
    const policy = policyWith({ subAccounts: [subAccount({ allowedModels: ['self/llama'] })] });
    const decision = run(policy);
    expect(decision).toMatchObject({
      ok: false,
      reason: 'model_not_allowed',
      status: 403,
      type: 'permission_denied',
      code: 'model_not_allowed',
    });
    if (!decision.ok) {
      expect(decision.message).toContain('openai/gpt-5.4-mini');
      expect(decision.chain?.subAccount.allowedModels).toEqual(['self/llama']);
    }
    expect(run(policy, 'self/llama').ok).toBe(true);
  });

  it('answers 404 model_not_found for a model with no price', () => {
    const decision = run(policyWith(), 'openai/unpriced');
    expect(decision).toMatchObject({
      ok: false,
      reason: 'model_not_found',
      status: 404,
      type: 'invalid_request_error',
      code: 'model_not_found',
    });
  });

  it('checks in SPEC order: key, then sub-account, then model', () => {
    const revokedAndSuspended = policyWith({
      keys: [key({ revoked: true })],
      subAccounts: [subAccount({ status: 'suspended', allowedModels: ['self/llama'] })],
    });
    expect(run(revokedAndSuspended, 'none/such')).toMatchObject({ reason: 'key_revoked' });
    const suspendedAndDisallowed = policyWith({
      subAccounts: [subAccount({ status: 'suspended', allowedModels: ['self/llama'] })],
    });
    expect(run(suspendedAndDisallowed, 'none/such')).toMatchObject({
      reason: 'sub_account_suspended',
    });
    const disallowedAndUnpriced = policyWith({
      subAccounts: [subAccount({ allowedModels: ['self/llama'] })],
    });
    expect(run(disallowedAndUnpriced, 'none/such')).toMatchObject({ reason: 'model_not_allowed' });
  });

  it('quotes long model names shortened', () => {
    const decision = run(policyWith(), `x/${'m'.repeat(5000)}`);
    expect(!decision.ok && decision.message.length).toBeLessThan(300);
  });
});
