import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { batchWrites, holdWrites } from '../src/write-batching.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The Redis tier (TG_TIER_REDIS=0 when the test script found no Redis). */
const skip = process.env.TG_TIER_REDIS === '0';

/** Counts the socket's writes to the kernel (one `_write` or `_writev` each), passing them on. */
function countWrites(socket: Socket) {
  const counts = { write: 0, writev: 0 };
  const s = socket as Socket & {
    _write: (...a: unknown[]) => void;
    _writev: (...a: unknown[]) => void;
  };
  const write = s._write.bind(s);
  const writev = s._writev.bind(s);
  s._write = (...a) => {
    counts.write += 1;
    write(...a);
  };
  s._writev = (...a) => {
    counts.writev += 1;
    writev(...a);
  };
  return counts;
}

const streamOf = (client: Redis) => (client as unknown as { stream: Socket }).stream;

describe.skipIf(skip)('write batching (real Redis)', () => {
  const clients: Redis[] = [];
  const key = `test-batch-${process.pid}-${randomBytes(4).toString('hex')}`;
  const open = async (opts: { lazy?: boolean } = {}) => {
    const c = new Redis(REDIS_URL, {
      enableAutoPipelining: false,
      lazyConnect: opts.lazy ?? false,
    });
    clients.push(c);
    if (!opts.lazy) await c.ping();
    return c;
  };
  afterEach(async () => {
    await clients[0]?.del(key);
    for (const c of clients.splice(0)) c.disconnect();
  });

  /** 30 INCRs sent in one turn, each after holdWrites (as the scripts do). */
  const burst = (client: Redis) =>
    Promise.all(
      Array.from({ length: 30 }, () => {
        holdWrites(client);
        return client.incr(key);
      }),
    );

  it('sends the commands of one turn in one write, answered in order', async () => {
    const client = await open();
    batchWrites(client);
    const counts = countWrites(streamOf(client));
    const replies = await burst(client);
    expect(replies).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(counts).toEqual({ write: 0, writev: 1 });
  });

  it('leaves a client that did not opt in alone: one write per command', async () => {
    const client = await open();
    const counts = countWrites(streamOf(client));
    await burst(client);
    expect(counts.write + counts.writev).toBe(30);
  });

  it('holds a lone command only until the turn ends', async () => {
    const client = await open();
    batchWrites(client);
    holdWrites(client);
    expect(streamOf(client).writableCorked).toBe(1);
    const reply = client.incr(key);
    await new Promise((r) => setImmediate(r));
    expect(streamOf(client).writableCorked).toBe(0);
    expect(await reply).toBe(1);
  });

  it('holds nothing while the client is not connected (its offline queue sends later)', async () => {
    const client = await open({ lazy: true });
    batchWrites(client);
    holdWrites(client);
    expect(client.status).toBe('wait');
    expect(await client.incr(key)).toBe(1);
    holdWrites(client);
    expect(streamOf(client).writableCorked).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(streamOf(client).writableCorked).toBe(0);
  });
});
