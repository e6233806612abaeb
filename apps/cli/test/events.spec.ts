import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPgDatabase, pgAvailable, redisAvailable } from '@tollgate/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../../data-plane/test/fake-upstream.ts';
import { eventually, type Running, tollgate } from './processes.ts';

const MODEL = 'openai/gpt-5.4-mini';
const ADMIN_KEY = `sk-tg-admin-${randomBytes(24).toString('hex')}`;

interface Delivery {
  id: string;
  type: string;
  body: { type: string; data: Record<string, unknown> };
}

/** Standard Webhooks verification, written from the scheme (not our signer). */
function verify(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  raw: string,
): boolean {
  const id = String(headers['webhook-id']);
  const ts = String(headers['webhook-timestamp']);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${raw}`).digest();
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  return String(headers['webhook-signature'])
    .split(' ')
    .some((sig) => {
      const [version, value] = sig.split(',');
      const got = Buffer.from(value ?? '', 'base64');
      return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
    });
}

describe.skipIf(!pgAvailable() || !redisAvailable())(
  'events across processes: two control planes ingest one usage stream',
  () => {
    let upstream: FakeUpstream;
    let db: { url: string; drop(): Promise<void> };
    let receiver: Server;
    let receiverUrl: string;
    const got: { headers: Record<string, string | string[] | undefined>; raw: string }[] = [];
    const procs: Running[] = [];
    let cps: string[];
    let dp: string;
    beforeAll(async () => {
      upstream = await startFakeUpstream();
      db = await createPgDatabase();
      receiver = createServer((req, res) => {
        let raw = '';
        req.on('data', (c) => {
          raw += c;
        });
        req.on('end', () => {
          got.push({ headers: req.headers, raw });
          res.writeHead(200).end('ok');
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const shared = {
        DATABASE_URL: db.url,
        REDIS_URL: 'redis://127.0.0.1:6379',
        TOLLGATE_REDIS_PREFIX: `tgev${randomBytes(4).toString('hex')}`,
        TOLLGATE_SECRET_KEY: randomBytes(32).toString('base64'),
        TOLLGATE_ADMIN_KEY: ADMIN_KEY,
        TOLLGATE_ALLOW_PRIVATE_WEBHOOKS: 'true',
        OPENAI_BASE_URL: upstream.url,
        TOLLGATE_CONTROL_PLANE_PORT: '0',
        TOLLGATE_DATA_PLANE_PORT: '0',
      };
      const control = [tollgate(['control-plane'], shared)];
      procs.push(...control);
      cps = [await control[0]!.listening('control')];
      // The second control plane starts once the first has migrated the database.
      const second = tollgate(['control-plane'], shared);
      procs.push(second);
      cps.push(await second.listening('control'));
      const data = tollgate(['data-plane'], { ...shared, TOLLGATE_CONTROL_PLANE_URL: cps[0]! });
      procs.push(data);
      dp = await data.listening('data');
    });
    afterAll(async () => {
      for (const p of procs.reverse()) await p.stop();
      await new Promise((r) => receiver?.close(r));
      await upstream?.close();
      await db?.drop();
    });

    const admin = async (base: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown> & { key?: string },
      };
    };

    it('delivers created, warning and exhausted once each, signed, whichever replica ingested', async () => {
      const hook = await admin(cps[1]!, 'POST', '/v1/webhooks', {
        url: receiverUrl,
        events: [
          'sub_account.created',
          'sub_account.budget.warning',
          'sub_account.budget.exhausted',
        ],
      });
      expect(hook.status).toBe(201);
      const secret = String(hook.body.secret);
      // ~54 µ$ per request: 0.05 cents (500 µ$) is exhausted after ~9 requests.
      const sa = await admin(cps[0]!, 'POST', '/v1/sub-accounts', {
        name: 'events',
        spend_cap_cents: 0.05,
      });
      expect(sa.status).toBe(201);
      const client = new OpenAI({ baseURL: `${dp}/v1`, apiKey: sa.body.key!, maxRetries: 0 });
      await eventually(
        async () => (await client.models.list().catch(() => undefined)) ?? undefined,
        1_000,
        'the key known to the data plane',
      );
      // Sequential requests until refused: spend crosses 80 % and then reaches the cap.
      for (let i = 0; i < 40; i++) {
        const res = await client.chat.completions
          .create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
          .catch((e) => e);
        if (res?.status === 402) break;
      }
      const types = () => got.map((g) => (JSON.parse(g.raw) as Delivery['body']).type);
      await eventually(
        async () => (types().includes('sub_account.budget.exhausted') ? true : undefined),
        15_000,
        'the exhausted webhook',
      );
      await new Promise((r) => setTimeout(r, 1_500)); // room for a duplicate to show up
      const ofThis = got.filter(
        (g) => (JSON.parse(g.raw) as Delivery['body']).data.sub_account_id === sa.body.id,
      );
      const kinds = ofThis.map((g) => (JSON.parse(g.raw) as Delivery['body']).type);
      expect(kinds.filter((k) => k === 'sub_account.created')).toHaveLength(1);
      expect(kinds.filter((k) => k === 'sub_account.budget.warning')).toHaveLength(1);
      expect(kinds.filter((k) => k === 'sub_account.budget.exhausted')).toHaveLength(1);
      // No order is asserted between them: two dispatchers deliver concurrently and webhooks promise
      // at-least-once delivery, not ordering (receivers order by the event's own timestamp).
      for (const g of ofThis) expect(verify(secret, g.headers, g.raw)).toBe(true);
      // The delivery log agrees: one succeeded attempt each.
      const log = await admin(cps[0]!, 'GET', `/v1/webhooks/${String(hook.body.id)}/deliveries`);
      expect(log.status).toBe(200);
      const deliveries = log.body.data as { status: string; attempts: unknown[] }[];
      expect(deliveries.length).toBeGreaterThanOrEqual(3);
      expect(deliveries.every((d) => d.status === 'succeeded' && d.attempts.length === 1)).toBe(
        true,
      );
    });
  },
);
