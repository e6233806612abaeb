import { createBus } from '@tollgate/bus';
import {
  attachControlPlaneSources,
  buildControlPlane,
  createAuthenticator,
  createControlPlaneMetrics,
  ensureDefaultWorkspace,
} from '@tollgate/control-plane';
import { parseExposition } from '@tollgate/metrics';
import { openTestDatabase, redisAvailable, startPrivateRedis, waitUntil } from '@tollgate/testkit';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './harness.ts';

describe.runIf(redisAvailable())('control plane /metrics and /readyz', () => {
  it('scrapes request counts, webhook queue and ingestion backlog; readyz follows Redis', async () => {
    const { db, cleanup } = await openTestDatabase('pglite');
    const redis = await startPrivateRedis();
    const redisBus = createBus({ redisUrl: redis.url, prefix: 'cpm' });
    const memoryBus = createBus({ prefix: 'cpm' });
    const metrics = createControlPlaneMetrics();
    let published = 41;
    attachControlPlaneSources(metrics, {
      prisma: db.prisma,
      usage: memoryBus.usage,
      group: 'control-plane',
      publishedRevision: () => published,
    });
    const deps = {
      prisma: db.prisma,
      secretKey: Buffer.alloc(32, 7),
      allowPrivateWebhookUrls: false,
      authenticator: createAuthenticator(db.prisma, null),
      log: () => {},
      metrics,
      readyChecks: {
        database: () => db.prisma.$queryRaw`SELECT 1`,
        redis: () => redisBus.ping!(),
      },
    };
    const boot = await ensureDefaultWorkspace(deps, ADMIN_KEY);
    const plane = buildControlPlane(deps);
    const url = `http://127.0.0.1:${await plane.start(0)}`;
    const scrape = async () => {
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      return parseExposition(await res.text());
    };
    try {
      // Webhook queue: two pending deliveries (one due, one later) and one delivered.
      await db.prisma.webhookEndpoint.create({
        data: {
          id: 'we_m',
          workspaceId: boot.workspaceId,
          url: 'https://hooks.example/x',
          events: [],
          sealedSecret: 'v1.x.y.z',
        },
      });
      const delivery = (id: string, status: string, nextAttemptAt: Date) =>
        db.prisma.webhookDelivery.create({
          data: {
            id,
            endpointId: 'we_m',
            workspaceId: boot.workspaceId,
            eventType: 'x',
            payload: {},
            status,
            nextAttemptAt,
          },
        });
      await delivery('msg_1', 'pending', new Date(Date.now() - 1_000));
      await delivery('msg_2', 'pending', new Date(Date.now() + 3_600_000));
      await delivery('msg_3', 'succeeded', new Date());
      // Ingestion backlog: two entries nobody has read yet.
      await memoryBus.usage.append(['{}', '{}']);
      await new Promise((r) => setTimeout(r, 50));
      const auth = { authorization: `Bearer ${ADMIN_KEY}` };
      expect((await fetch(`${url}/v1/sub-accounts`, { headers: auth })).status).toBe(200);
      expect(
        (
          await fetch(`${url}/v1/sub-accounts`, {
            headers: { authorization: 'Bearer sk-tg-admin-bad' },
          })
        ).status,
      ).toBe(401);
      const gql = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ workspace { id } }' }),
      });
      expect(gql.status).toBe(200);

      const m = await scrape();
      expect(
        m.value('tollgate_cp_requests_total', { api: 'rest', method: 'GET', status: '200' }),
      ).toBe(1);
      expect(
        m.value('tollgate_cp_requests_total', { api: 'rest', method: 'GET', status: '401' }),
      ).toBe(1);
      expect(
        m.value('tollgate_cp_requests_total', { api: 'graphql', method: 'POST', status: '200' }),
      ).toBe(1);
      expect(m.value('tollgate_cp_webhook_deliveries_pending')).toBe(2);
      expect(m.value('tollgate_cp_webhook_deliveries_due')).toBe(1);
      expect(m.value('tollgate_cp_usage_stream_undelivered')).toBe(2);
      expect(m.value('tollgate_cp_usage_stream_pending')).toBe(0);
      expect(m.value('tollgate_cp_ingest_lag_seconds')).toBeGreaterThanOrEqual(0.04);
      expect(m.value('tollgate_cp_policy_revision_published')).toBe(41);
      published = 42;
      expect((await scrape()).value('tollgate_cp_policy_revision_published')).toBe(42);

      const ready = async () => {
        const res = await fetch(`${url}/readyz`);
        return { status: res.status, body: await res.json() };
      };
      expect(await ready()).toEqual({
        status: 200,
        body: { status: 'ready', checks: { database: { ok: true }, redis: { ok: true } } },
      });
      await redis.stop();
      await waitUntil('readyz 503', async () => (await ready()).status === 503);
      expect((await ready()).body).toEqual({
        status: 'not_ready',
        checks: { database: { ok: true }, redis: { ok: false } },
      });
      await redis.restart();
      await waitUntil('readyz 200', async () => (await ready()).status === 200);
    } finally {
      await plane.stop();
      await redisBus.close().catch(() => undefined);
      await memoryBus.close();
      await redis.stop();
      await cleanup();
    }
  });
});
