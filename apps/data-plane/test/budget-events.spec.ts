import { randomBytes } from 'node:crypto';
import { type Bus, createBus } from '@tollgate/bus';
import { createKeys } from '@tollgate/redis';
import { openTestDatabase, type TestDatabase } from '@tollgate/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// As in with-control-plane.spec.ts: both planes in one test, the control plane reached by path.
import {
  buildControlPlane,
  type ControlPlane,
  createAuthenticator,
  createPolicyPublisher,
  type EventServices,
  ensureDefaultWorkspace,
  type PolicyPublisher,
  startEventServices,
  startUsageIngest,
  type UsageIngest,
} from '../../control-plane/src/index.ts';
import { subscribe, waitFor } from '../../control-plane/test/events-harness.ts';
import { createDataPlane, type DataPlane } from '../src/index.ts';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const skip = process.env.TG_TIER_REDIS === '0';
const ADMIN_KEY = `sk-tg-admin-${'B'.repeat(43)}`;
const ROOT_KEY = `root-${'Q'.repeat(40)}`;
const MODEL = 'openai/test-model';
const BUDGET_EVENTS = `subscription ($id: ID) {
  budgetEvents(subAccountId: $id) { type eventType subAccountId spentCents capCents }
}`;

/**
 * SPEC §5/§8 end to end: requests through the data plane spend a sub-account past 80 % and then
 * its cap; control-plane replica A ingests the usage, and a graphql-ws subscriber connected to
 * replica B hears `warning` then `exhausted` (Redis pub/sub between the replicas). A subscriber of
 * another workspace hears nothing.
 */
describe.skipIf(skip)(
  'budget events: data plane → replica A ingests → subscriber on replica B',
  () => {
    const prefix = `bev-${randomBytes(6).toString('hex')}`;
    let database: TestDatabase;
    let buses: Bus[] = [];
    let upstream: FakeUpstream;
    let publisher: PolicyPublisher;
    let ingest: UsageIngest;
    let events: EventServices[] = [];
    let planes: ControlPlane[] = [];
    let dp: DataPlane;
    let urlA: string;
    let wsB: string;
    let dpUrl: string;

    const admin = async (method: string, path: string, body?: unknown, key = ADMIN_KEY) => {
      const res = await fetch(urlA + path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
      return { status: res.status, body: (await res.json()) as any };
    };

    async function replica(bus: Bus, withIngest: boolean) {
      const { prisma } = database.db;
      const ev = await startEventServices({
        prisma,
        events: bus.events,
        secretKey: Buffer.alloc(32, 5),
      });
      events.push(ev);
      const deps = {
        ...ev.deps,
        prisma,
        secretKey: Buffer.alloc(32, 5),
        allowPrivateWebhookUrls: false,
        authenticator: createAuthenticator(prisma, ROOT_KEY),
        onPolicyChange: withIngest ? publisher.onPolicyChange : undefined,
        log: () => {},
      };
      await ensureDefaultWorkspace(deps, ADMIN_KEY);
      if (withIngest) {
        ingest = await startUsageIngest({
          prisma,
          usage: bus.usage,
          group: 'control-plane',
          consumer: 'cp-a',
          blockMs: 50,
          afterWrite: ev.afterUsage,
        });
      }
      const plane = buildControlPlane(deps);
      planes.push(plane);
      return plane.start(0);
    }

    beforeAll(async () => {
      database = await openTestDatabase('pglite');
      buses = [0, 1, 2].map(() => createBus({ redisUrl: REDIS_URL, prefix }));
      const [busA, busB, dpBus] = buses as [Bus, Bus, Bus];
      upstream = await startFakeUpstream({ outputTokens: 100 });
      publisher = createPolicyPublisher({ prisma: database.db.prisma, bus: busA.policy });
      urlA = `http://127.0.0.1:${await replica(busA, true)}`;
      wsB = `ws://127.0.0.1:${await replica(busB, false)}/graphql`;
      await publisher.publishNow();
      dp = createDataPlane({
        bus: dpBus,
        upstreams: { openai: { baseUrl: upstream.url, apiKey: 'sk-platform-upstream' } },
        controlPlaneUrl: urlA,
        usageBatch: { flushMs: 5 },
        policyPollMs: 200,
      });
      dpUrl = `http://127.0.0.1:${await dp.start(0)}`;
      const price = await admin('POST', '/v1/prices', {
        model: MODEL,
        input_per_mtok_cents: 100,
        output_per_mtok_cents: 100,
      });
      expect(price.status).toBe(201);
    });

    afterAll(async () => {
      await dp?.stop();
      for (const p of planes) await p.stop();
      await ingest?.stop();
      await publisher?.stop();
      for (const e of events) await e.stop();
      await upstream?.close();
      for (const b of buses) await b.close();
      const redis = new Redis(REDIS_URL);
      for (const pattern of createKeys(prefix).patterns()) {
        const keys = await redis.keys(pattern);
        if (keys.length > 0) await redis.del(...keys);
      }
      redis.disconnect();
      await database?.cleanup();
      planes = [];
      events = [];
    });

    it('warning then exhausted reach a graphql-ws subscriber on the other replica; nobody else', async () => {
      const other = await admin('POST', '/v1/workspaces', { name: 'elsewhere' }, ROOT_KEY);
      // 1 000 µ$ cap; each request costs ~110 µ$ at 1 µ$ per token.
      const sa = (
        await admin('POST', '/v1/sub-accounts', { name: 'spender', spend_cap_cents: 0.1 })
      ).body as { id: string; key: string };
      await waitFor(async () => {
        const res = await fetch(`${dpUrl}/v1/models`, {
          headers: { authorization: `Bearer ${sa.key}` },
        });
        return res.status === 200;
      });
      const mine = subscribe(wsB, ADMIN_KEY, BUDGET_EVENTS, { id: sa.id });
      const theirs = subscribe(wsB, other.body.admin_key, BUDGET_EVENTS);
      await Promise.all([mine.connected, theirs.connected]);
      await new Promise((r) => setTimeout(r, 300));

      const statuses: number[] = [];
      for (let i = 0; i < 30 && !statuses.includes(402); i++) {
        const res = await fetch(`${dpUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${sa.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: MODEL,
            messages: [{ role: 'user', content: 'x' }],
            max_tokens: 100,
          }),
        });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      expect(statuses).toContain(402);
      await dp.flushUsage();
      await waitFor(() => mine.received.length >= 2, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      const got = mine.received.map((r) => r.budgetEvents);
      expect(got.map((e) => e.type)).toEqual(['warning', 'exhausted']);
      expect(got[0]).toMatchObject({
        eventType: 'sub_account.budget.warning',
        subAccountId: sa.id,
        capCents: 0.1,
      });
      expect(got[0].spentCents).toBeGreaterThanOrEqual(0.08);
      expect(got[1].spentCents).toBeLessThanOrEqual(0.1);
      expect(theirs.received).toEqual([]);
      await Promise.all([mine.close(), theirs.close()]);
    }, 60_000);
  },
);
