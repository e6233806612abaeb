import { describe, expect, it } from 'vitest';
import { IMPLS, sleep, waitFor } from './harness.ts';

for (const impl of IMPLS) {
  describe(`usage lag (${impl.name})`, () => {
    it('counts undelivered and pending entries and the age of the oldest unacknowledged', async () => {
      const h = await impl.make();
      try {
        expect(await h.usage.lag!('g')).toEqual({
          pending: 0,
          undelivered: 0,
          oldestUnackedMs: null,
        });
        await h.usage.append(['a', 'b', 'c']);
        await sleep(30);
        const before = await h.usage.lag!('g');
        expect(before.pending).toBe(0);
        expect(before.undelivered).toBe(3);
        expect(before.oldestUnackedMs).toBeGreaterThanOrEqual(20);
        // A consumer that takes entries and never finishes: they stay pending.
        let release: () => void = () => {};
        const held = new Promise<void>((r) => {
          release = r;
        });
        let got = 0;
        const consumer = h.usage.createConsumer({
          group: 'g',
          consumer: 'c1',
          blockMs: 20,
          handler: async (entries) => {
            got += entries.length;
            await held;
          },
        });
        await consumer.start();
        await waitFor(() => got === 3, 5_000, 'entries delivered');
        const mid = await h.usage.lag!('g');
        expect(mid.pending).toBe(3);
        expect(mid.undelivered).toBe(0);
        expect(mid.oldestUnackedMs).toBeGreaterThanOrEqual(before.oldestUnackedMs!);
        release();
        const until = Date.now() + 5_000;
        let after = await h.usage.lag!('g');
        while (after.pending > 0 && Date.now() < until) {
          await sleep(20);
          after = await h.usage.lag!('g');
        }
        expect(after).toEqual({ pending: 0, undelivered: 0, oldestUnackedMs: null });
        await consumer.stop();
      } finally {
        await h.close();
      }
    });
  });
}
