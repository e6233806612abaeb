import { createMemoryPolicyBus } from '@tollgate/bus';
import { encodeSnapshot } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../src/log.ts';
import { createPolicyHolder } from '../src/policy/holder.ts';
import { snapshot, subAccount } from './harness.ts';

describe('policy holder: the poll of "latest"', () => {
  it('does not decode again a snapshot it holds; decodes a newer one', async () => {
    const bus = createMemoryPolicyBus();
    const warnings: string[] = [];
    const log: Logger = {
      debug() {},
      info() {},
      warn: (msg, fields) => void warnings.push(`${msg} ${JSON.stringify(fields)}`),
      error() {},
    };
    const held = encodeSnapshot(snapshot(7, [subAccount('sa_a')]).body);
    await bus.setLatest(held);
    const holder = createPolicyHolder({ bus, basePrices: () => undefined, log, pollMs: 60_000 });
    await holder.start();
    try {
      expect(holder.revision()).toBe(7);
      // The same revision again, its body damaged: a poll that decoded it would refuse it (bad
      // checksum) and say so; one that reads its head knows it holds revision 7 and stops there.
      // At 100k sub-accounts that decode took seconds of every 5 s poll.
      await bus.setLatest(held.replace('"sa_a"', '"sa_z"'));
      await holder.refresh();
      expect(warnings).toEqual([]);
      expect(holder.revision()).toBe(7);
      // A newer one is decoded (and refused when damaged, keeping the last good).
      const newer = encodeSnapshot(snapshot(8, [subAccount('sa_a')]).body);
      await bus.setLatest(newer.replace('"sa_a"', '"sa_z"'));
      await holder.refresh();
      expect(warnings.join('\n')).toContain('latest policy refused');
      expect(holder.revision()).toBe(7);
      await bus.setLatest(newer);
      await holder.refresh();
      expect(holder.revision()).toBe(8);
    } finally {
      await holder.stop();
    }
  });
});
