import net from 'node:net';
import { createKeys } from '@tollgate/redis';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createBus } from '../src/factory.ts';
import { createRedisLimiter } from '../src/limiter/redis.ts';
import { admitReq, counter, newId, okOf, settleReq } from './fixtures.ts';
import { deletePrefix, REDIS_URL, scanKeys, sleep, uniquePrefix, waitFor } from './harness.ts';

/** What only the Redis implementation can show: where keys live, key lifetimes, the factory. */
describe('redis specifics', () => {
  const client = new Redis(REDIS_URL);
  const prefixes: string[] = [];
  const prefix = () => {
    const p = uniquePrefix('r');
    prefixes.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(client, p);
    await client.quit();
  });

  it('keeps every key of an admission in the workspace hash slot, each with a TTL', async () => {
    const p = prefix();
    const limiter = createRedisLimiter({ client, prefix: p });
    const ws = newId('ws');
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 10_000), counter('tag:a', 10_000), counter('ws', null)];
    const rate = { rpm: 10, rpd: 100, tpm: 1_000, maxConcurrent: 5, estimatedTokens: 10 };
    okOf(await limiter.admit(admitReq({ workspaceId: ws, subAccountId: sa, spend }, { rate })));
    const found = await scanKeys(client, `{tg:${p}:*`);
    expect(found.length).toBeGreaterThanOrEqual(3 * 3 + 5);
    for (const key of found) {
      expect(key.startsWith(`{tg:${p}:ws:${ws}}:`)).toBe(true);
      expect(await client.pttl(key)).toBeGreaterThan(0);
    }
    const [state] = found.filter((k) => k.includes(':cs:m2026-11:sa:'));
    expect(await client.pttl(state!)).toBeGreaterThan(39 * 86_400_000);
  });

  it('a lost connection refuses admissions at once instead of queueing them', async () => {
    // A server that accepts once, then is gone: the client reconnects once a minute, and a queued
    // command would wait out its 30 s timeout.
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const lost = new Redis(port, '127.0.0.1', {
      commandTimeout: 30_000,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 60_000,
    });
    lost.on('error', () => {});
    try {
      await waitFor(() => lost.status === 'reconnecting');
      const limiter = createRedisLimiter({ client: lost, prefix: prefix() });
      const ws = newId('ws');
      const spend = [counter(`sa:${newId('sa')}`, 10_000)];
      const t0 = Date.now();
      await expect(
        limiter.admit(admitReq({ workspaceId: ws, subAccountId: 'sa_x', spend })),
      ).rejects.toThrow(/reconnecting/);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      lost.disconnect();
      await new Promise((r) => server.close(r));
    }
  });

  it('createBus picks Redis with a URL and in-process without, behind the same interfaces', async () => {
    const local = createBus({ prefix: 'embedded' });
    expect(local.mode).toBe('in-process');
    await local.close();

    const p = prefix();
    const bus = createBus({ redisUrl: REDIS_URL, prefix: p });
    expect(bus.mode).toBe('redis');
    const base = {
      workspaceId: newId('ws'),
      subAccountId: newId('sa'),
      spend: [counter('ws', 500)],
    };
    const r = admitReq(base, { worstCaseMicros: 800, minMicros: 100 });
    expect(okOf(await bus.limiter.admit(r))).toMatchObject({ reservedMicros: 500, clamped: true });
    expect(await bus.limiter.settle(settleReq(r, 400))).toEqual({
      settled: true,
      chargedMicros: 400,
    });
    await bus.policy.setLatest('snap', 1);
    expect(await bus.policy.getLatest()).toBe('snap');
    await bus.close();
  });

  it('stops a consumer blocked on a long read at once', async () => {
    const bus = createBus({ redisUrl: REDIS_URL, prefix: prefix() });
    const c = bus.usage.createConsumer({
      group: 'g',
      consumer: 'c',
      blockMs: 10_000,
      handler: async () => {},
    });
    await c.start();
    await sleep(50);
    const t = Date.now();
    await c.stop();
    expect(Date.now() - t).toBeLessThan(1_000);
    await bus.close();
  });

  it('lets a long blocking read outlive the shared command timeout', async () => {
    const bus = createBus({ redisUrl: REDIS_URL, prefix: prefix(), commandTimeoutMs: 200 });
    const errors: unknown[] = [];
    const got: string[] = [];
    const c = bus.usage.createConsumer({
      group: 'g',
      consumer: 'c',
      blockMs: 1_000,
      handler: async (entries) => void got.push(...entries.map((e) => e.data)),
      onError: (err) => errors.push(err),
    });
    await c.start();
    await sleep(500);
    await bus.usage.append(['late']);
    await waitFor(() => got.length === 1, 2_000, 'entry');
    expect(errors).toEqual([]);
    await bus.close();
  });

  it('consumers leave the group: a stopped one at once, a vanished one once idle with nothing pending', async () => {
    const p = prefix();
    const stream = createKeys(p).usageStream();
    const bus = createBus({ redisUrl: REDIS_URL, prefix: p });
    const names = async () =>
      ((await client.xinfo('CONSUMERS', stream, 'g')) as unknown[][]).map((f) => String(f[1]));
    // Two replicas that vanished (killed: they could not leave): one holding an entry unacked.
    await client.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    await bus.usage.append(['held']);
    await client.xreadgroup('GROUP', 'g', 'holder', 'COUNT', 1, 'STREAMS', stream, '>');
    await client.xgroup('CREATECONSUMER', stream, 'g', 'idle');
    expect((await names()).sort()).toEqual(['holder', 'idle']);
    await sleep(150);
    const c = bus.usage.createConsumer({
      group: 'g',
      consumer: 'live',
      blockMs: 100,
      claimIdleMs: 60_000,
      forgetIdleMs: 100,
      handler: async () => {},
    });
    await c.start();
    // The idle one with nothing pending is forgotten; the one holding an entry stays (for a claim).
    for (let i = 0; i < 40 && !(await names()).includes('live'); i++) await sleep(50);
    expect((await names()).sort()).toEqual(['holder', 'live']);
    // A graceful stop leaves the group.
    await c.stop();
    expect(await names()).toEqual(['holder']);
    await bus.close();
  });

  it('deletes the entries every group has acknowledged; never one still pending or unread', async () => {
    const p = prefix();
    const stream = createKeys(p).usageStream();
    const bus = createBus({ redisUrl: REDIS_URL, prefix: p });
    // Another group that has read nothing yet (an auditor's, say): it needs every entry.
    await client.xgroup('CREATE', stream, 'other', '0', 'MKSTREAM');
    await bus.usage.append(Array.from({ length: 2_000 }, (_, i) => `e${i}`));
    let handled = 0;
    const c = bus.usage.createConsumer({
      group: 'g',
      consumer: 'c',
      blockMs: 50,
      trimEveryMs: 0,
      handler: async (entries) => {
        handled += entries.length;
      },
    });
    await c.start();
    const next = async (data: string) => {
      const before = handled;
      await bus.usage.append([data]);
      await waitFor(() => handled > before, 5_000, data);
      // The handler has run; its acknowledgement (and the trim after it) follow.
      await sleep(200);
    };
    await waitFor(() => handled === 2_000, 10_000, 'the first 2 000');
    await next('tick-1');
    expect(await client.xlen(stream)).toBe(2_001);

    // The other group reads the first 1 000 without acknowledging them: still all kept.
    const read = (await client.xreadgroup(
      'GROUP',
      'other',
      'o',
      'COUNT',
      1_000,
      'STREAMS',
      stream,
      '>',
    )) as [string, [string, string[]][]][];
    const ids = read[0]![1].map(([id]) => id);
    await next('tick-2');
    expect(await client.xlen(stream)).toBe(2_002);
    // Once it acknowledges them, what both groups are done with goes (whole stream nodes at a
    // time: `~`), what it has not read stays.
    await client.xack(stream, 'other', ...ids);
    await next('tick-3');
    const afterOther = await client.xlen(stream);
    expect(afterOther).toBeGreaterThanOrEqual(1_003);
    expect(afterOther).toBeLessThanOrEqual(1_003 + 100);
    const first = (await client.xrange(stream, '-', '+', 'COUNT', 1))[0]![1][1];
    expect(Number(first!.slice(1))).toBeGreaterThanOrEqual(900);
    // Without it, the stream keeps only what the live group has not finished.
    await client.xgroup('DESTROY', stream, 'other');
    await next('tick-4');
    let left = await client.xlen(stream);
    for (let i = 0; i < 50 && left >= 150; i++) {
      await sleep(100);
      left = await client.xlen(stream);
    }
    expect(left).toBeLessThan(150);
    await bus.close();
  });

  it('recreates the usage stream and its group when Redis lost them, and keeps consuming', async () => {
    const p = prefix();
    const bus = createBus({ redisUrl: REDIS_URL, prefix: p });
    const got: string[] = [];
    const c = bus.usage.createConsumer({
      group: 'g',
      consumer: 'c',
      blockMs: 100,
      retryDelayMs: 50,
      handler: async (entries) => void got.push(...entries.map((e) => e.data)),
    });
    await c.start();
    await bus.usage.append(['before']);
    await waitFor(() => got.length === 1, 2_000, 'first entry');
    await deletePrefix(client, p); // as a flush would: stream and consumer group gone
    await sleep(300);
    await bus.usage.append(['after']);
    await waitFor(() => got.includes('after'), 5_000, 'entry appended after the loss');
    await bus.close();
  });

  it('tells a policy subscriber to re-read after its connection dropped', async () => {
    const p = prefix();
    const bus = createBus({ redisUrl: REDIS_URL, prefix: p });
    const seen: [number, string | null][] = [];
    await bus.policy.subscribe((rev, payload) => seen.push([rev, payload]));
    const list = (await client.client('LIST')) as string;
    const line = list.split('\n').find((l) => l.includes(`name=tg:${p}:policy-sub`));
    const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
    expect(id).toBeDefined();
    await client.client('KILL', 'ID', id!);
    await waitFor(() => seen.length === 1, 5_000, 'reconnect notice');
    expect(seen[0]).toEqual([-1, null]);
    await bus.policy.publish(7, 'after');
    await waitFor(() => seen.length === 2, 2_000, 'announcement after reconnect');
    expect(seen[1]).toEqual([7, 'after']);
    await bus.close();
  });
});
