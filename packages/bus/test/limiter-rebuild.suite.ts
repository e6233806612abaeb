import { createKeys } from '@tollgate/redis';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLimiter } from '../src/limiter/memory.ts';
import { createRedisLimiter } from '../src/limiter/redis.ts';
import { CountersNotRebuiltError } from '../src/limits.ts';
import type { Counter, Limiter } from '../src/types.ts';
import { admitReq, counter, newId, okOf, settleReq } from './fixtures.ts';
import { deletePrefix, type Impl, REDIS_URL, uniquePrefix } from './harness.ts';

/** Two replicas created with `requireRebuilt`, and a way to lose every counter (Redis: delete the
 * prefix' keys, as a flush would; in-process: a restart, i.e. a new limiter). */
interface Rig {
  replica(i: 0 | 1): Limiter;
  lose(): Promise<void>;
  /** Redis only: deletes just the workspace's epoch marker (evicted alone). */
  loseMarker?(ws: string): Promise<void>;
  close(): Promise<void>;
}

async function makeRig(impl: Impl): Promise<Rig> {
  if (impl.name === 'in-process') {
    let limiter = createMemoryLimiter({ requireRebuilt: true });
    return {
      replica: () => limiter,
      async lose() {
        limiter = createMemoryLimiter({ requireRebuilt: true });
      },
      close: async () => {},
    };
  }
  const prefix = uniquePrefix('rebuild');
  const a = new Redis(REDIS_URL);
  const b = new Redis(REDIS_URL);
  const limiters = [a, b].map((client) =>
    createRedisLimiter({ client, prefix, requireRebuilt: true }),
  );
  return {
    replica: (i) => limiters[i]!,
    lose: () => deletePrefix(a, prefix),
    async loseMarker(ws) {
      await a.del(createKeys(prefix).countersEpoch(ws));
    },
    async close() {
      await deletePrefix(a, prefix);
      await Promise.all([a.quit(), b.quit()]);
    },
  };
}

export function rebuildSuite(impl: Impl) {
  let rig: Rig;
  let ws: string;
  beforeEach(async () => {
    rig = await makeRig(impl);
    ws = newId('ws');
  });
  afterEach(async () => rig.close());

  const spentOf = async (c: Counter) => (await rig.replica(1).spent(ws, [c]))[0]!.spentMicros;

  it('requests-per-day windows are raised to the books after a loss, never lowered', async () => {
    const sa = newId('sa');
    const now = Date.now();
    const spend = [counter(`sa:${sa}`, null), counter('ws', null)];
    const rate = { rpm: null, rpd: 5, tpm: null, maxConcurrent: null, estimatedTokens: 0 };
    const admit = (i: 0 | 1) =>
      rig.replica(i).admit(admitReq({ workspaceId: ws, subAccountId: sa, spend }, { rate }));
    // After the loss, before the rebuild: refused, nothing counted (a window from zero would let
    // a second day's quota through).
    await expect(admit(0)).rejects.toBeInstanceOf(CountersNotRebuiltError);
    expect(await rig.replica(0).raiseRequestsToday(ws, sa, 4, now)).toBe(true);
    expect(await rig.replica(1).raiseRequestsToday(ws, sa, 2, now)).toBe(false); // never lowered
    expect(await rig.replica(0).restore(ws, [], 'e1')).toBe(true);
    okOf(await admit(1)); // the 5th of the day
    const refused = await admit(0);
    expect(refused).toMatchObject({ ok: false, kind: 'rate', limit: 'rpd' });
    // Another day's window is not touched.
    expect(await rig.replica(0).raiseRequestsToday(ws, sa, 4, now + 86_400_000)).toBe(true);
    await expect(rig.replica(0).raiseRequestsToday(ws, sa, -1, now)).rejects.toThrow();
  });

  it("this minute's request and token windows are raised to the books after a loss, never lowered", async () => {
    const sa = newId('sa');
    const now = Date.now();
    const spend = [counter(`sa:${sa}`, null)];
    const admit = (i: 0 | 1, rate: { rpm: number | null; tpm: number | null; tokens: number }) =>
      rig.replica(i).admit(
        admitReq(
          { workspaceId: ws, subAccountId: sa, spend },
          {
            nowMs: now,
            rate: {
              rpd: null,
              maxConcurrent: null,
              rpm: rate.rpm,
              tpm: rate.tpm,
              estimatedTokens: rate.tokens,
            },
          },
        ),
      );
    // After the loss, before the rebuild: refused, nothing counted.
    await expect(admit(0, { rpm: 10, tpm: 1_000, tokens: 40 })).rejects.toBeInstanceOf(
      CountersNotRebuiltError,
    );
    const raise = (i: 0 | 1, requests: number, tokens: number, at = now) =>
      rig.replica(i).raiseThisMinute(ws, sa, { requests, tokens }, at);
    expect(await raise(0, 8, 900)).toBe(true);
    expect(await raise(1, 2, 10)).toBe(false); // never lowered
    expect(await rig.replica(0).restore(ws, [], 'e1')).toBe(true);
    okOf(await admit(1, { rpm: 10, tpm: 1_000, tokens: 100 })); // 9th request, 1 000 tokens
    expect(await admit(0, { rpm: 10, tpm: null, tokens: 0 })).toMatchObject({ ok: true }); // 10th
    expect(await admit(1, { rpm: 10, tpm: null, tokens: 0 })).toMatchObject({
      ok: false,
      kind: 'rate',
      limit: 'rpm',
    });
    expect(await admit(0, { rpm: null, tpm: 1_000, tokens: 1 })).toMatchObject({
      ok: false,
      kind: 'rate',
      limit: 'tpm',
    });
    // Another minute's windows are not touched.
    expect(await raise(0, 8, 900, now + 60_000)).toBe(true);
    await expect(raise(0, -1, 0)).rejects.toThrow();
  });

  it('fails closed for rate-limited requests until the workspace is rebuilt (each kind of limit)', async () => {
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, null), counter('ws', null)];
    const none = { rpm: null, rpd: null, tpm: null, maxConcurrent: null, estimatedTokens: 10 };
    for (const limit of [{ rpm: 5 }, { rpd: 5 }, { tpm: 1_000 }, { maxConcurrent: 2 }]) {
      const rate = { ...none, ...limit };
      await expect(
        rig.replica(0).admit(admitReq({ workspaceId: ws, subAccountId: sa, spend }, { rate })),
      ).rejects.toBeInstanceOf(CountersNotRebuiltError);
    }
    expect(await rig.replica(0).restore(ws, [], 'e1')).toBe(true);
    okOf(
      await rig
        .replica(1)
        .admit(
          admitReq({ workspaceId: ws, subAccountId: sa, spend }, { rate: { ...none, rpm: 5 } }),
        ),
    );
  });

  it('fails closed for capped requests until the workspace is rebuilt, uncapped ones go on', async () => {
    const sa = newId('sa');
    const capped = [counter(`sa:${sa}`, 10_000), counter('ws', null)];
    const uncapped = [counter(`sa:${sa}`, null), counter('ws', null)];
    expect(await rig.replica(0).epochs([ws])).toEqual([null]);
    await expect(
      rig.replica(0).admit(admitReq({ workspaceId: ws, subAccountId: sa, spend: capped })),
    ).rejects.toBeInstanceOf(CountersNotRebuiltError);
    // Nothing was reserved by the refusal.
    expect((await rig.replica(1).spent(ws, capped))[0]!.reservedMicros).toBe(0);
    okOf(
      await rig.replica(1).admit(admitReq({ workspaceId: ws, subAccountId: sa, spend: uncapped })),
    );
    expect(await rig.replica(0).restore(ws, [], 'e1')).toBe(true);
    expect(await rig.replica(1).epochs([ws, newId('ws')])).toEqual(['e1', null]);
    okOf(
      await rig.replica(0).admit(admitReq({ workspaceId: ws, subAccountId: sa, spend: capped })),
    );
  });

  it('rebuilds once per loss: racing restores apply the books once', async () => {
    const sa = newId('sa');
    const c = counter(`sa:${sa}`, 10_000);
    const results = await Promise.all([
      rig.replica(0).restore(ws, [{ counter: c, spentMicros: 6_000 }], 'a'),
      rig.replica(1).restore(ws, [{ counter: c, spentMicros: 6_500 }], 'b'),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect([6_000, 6_500]).toContain(await spentOf(c));
  });

  it('after a loss: books + what settled since, so the cap still holds', async () => {
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 10_000), counter('ws', null)];
    await rig.replica(0).restore(ws, [], 'first');
    const before = admitReq(
      { workspaceId: ws, subAccountId: sa, spend },
      { worstCaseMicros: 6_000 },
    );
    okOf(await rig.replica(0).admit(before));
    await rig.replica(0).settle(settleReq(before, 6_000));
    // A request admitted before the loss settles after it: its counter is re-created from zero.
    const inFlight = admitReq(
      { workspaceId: ws, subAccountId: sa, spend },
      { worstCaseMicros: 500 },
    );
    okOf(await rig.replica(1).admit(inFlight));
    await rig.lose();
    expect(await rig.replica(0).epochs([ws])).toEqual([null]);
    await rig.replica(1).settle(settleReq(inFlight, 500));
    expect(await spentOf(spend[0]!)).toBe(500);
    // The books hold the 6 000 settled before the loss (ingested); the 500 is not ingested yet.
    const books = [
      { counter: spend[0]!, spentMicros: 6_000 },
      { counter: spend[1]!, spentMicros: 6_000 },
    ];
    expect(await rig.replica(0).restore(ws, books, 'second')).toBe(true);
    expect(await spentOf(spend[0]!)).toBe(6_500);
    expect(await spentOf(spend[1]!)).toBe(6_500);
    const tooBig = await rig
      .replica(0)
      .admit(
        admitReq(
          { workspaceId: ws, subAccountId: sa, spend },
          { worstCaseMicros: 4_000, minMicros: 4_000 },
        ),
      );
    expect(tooBig).toMatchObject({ ok: false, kind: 'spend', spentMicros: 6_500 });
    // A later restore (marker present) changes nothing.
    expect(await rig.replica(1).restore(ws, books, 'third')).toBe(false);
    expect(await spentOf(spend[0]!)).toBe(6_500);
  });

  it.skipIf(impl.name !== 'redis')(
    'a counter that survived (only the marker was lost) is left alone',
    async () => {
      const sa = newId('sa');
      const c = counter(`sa:${sa}`, 10_000);
      const legacy = counter(`sa:${newId('sa')}`, 10_000);
      await rig.replica(0).restore(ws, [], 'first');
      const r = admitReq({ workspaceId: ws, subAccountId: sa, spend: [c] });
      okOf(await rig.replica(0).admit(r));
      await rig.replica(0).settle(settleReq(r, 700));
      // A counter written before rebuild markers existed (upgrade) holds the truth too.
      await rig.replica(0).seed(ws, legacy, 900);
      await rig.loseMarker!(ws);
      const books = [
        { counter: c, spentMicros: 700 },
        { counter: legacy, spentMicros: 900 },
      ];
      expect(await rig.replica(1).restore(ws, books, 'again')).toBe(true);
      expect(await spentOf(c)).toBe(700);
      expect(await spentOf(legacy)).toBe(900);
    },
  );

  describe('a request in flight across a loss (reinstate)', () => {
    const CAP = 10_000;
    const setup = async () => {
      const sa = newId('sa');
      const spend = [counter(`sa:${sa}`, CAP), counter('ws', null)];
      expect(await rig.replica(0).restore(ws, [], 'e1')).toBe(true);
      const rate = { rpm: null, rpd: null, tpm: null, maxConcurrent: 1, estimatedTokens: 0 };
      const a = admitReq(
        { workspaceId: ws, subAccountId: sa, spend },
        { rate, worstCaseMicros: 6_000 },
      );
      expect(okOf(await rig.replica(0).admit(a)).reservedMicros).toBe(6_000);
      await rig.lose();
      const back = (i: 0 | 1) =>
        rig.replica(i).reinstate({
          workspaceId: ws,
          subAccountId: sa,
          requestId: a.requestId,
          spend,
          reservedMicros: 6_000,
          concurrencySlot: true,
          nowMs: Date.now(),
          reservationTtlMs: 30_000,
        });
      // Another request of the sub-account, without a concurrency limit (worst case 5 000).
      const other = () =>
        admitReq({ workspaceId: ws, subAccountId: sa, spend }, { worstCaseMicros: 5_000 });
      const books = [{ counter: spend[0]!, spentMicros: 1_000 }];
      return { sa, spend, rate, a, back, other, books };
    };

    it('its slot comes back at once, its reservation once the counters are rebuilt, and it settles in full', async () => {
      const { sa, spend, rate, a, back, other, books } = await setup();
      // Not rebuilt yet: only the concurrency slot is put back.
      expect(await back(1)).toEqual({ sealed: false, reservedMicros: 0 });
      const uncapped = [counter(`sa:${sa}`, null)];
      const limited = () =>
        rig
          .replica(1)
          .admit(admitReq({ workspaceId: ws, subAccountId: sa, spend: uncapped }, { rate }));
      // A concurrency-limited request is refused until the rebuild (as any limited one) …
      await expect(limited()).rejects.toBeInstanceOf(CountersNotRebuiltError);
      expect((await rig.replica(1).spent(ws, spend))[0]!.reservedMicros).toBe(0);
      expect(await rig.replica(0).restore(ws, books, 'e2')).toBe(true);
      // … and then finds the running request's slot already back.
      expect(await limited()).toMatchObject({ ok: false, kind: 'rate', limit: 'concurrency' });
      expect(await back(1)).toEqual({ sealed: true, reservedMicros: 6_000 });
      expect(await back(0)).toEqual({ sealed: true, reservedMicros: 0 }); // idempotent
      // 10 000 − 1 000 spent − 6 000 held: the next request is lowered to 3 000.
      const b = other();
      expect(okOf(await rig.replica(0).admit(b))).toMatchObject({
        reservedMicros: 3_000,
        clamped: true,
      });
      expect(await rig.replica(1).settle(settleReq(a, 5_900))).toEqual({
        settled: true,
        chargedMicros: 5_900,
      });
      expect(await rig.replica(0).settle(settleReq(b, 3_000))).toEqual({
        settled: true,
        chargedMicros: 3_000,
      });
      expect(await spentOf(spend[0]!)).toBe(9_900);
      expect((await rig.replica(1).spent(ws, spend))[0]!.reservedMicros).toBe(0);
      // Settled: nothing comes back any more, and the slot is free.
      expect(await back(0)).toEqual({ sealed: true, reservedMicros: -1 });
      okOf(
        await rig
          .replica(1)
          .admit(admitReq({ workspaceId: ws, subAccountId: sa, spend: uncapped }, { rate })),
      );
    });

    it('never more than fits: what others reserved since the rebuild is respected, and the settle is bounded', async () => {
      const { spend, a, back, other, books } = await setup();
      expect(await rig.replica(0).restore(ws, books, 'e2')).toBe(true);
      // Admitted after the rebuild, before the request in flight was put back: 5 000 of 9 000 left.
      const b = other();
      expect(okOf(await rig.replica(1).admit(b)).reservedMicros).toBe(5_000);
      expect(await back(0)).toEqual({ sealed: true, reservedMicros: 4_000 });
      const [row] = await rig.replica(1).spent(ws, spend);
      expect(row!.reservedMicros).toBe(9_000);
      // It costs 6 000 but holds 4 000: charged what is left under the cap beside b's 5 000.
      expect(await rig.replica(1).settle(settleReq(a, 6_000))).toEqual({
        settled: true,
        chargedMicros: 4_000,
      });
      expect(await rig.replica(0).settle(settleReq(b, 5_000))).toEqual({
        settled: true,
        chargedMicros: 5_000,
      });
      expect(await spentOf(spend[0]!)).toBe(CAP);
    });
  });
}
