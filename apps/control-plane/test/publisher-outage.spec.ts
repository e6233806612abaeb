import { randomBytes } from 'node:crypto';
import { createBus } from '@tollgate/bus';
import {
  buildControlPlane,
  createAuthenticator,
  createPolicyPublisher,
  ensureDefaultWorkspace,
} from '@tollgate/control-plane';
import { catchUp, compile, decodeSnapshot } from '@tollgate/policy';
import { openTestDatabase, redisAvailable, startPrivateRedis, waitUntil } from '@tollgate/testkit';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './harness.ts';

/**
 * A suspension committed while Redis is away is published once Redis is back — without any later
 * admin change to carry it (DESIGN: commit, then publish; a publish that fails is retried).
 */
describe.runIf(redisAvailable())('policy publication across a Redis outage', () => {
  it('a change committed during the outage reaches "latest" and the announcements afterwards', async () => {
    const { db, cleanup } = await openTestDatabase('pglite');
    const redis = await startPrivateRedis();
    const prefix = `pubout-${randomBytes(4).toString('hex')}`;
    const bus = createBus({ redisUrl: redis.url, prefix });
    const errors: unknown[] = [];
    const publisher = createPolicyPublisher({
      prisma: db.prisma,
      bus: bus.policy,
      retryMs: { min: 50, max: 400 },
      onError: (err) => errors.push(err),
    });
    const deps = {
      prisma: db.prisma,
      secretKey: Buffer.alloc(32, 7),
      allowPrivateWebhookUrls: false,
      authenticator: createAuthenticator(db.prisma, null),
      onPolicyChange: publisher.onPolicyChange,
      log: () => {},
    };
    await ensureDefaultWorkspace(deps, ADMIN_KEY);
    const plane = buildControlPlane(deps);
    const url = `http://127.0.0.1:${await plane.start(0)}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    /** The sub-account's status in "latest" — the base and the deltas logged after it, as a data
     * plane starting now would read them (undefined: no base stored). */
    const latestStatus = async (id: string) => {
      const text = await bus.policy.getLatest().catch(() => null);
      if (text === null) return undefined;
      const decoded = decodeSnapshot(text);
      if (!decoded.ok) throw new Error(decoded.message);
      const base = compile(decoded.value);
      const logged = await bus.policy.readDeltas(base.revision);
      return catchUp(
        base,
        logged.map((d) => d.payload),
      ).policy.subAccounts.get(id)?.status;
    };
    try {
      await publisher.publishNow();
      const sa = (await api('POST', '/v1/sub-accounts', { name: 'acme' })).body;
      await waitUntil(
        'the new sub-account in latest',
        async () => (await latestStatus(sa.id)) === 'active',
      );

      await redis.stop();
      const suspended = await api('PATCH', `/v1/sub-accounts/${sa.id}`, { status: 'suspended' });
      expect(suspended.status).toBe(200);
      // The publication failed (and is retried meanwhile).
      await waitUntil('the failed publication reported', async () => errors.length > 0);

      await redis.restart();
      await waitUntil(
        'the suspension in latest',
        async () => (await latestStatus(sa.id)) === 'suspended',
      );
      // ... and announced: data planes that missed the announcement find the gap and read latest.
      const revision = Number(
        (await db.prisma.policyState.findUniqueOrThrow({ where: { id: 1 } })).revision,
      );
      await waitUntil(
        'the revision announced',
        async () => publisher.publishedRevision() === revision,
      );
    } finally {
      await plane.stop();
      await publisher.stop();
      await bus.close();
      await redis.stop();
      await cleanup();
    }
  });

  it('a base Redis lost with no admin change to follow is stored again', async () => {
    const { db, cleanup } = await openTestDatabase('pglite');
    const redis = await startPrivateRedis();
    const prefix = `pubbase-${randomBytes(4).toString('hex')}`;
    const bus = createBus({ redisUrl: redis.url, prefix });
    const publisher = createPolicyPublisher({
      prisma: db.prisma,
      bus: bus.policy,
      baseCheckMs: 100,
      retryMs: { min: 50, max: 400 },
    });
    try {
      const revision = await publisher.publishNow();
      expect(await bus.policy.latestRevision()).toBe(revision);
      // Restarted empty (a fresh redis-server without persistence): the base is gone, and nothing
      // is committed afterwards to carry a new one.
      await redis.restart();
      await waitUntil(
        'the base stored again',
        async () => (await bus.policy.latestRevision()) === revision,
      );
      expect(decodeSnapshot((await bus.policy.getLatest())!).ok).toBe(true);
    } finally {
      await publisher.stop();
      await bus.close();
      await redis.stop();
      await cleanup();
    }
  });
});
