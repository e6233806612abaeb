import { createHash, randomBytes } from 'node:crypto';
import { createBus } from '@tollgate/bus';
import { createAuthenticator } from '@tollgate/control-plane';
import { getFromAddress, openTestDatabase, redisAvailable } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, TooManyAttemptsError } from '../src/lib/errors.ts';
import { ADMIN_KEY, type Harness, KINDS, skipKind, startHarness } from './harness.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** GET /v1/sub-accounts from a chosen loopback address (each address is its own client). */
const from = (localAddress: string, url: string, key: string) =>
  getFromAddress(localAddress, `${url}/v1/sub-accounts`, key);

describe.each(KINDS)('admin security (%s)', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
  });
  afterAll(async () => h?.close());

  it('TOLLGATE_ADMIN_KEY is the default workspace’s only admin key (no unseen second one)', async () => {
    if (skipKind(kind)) return;
    const keys = await h.prisma.adminKey.findMany({ where: { workspaceId: h.workspaceId } });
    expect(keys.map((k) => k.hash)).toEqual([createHash('sha256').update(ADMIN_KEY).digest('hex')]);
  });

  it('every admin change writes one audit entry naming the admin key, without secrets', async () => {
    if (skipKind(kind)) return;
    const adminKey = await h.prisma.adminKey.findUniqueOrThrow({
      where: { hash: createHash('sha256').update(ADMIN_KEY).digest('hex') },
    });
    const earlier = new Set((await h.prisma.auditLog.findMany()).map((e) => e.id));
    const secret = 'sk-provider-secret-audit-0001';
    const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'audited' })).body;
    expect((await h.api('PATCH', `/v1/sub-accounts/${sa.id}`, { spend_cap_cents: 5 })).status).toBe(
      200,
    );
    const key = (await h.api('POST', `/v1/sub-accounts/${sa.id}/keys`)).body;
    expect((await h.api('DELETE', `/v1/sub-accounts/${sa.id}/keys/${key.id}`)).status).toBe(200);
    const budget = (await h.api('POST', '/v1/budgets', { tag: 'aud', monthly_cap_cents: 5 })).body;
    expect((await h.api('DELETE', `/v1/budgets/${budget.id}`)).status).toBe(200);
    expect(
      (
        await h.api('POST', '/v1/prices', {
          model: 'vllm/audit-model',
          input_per_mtok_cents: 1,
          output_per_mtok_cents: 1,
        })
      ).status,
    ).toBe(201);
    const pk = (await h.api('POST', '/v1/provider-keys', { provider: 'openai', api_key: secret }))
      .body;
    expect((await h.api('DELETE', `/v1/provider-keys/${pk.id}`)).status).toBe(200);
    expect((await h.api('PATCH', '/v1/workspace', { markup_percent: 3 })).status).toBe(200);
    const gql = await h.gql(
      'mutation($id: ID!) { updateSubAccount(id: $id, input: { name: "via-gql" }) { __typename } }',
      { id: sa.id },
    );
    expect(gql.data.updateSubAccount.__typename).toBe('SubAccount');
    expect((await h.api('DELETE', `/v1/sub-accounts/${sa.id}`)).status).toBe(200);

    const log = (
      await h.prisma.auditLog.findMany({
        where: { workspaceId: h.workspaceId },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      })
    ).filter((e) => !earlier.has(e.id));
    expect(log.map((e) => [e.action, e.targetId])).toEqual([
      ['sub_account.create', sa.id],
      ['sub_account.update', sa.id],
      ['key.create', key.id],
      ['key.revoke', key.id],
      ['budget.create', budget.id],
      ['budget.delete', budget.id],
      ['price.set', expect.any(String)],
      ['provider_key.set', pk.id],
      ['provider_key.delete', pk.id],
      ['workspace.update', h.workspaceId],
      ['sub_account.update', sa.id],
      ['sub_account.delete', sa.id],
    ]);
    expect(log.map((e) => e.actor)).toEqual(log.map(() => adminKey.id));
    const text = JSON.stringify(log);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(key.key);
    expect(text).not.toContain(sa.key);
    expect(text).not.toContain(ADMIN_KEY);
  });

  it('failed authentications are throttled per client address and per key prefix (429 + Retry-After)', async () => {
    if (skipKind(kind)) return;
    // 30 failures from 127.0.0.2, all with one key prefix.
    const prefix = `sk-tg-admin-${kind === 'pglite' ? 'PPPPPPPP' : 'QQQQQQQQ'}`;
    for (let i = 0; i < 30; i++) {
      const r = await from('127.0.0.2', h.url, `${prefix}${String(i).padStart(35, '0')}`);
      expect(r).toMatchObject({ status: 401, code: 'invalid_api_key' });
    }
    // That address is throttled, even with a valid key.
    const blocked = await from('127.0.0.2', h.url, ADMIN_KEY);
    expect(blocked.status).toBe(429);
    expect(blocked.code).toBe('too_many_auth_failures');
    expect(Number(blocked.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(blocked.retryAfter)).toBeLessThanOrEqual(60);
    // The same prefix from another address is throttled too; other keys from there are not.
    const samePrefix = await from('127.0.0.3', h.url, `${prefix}${'9'.repeat(35)}`);
    expect(samePrefix).toMatchObject({ status: 429, code: 'too_many_auth_failures' });
    expect(
      (await from('127.0.0.3', h.url, 'sk-tg-admin-OTHERPREFIX0000000000000000000000000000'))
        .status,
    ).toBe(401);
    expect((await from('127.0.0.3', h.url, ADMIN_KEY)).status).toBe(200);
  });

  it("someone else's failures with a key's own prefix never lock that key out", async () => {
    if (skipKind(kind)) return;
    // 30 wrong suffixes of the real admin key's prefix (`sk-tg-admin-` + 8), from 127.0.0.4.
    const own = ADMIN_KEY.slice(0, 20);
    for (let i = 0; i < 30; i++) {
      const r = await from('127.0.0.4', h.url, `${own}${String(i).padStart(40, '7')}`);
      expect(r.status).toBe(401);
    }
    // Guessing more suffixes of that prefix is throttled from anywhere …
    const guess = await from('127.0.0.5', h.url, `${own}${'8'.repeat(40)}`);
    expect(guess).toMatchObject({ status: 429, code: 'too_many_auth_failures' });
    // … but the key itself still works, from an address with no failures of its own.
    expect((await from('127.0.0.6', h.url, ADMIN_KEY)).status).toBe(200);
  });
});

describe.runIf(redisAvailable())('failed authentications counted through Redis', () => {
  // The windows expire by themselves (5 s): nothing is left behind in the shared Redis.
  it('failures seen by one control plane throttle another sharing the bus', async () => {
    const { db, cleanup } = await openTestDatabase('pglite');
    const prefix = `authfail-${randomBytes(6).toString('hex')}`;
    const busA = createBus({ redisUrl: REDIS_URL, prefix });
    const busB = createBus({ redisUrl: REDIS_URL, prefix });
    try {
      const a = createAuthenticator(db.prisma, null, {
        failures: busA.failures,
        maxFailures: 3,
        windowMs: 5_000,
      });
      const b = createAuthenticator(db.prisma, null, {
        failures: busB.failures,
        maxFailures: 3,
        windowMs: 5_000,
      });
      for (let i = 0; i < 3; i++) {
        await expect(a.authenticate(`Bearer sk-tg-admin-nope${i}`, '10.0.0.9')).rejects.toThrow(
          AuthenticationError,
        );
      }
      const refused = await b.authenticate('Bearer sk-tg-admin-other', '10.0.0.9').catch((e) => e);
      expect(refused).toBeInstanceOf(TooManyAttemptsError);
      expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(refused.retryAfterSeconds).toBeLessThanOrEqual(5);
      // Another address is not affected.
      await expect(b.authenticate('Bearer sk-tg-admin-other', '10.0.0.10')).rejects.toThrow(
        AuthenticationError,
      );
    } finally {
      await busA.close();
      await busB.close();
      await cleanup();
    }
  });
});
