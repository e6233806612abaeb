import { writeUsage } from '@tollgate/control-plane';
import { usageEvent as baseEvent } from '@tollgate/testkit';
import type { UsageEvent } from '@tollgate/usage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, ROOT_KEY, rowCounts, skipKind, startHarness } from './harness.ts';

function usageEvent(
  workspaceId: string,
  subAccountId: string,
  over: Partial<UsageEvent> = {},
): UsageEvent {
  const at = new Date(Date.now() - 3_600_000).toISOString();
  return baseEvent({
    workspaceId,
    subAccountId,
    inputTokens: 100,
    outputTokens: 50,
    providerCostMicros: 1_000,
    billedCostMicros: 1_000,
    startedAt: at,
    finishedAt: at,
    ...over,
  });
}

describe.each(KINDS)('own usage (GET /v1/usage with a sub-account key) on %s', (kind) => {
  let h: Harness;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  const range = () => {
    const to = new Date(Date.now() + 60_000).toISOString();
    const from = new Date(Date.now() - 7 * 86_400_000).toISOString();
    return `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  };

  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    a = (await h.api('POST', '/v1/sub-accounts', { name: 'own-a', default_tag: 'alpha' })).body;
    b = (await h.api('POST', '/v1/sub-accounts', { name: 'own-b' })).body;
    await writeUsage(h.prisma, [
      usageEvent(h.workspaceId, a.id, { tags: ['alpha'], billedCostMicros: 12_345 }),
      usageEvent(h.workspaceId, a.id, {
        model: 'openai/gpt-4o',
        status: 'error',
        errorClass: 'upstream_error',
        httpStatus: 502,
        billedCostMicros: 500,
      }),
      usageEvent(h.workspaceId, b.id, { billedCostMicros: 7_000, outputTokens: 9 }),
    ]);
  });
  afterAll(async () => h?.close());

  it.skipIf(skipKind(kind))('equals the admin view of the same sub-account', async () => {
    const q = range();
    const own = await h.api('GET', `/v1/usage?${q}`, undefined, a.key);
    const admin = await h.api('GET', `/v1/sub-accounts/${a.id}/usage?${q}`);
    expect(own.status).toBe(200);
    expect(own.body).toEqual(admin.body);
    expect(own.body.summary).toMatchObject({ requests: 2, cost_cents: 1.2845, errors: 1 });
    expect(own.body.by_tag).toEqual([
      expect.objectContaining({ tag: 'alpha', requests: 1, cost_cents: 1.2345 }),
    ]);
    // The default window too (its `to` is "now", so compare the figures).
    const ownWindow = await h.api('GET', '/v1/usage?window=7d', undefined, a.key);
    const adminWindow = await h.api('GET', `/v1/sub-accounts/${a.id}/usage?window=7d`);
    expect(ownWindow.status).toBe(200);
    const { from: _f, to: _t, ...figures } = ownWindow.body;
    const { from: _f2, to: _t2, ...adminFigures } = adminWindow.body;
    expect(figures).toEqual(adminFigures);
  });

  it.skipIf(skipKind(kind))('another sub-account’s key sees only its own', async () => {
    const q = range();
    const own = await h.api('GET', `/v1/usage?${q}`, undefined, b.key);
    expect(own.status).toBe(200);
    expect(own.body).toEqual((await h.api('GET', `/v1/sub-accounts/${b.id}/usage?${q}`)).body);
    expect(own.body.summary).toMatchObject({ requests: 1, cost_cents: 0.7, output_tokens: 9 });
    expect(JSON.stringify(own.body)).not.toContain('gpt-4o"');
    // Nothing in the request can point it elsewhere: unknown parameters are refused.
    const other = await h.api('GET', `/v1/usage?sub_account_id=${a.id}`, undefined, b.key);
    expect(other.status).toBe(400);
    // Its key is not an admin credential: 401, as for any key the admin API does not accept.
    const adminView = await h.api('GET', `/v1/sub-accounts/${a.id}/usage`, undefined, b.key);
    expect(adminView.status).toBe(401);
    expect(adminView.body.error.code).toBe('invalid_api_key');
  });

  it.skipIf(skipKind(kind))(
    'refuses revoked and expired keys and deleted sub-accounts with 401; suspended may read',
    async () => {
      const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'own-rotating' })).body;
      const next = (await h.api('POST', `/v1/sub-accounts/${sa.id}/keys`, {})).body;
      const old = await h.prisma.subAccountKey.findFirstOrThrow({
        where: { subAccountId: sa.id, id: { not: next.id } },
      });
      expect((await h.api('GET', '/v1/usage', undefined, sa.key)).status).toBe(200);
      expect((await h.api('DELETE', `/v1/sub-accounts/${sa.id}/keys/${old.id}`)).status).toBe(200);
      const revoked = await h.api('GET', '/v1/usage', undefined, sa.key);
      expect(revoked.status).toBe(401);
      expect(revoked.body.error.code).toBe('invalid_api_key');
      expect((await h.api('GET', '/v1/usage', undefined, next.key)).status).toBe(200);

      await h.api('PATCH', `/v1/sub-accounts/${sa.id}`, { status: 'suspended' });
      expect((await h.api('GET', '/v1/usage', undefined, next.key)).status).toBe(200);

      await h.prisma.subAccountKey.update({
        where: { id: next.id },
        data: { expiresAt: new Date(Date.now() - 1_000) },
      });
      expect((await h.api('GET', '/v1/usage', undefined, next.key)).status).toBe(401);

      const c = (await h.api('POST', '/v1/sub-accounts', { name: 'own-deleted' })).body;
      expect((await h.api('GET', '/v1/usage', undefined, c.key)).status).toBe(200);
      expect((await h.api('DELETE', `/v1/sub-accounts/${c.id}`)).status).toBe(200);
      expect((await h.api('GET', '/v1/usage', undefined, c.key)).status).toBe(401);
    },
  );

  it.skipIf(skipKind(kind))(
    'refuses admin keys and no key; sub-account keys change nothing on admin routes',
    async () => {
      const admin = await h.api('GET', '/v1/usage');
      expect(admin.status).toBe(403);
      expect(admin.body.error.type).toBe('permission_denied');
      // It says which key the call takes, and where an admin reads a sub-account's usage.
      expect(admin.body.error.message).toBe(
        "GET /v1/usage is a sub-account's own usage and takes its key (sk-tg-…); with an admin key read GET /v1/sub-accounts/{id}/usage",
      );
      const root = await h.api('GET', '/v1/workspace', undefined, ROOT_KEY);
      expect(root.status).toBe(403);
      expect(root.body.error.message).toBe(
        "the root key manages workspaces only: use the workspace's admin key",
      );
      const notRoot = await h.api('POST', '/v1/workspaces', { name: 'nope' });
      expect(notRoot.status).toBe(403);
      expect(notRoot.body.error.message).toBe(
        'managing workspaces takes the root key (TOLLGATE_ROOT_KEY), not an admin key',
      );
      expect((await h.api('GET', '/v1/usage', undefined, null)).status).toBe(401);
      const before = await rowCounts(h.prisma);
      for (const [method, path, body] of [
        ['POST', '/v1/sub-accounts', { name: 'sneaky' }],
        ['PATCH', `/v1/sub-accounts/${a.id}`, { spend_cap_cents: 1_000_000 }],
        ['POST', `/v1/sub-accounts/${a.id}/keys`, {}],
        ['GET', '/v1/workspace', undefined],
        ['GET', '/v1/usage/by-tag', undefined],
      ] as const) {
        const r = await h.api(method, path, body, a.key);
        expect(r.status, `${method} ${path}`).toBe(401);
      }
      expect(await rowCounts(h.prisma)).toEqual(before);
      const gql = await h.gql('{ workspace { id } }', {}, a.key);
      expect(gql.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    },
  );

  it.skipIf(skipKind(kind))('bad window → 400 in the envelope', async () => {
    for (const q of ['window=abc', 'window=7d&from=2026-01-01T00:00:00Z', 'window=9999d']) {
      const r = await h.api('GET', `/v1/usage?${q}`, undefined, a.key);
      expect(r.status, q).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'window' });
    }
    const reversed = await h.api(
      'GET',
      '/v1/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
      undefined,
      a.key,
    );
    expect(reversed.status).toBe(400);
  });
});
