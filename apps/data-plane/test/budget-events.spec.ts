import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribe, waitFor } from '../../control-plane/test/events-harness.ts';
import type { DataPlane } from '../src/index.ts';
import { type Stack, startStack } from './stack.ts';

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
    let stack: Stack;
    let dp: DataPlane;
    let wsB: string;
    let dpUrl: string;

    const admin = (method: string, path: string, body?: unknown, key = ADMIN_KEY) =>
      stack.admin(method, path, body, key);

    beforeAll(async () => {
      // Replica A ingests and publishes; replica B only serves the subscriber.
      stack = await startStack({
        kind: 'pglite',
        redisUrl: REDIS_URL,
        prefix,
        adminKey: ADMIN_KEY,
        rootKey: ROOT_KEY,
        secretKey: Buffer.alloc(32, 5),
        outputTokens: 100,
        counterCatchUp: false,
        eventServices: true,
        replicas: 1,
        ingestBlockMs: 50,
        requireRebuiltCounters: false,
        dataPlane: { usageBatch: { flushMs: 5 }, policyPollMs: 200 },
        prices: { [MODEL]: 100 },
      });
      wsB = `${stack.replicaUrls[0]!.replace(/^http:/, 'ws:')}/graphql`;
      dp = stack.planes[0]!;
      dpUrl = stack.planeUrls[0]!;
    });

    afterAll(async () => {
      await stack?.close();
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

    it('rate_limited says the limit and its Retry-After; request_failed the provider status', async () => {
      const limited = (
        await admin('POST', '/v1/sub-accounts', { name: 'limited', rate_limit_rpm: 1 })
      ).body as { id: string; key: string };
      const failing = (await admin('POST', '/v1/sub-accounts', { name: 'failing' })).body as {
        id: string;
        key: string;
      };
      const events = `subscription ($id: ID) { budgetEvents(subAccountId: $id) { type data } }`;
      const ask = (key: string) =>
        fetch(`${dpUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
        });
      for (const sa of [limited, failing])
        await waitFor(async () => (await ask(sa.key)).status !== 401);
      const onLimited = subscribe(wsB, ADMIN_KEY, events, { id: limited.id });
      const onFailing = subscribe(wsB, ADMIN_KEY, events, { id: failing.id });
      await Promise.all([onLimited.connected, onFailing.connected]);
      await new Promise((r) => setTimeout(r, 300));

      // One request a minute: the next one is refused (or the one after, if a minute began).
      let refused = await ask(limited.key);
      if (refused.status !== 429) refused = await ask(limited.key);
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      stack.upstream.options.failWith = 503;
      try {
        expect((await ask(failing.key)).status).toBe(502);
      } finally {
        stack.upstream.options.failWith = undefined;
      }
      await dp.flushUsage();
      await waitFor(() => onLimited.received.length >= 1 && onFailing.received.length >= 1);
      expect(onLimited.received[0].budgetEvents).toMatchObject({
        type: 'rate_limited',
        data: { limit: 'rpm', limit_value: 1, retry_after_seconds: retryAfter },
      });
      expect(onFailing.received[0].budgetEvents).toMatchObject({
        type: 'request_failed',
        data: { error_class: 'upstream_error', http_status: 502, provider_status: 503 },
      });
      await Promise.all([onLimited.close(), onFailing.close()]);
    }, 60_000);
  },
);
