import { afterEach, beforeEach, expect, it } from 'vitest';
import { DELTA_READ_LIMIT, MAX_LOGGED_DELTAS } from '../src/index.ts';
import type { UsageConsumer, UsageEntry } from '../src/types.ts';
import { type Harness, type Impl, sleep, waitFor } from './harness.ts';

/** PolicyBus and UsageStream behaviour, the same for every implementation. */
export function busSuite(impl: Impl) {
  let h: Harness;
  let consumers: UsageConsumer[];
  beforeEach(async () => {
    h = await impl.make();
    consumers = [];
  });
  afterEach(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await h.close();
  });

  it('announces revisions to subscribers and keeps the latest snapshot', async () => {
    expect(await h.policy.getLatest()).toBeNull();
    const seen: [number, string | null][] = [];
    const unsubscribe = await h.policy.subscribe((rev, payload) => seen.push([rev, payload]));
    await h.policy.setLatest('{"revision":1}', 1);
    await h.policy.publish(1, '{"delta":true}');
    await h.policy.publish(2, '');
    await waitFor(() => seen.length === 2, 2_000, 'announcements');
    expect(seen).toEqual([
      [1, '{"delta":true}'],
      [2, ''],
    ]);
    expect(await h.policy.getLatest()).toBe('{"revision":1}');
    await unsubscribe();
    await h.policy.publish(3, 'x');
    await sleep(50);
    expect(seen).toHaveLength(2);
  });

  it('keeps "latest" as a base and the deltas logged after it', async () => {
    expect(await h.policy.latestRevision()).toBeNull();
    expect(await h.policy.latestHistory()).toBeNull();
    expect(await h.policy.readDeltas(-1)).toEqual([]);
    expect(await h.policy.latestLength()).toBe(0);
    expect(await h.policy.setLatest('base-5', 5)).toBe(true);
    expect(await h.policy.latestRevision()).toBe(5);
    expect(await h.policy.latestLength()).toBe('base-5'.length);
    // A delta the base covers is not logged; the others are read back in revision order.
    await h.policy.appendDelta(5, 'd5');
    await h.policy.appendDelta(7, 'd7');
    await h.policy.appendDelta(6, 'd6');
    await h.policy.appendDelta(8, 'd8');
    expect(await h.policy.readDeltas(5)).toEqual([
      { revision: 6, payload: 'd6' },
      { revision: 7, payload: 'd7' },
      { revision: 8, payload: 'd8' },
    ]);
    expect(await h.policy.readDeltas(6, 1)).toEqual([{ revision: 7, payload: 'd7' }]);
    // The same revision logged again replaces the first.
    await h.policy.appendDelta(7, 'd7-again');
    expect((await h.policy.readDeltas(6)).map((d) => d.payload)).toEqual(['d7-again', 'd8']);
    // A new base drops the deltas it covers; an older base (a racing publisher) is refused whole.
    expect(await h.policy.setLatest('base-7', 7)).toBe(true);
    expect(await h.policy.readDeltas(0)).toEqual([{ revision: 8, payload: 'd8' }]);
    expect(await h.policy.setLatest('base-6', 6)).toBe(false);
    expect(await h.policy.getLatest()).toBe('base-7');
    expect(await h.policy.latestRevision()).toBe(7);
    expect(await h.policy.readDeltas(0)).toEqual([{ revision: 8, payload: 'd8' }]);
    // Another history (a new database, the same Redis) replaces it whatever its revision and
    // empties the log, later revisions included.
    expect(await h.policy.latestHistory()).toBe('');
    expect(await h.policy.setLatest('other-3', 3, 'history-b')).toBe(true);
    expect(await h.policy.latestHistory()).toBe('history-b');
    expect(await h.policy.latestRevision()).toBe(3);
    expect(await h.policy.getLatest()).toBe('other-3');
    expect(await h.policy.readDeltas(0)).toEqual([]);
    // Within that history, the revision rules hold again.
    await h.policy.appendDelta(4, 'b4');
    expect(await h.policy.setLatest('other-2', 2, 'history-b')).toBe(false);
    expect(await h.policy.readDeltas(0)).toEqual([{ revision: 4, payload: 'b4' }]);
  });

  it('bounds the log, dropping the oldest deltas', async () => {
    await h.policy.setLatest('base', 0);
    for (let rev = 1; rev <= MAX_LOGGED_DELTAS + 3; rev++) {
      await h.policy.appendDelta(rev, `d${rev}`);
    }
    const first = await h.policy.readDeltas(0, 2);
    expect(first.map((d) => d.revision)).toEqual([4, 5]);
    const all = await h.policy.readDeltas(0, MAX_LOGGED_DELTAS + 10);
    expect(all).toHaveLength(MAX_LOGGED_DELTAS);
    expect(all.at(-1)).toEqual({
      revision: MAX_LOGGED_DELTAS + 3,
      payload: `d${MAX_LOGGED_DELTAS + 3}`,
    });
    expect(await h.policy.readDeltas(0)).toHaveLength(DELTA_READ_LIMIT);
  });

  const consume = (
    group: string,
    consumer: string,
    handler: (entries: UsageEntry[]) => Promise<void>,
    extra: { claimIdleMs?: number; retryDelayMs?: number; batchSize?: number } = {},
  ) => {
    const c = h.usage.createConsumer({
      group,
      consumer,
      handler,
      blockMs: 50,
      retryDelayMs: 20,
      ...extra,
    });
    consumers.push(c);
    return c;
  };

  it('delivers again what a failing handler did not finish (at least once)', async () => {
    await h.usage.append(['a', 'b', 'c']);
    let calls = 0;
    const done: string[] = [];
    await consume('ingest', 'c1', async (entries) => {
      calls++;
      if (calls === 1) throw new Error('database hiccup');
      done.push(...entries.map((e) => e.data));
    }).start();
    await waitFor(() => done.length >= 3, 3_000, 'redelivery');
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(done.sort()).toEqual(['a', 'b', 'c']);
    await h.usage.append(['d']);
    await waitFor(() => done.length === 4, 3_000, 'new entry');
    expect(done[3]).toBe('d');
  });

  it('gives each consumer of a group distinct entries', async () => {
    const got = new Map<string, string[]>([
      ['c1', []],
      ['c2', []],
    ]);
    const handler = (name: string) => async (entries: UsageEntry[]) => {
      await sleep(5);
      got.get(name)!.push(...entries.map((e) => e.data));
    };
    await consume('ingest', 'c1', handler('c1'), { batchSize: 3 }).start();
    await consume('ingest', 'c2', handler('c2'), { batchSize: 3 }).start();
    const all = Array.from({ length: 40 }, (_, i) => `e${i}`);
    for (let i = 0; i < all.length; i += 4) {
      await h.usage.append(all.slice(i, i + 4));
      await sleep(2);
    }
    const total = () => got.get('c1')!.length + got.get('c2')!.length;
    await waitFor(() => total() >= 40, 5_000, 'all entries');
    await sleep(50);
    const [one, two] = [got.get('c1')!, got.get('c2')!];
    expect(one.length).toBeGreaterThan(0);
    expect(two.length).toBeGreaterThan(0);
    expect(one.filter((x) => two.includes(x))).toEqual([]);
    expect([...one, ...two].sort()).toEqual([...all].sort());
  });

  it('reclaims entries left pending by a dead consumer', async () => {
    await h.usage.append(['x', 'y']);
    let failures = 0;
    const dying = consume(
      'ingest',
      'dead',
      async () => {
        failures++;
        throw new Error('crash before ack');
      },
      { retryDelayMs: 60_000 },
    );
    await dying.start();
    await waitFor(() => failures === 1, 2_000, 'first delivery');
    await dying.stop();
    const done: string[] = [];
    await consume(
      'ingest',
      'alive',
      async (entries) => {
        done.push(...entries.map((e) => e.data));
      },
      { claimIdleMs: 100 },
    ).start();
    await waitFor(() => done.length === 2, 3_000, 'reclaim');
    expect(done.sort()).toEqual(['x', 'y']);
  });

  it('lets separate groups each read the whole stream', async () => {
    await h.usage.append(['p', 'q']);
    const a: string[] = [];
    const b: string[] = [];
    await consume('ingest', 'c', async (e) => void a.push(...e.map((x) => x.data))).start();
    await consume('audit', 'c', async (e) => void b.push(...e.map((x) => x.data))).start();
    await waitFor(() => a.length === 2 && b.length === 2, 3_000, 'both groups');
  });
}
