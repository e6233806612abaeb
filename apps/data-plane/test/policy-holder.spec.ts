import { createMemoryPolicyBus } from '@tollgate/bus';
import { encodeDelta, encodeSnapshot } from '@tollgate/policy';
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
    await bus.setLatest(held, 7);
    const holder = createPolicyHolder({ bus, basePrices: () => undefined, log, pollMs: 60_000 });
    await holder.start();
    try {
      expect(holder.revision()).toBe(7);
      // The same revision again, its body damaged: a poll that decoded it would refuse it (bad
      // checksum) and say so; one that reads its head knows it holds revision 7 and stops there.
      // At 100k sub-accounts that decode took seconds of every 5 s poll.
      await bus.setLatest(held.replace('"sa_a"', '"sa_z"'), 7);
      await holder.refresh();
      expect(warnings).toEqual([]);
      expect(holder.revision()).toBe(7);
      // A newer one is decoded (and refused when damaged, keeping the last good).
      const newer = encodeSnapshot(snapshot(8, [subAccount('sa_a')]).body);
      await bus.setLatest(newer.replace('"sa_a"', '"sa_z"'), 8);
      await holder.refresh();
      expect(warnings.join('\n')).toContain('latest policy refused');
      expect(holder.revision()).toBe(7);
      await bus.setLatest(newer, 8);
      await holder.refresh();
      expect(holder.revision()).toBe(8);
    } finally {
      await holder.stop();
    }
  });

  /** A delta from `base` changing sa_a's status. */
  const statusDelta = (base: number, status: 'active' | 'suspended') =>
    encodeDelta({
      version: 1,
      baseRevision: base,
      revision: base + 1,
      upserts: { subAccounts: [subAccount('sa_a', { status })] },
      deletes: {},
    });

  it('reaches the newest revision from the base and the deltas logged after it', async () => {
    const bus = createMemoryPolicyBus();
    const warnings: string[] = [];
    const log: Logger = {
      debug() {},
      info() {},
      warn: (msg) => void warnings.push(msg),
      error() {},
    };
    await bus.setLatest(encodeSnapshot(snapshot(20, [subAccount('sa_a')]).body), 20);
    await bus.appendDelta(21, statusDelta(20, 'suspended'));
    await bus.appendDelta(22, statusDelta(21, 'active'));
    await bus.appendDelta(23, statusDelta(22, 'suspended'));
    const holder = createPolicyHolder({ bus, basePrices: () => undefined, log, pollMs: 60_000 });
    await holder.start();
    try {
      // A plane starting now: the base, then three deltas — no newer base was ever built.
      expect(holder.revision()).toBe(23);
      expect(holder.current()?.subAccounts.get('sa_a')?.status).toBe('suspended');
      // A missed announcement: the next read finds the delta in the log.
      await bus.appendDelta(24, statusDelta(23, 'active'));
      await holder.refresh();
      expect(holder.revision()).toBe(24);
      expect(holder.current()?.subAccounts.get('sa_a')?.status).toBe('active');
      // A revision missing from the log (published as a full snapshot instead): the plane stays at
      // the last revision it can reach, quietly, until the snapshot is there.
      await bus.appendDelta(26, statusDelta(25, 'suspended'));
      await holder.refresh();
      expect(holder.revision()).toBe(24);
      expect(warnings).toEqual([]);
      await bus.setLatest(encodeSnapshot(snapshot(25, [subAccount('sa_a')]).body), 25);
      await holder.refresh();
      expect(holder.revision()).toBe(26);
      expect(holder.current()?.subAccounts.get('sa_a')?.status).toBe('suspended');
      // A damaged delta is refused with a warning; the policy reached stays in force.
      await bus.appendDelta(27, statusDelta(26, 'active').replace('"active"', '"deleted"'));
      await holder.refresh();
      expect(holder.revision()).toBe(26);
      expect(warnings.join('\n')).toContain('policy log not applied');
    } finally {
      await holder.stop();
    }
  });

  it('replaces the policy with a base of another history, whatever its revision', async () => {
    const bus = createMemoryPolicyBus();
    const warnings: string[] = [];
    const log: Logger = {
      debug() {},
      info() {},
      warn: (msg) => void warnings.push(msg),
      error() {},
    };
    await bus.setLatest(encodeSnapshot(snapshot(50, [subAccount('sa_a')]).body), 50, 'first');
    const holder = createPolicyHolder({ bus, basePrices: () => undefined, log, pollMs: 60_000 });
    await holder.start();
    try {
      expect(holder.revision()).toBe(50);
      // The database replaced (or restored) behind the same Redis: a new history from revision 3.
      await bus.setLatest(encodeSnapshot(snapshot(3, [subAccount('sa_b')]).body), 3, 'second');
      await bus.appendDelta(
        4,
        encodeDelta({
          version: 1,
          baseRevision: 3,
          revision: 4,
          upserts: { subAccounts: [subAccount('sa_b', { status: 'suspended' })] },
          deletes: {},
        }),
      );
      await holder.refresh();
      // Its base, then its log.
      expect(holder.revision()).toBe(4);
      expect(holder.current()?.subAccounts.get('sa_a')).toBeUndefined();
      expect(holder.current()?.subAccounts.get('sa_b')?.status).toBe('suspended');
      expect(warnings).toEqual(['policy of another history installed']);
      // Within one history, a lower revision is still refused.
      await bus.setLatest(encodeSnapshot(snapshot(2, [subAccount('sa_c')]).body), 2, 'second');
      await holder.refresh();
      expect(holder.revision()).toBe(4);
    } finally {
      await holder.stop();
    }
  });
});
