import { compile, lookupKey } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import { recapped, reservedCounters, spendCounters } from '../src/enforce/admission.ts';
import { sha256, snapshot, subAccount, WS } from './harness.ts';

/** `recapped`: which counters a request admitted under one policy must also reserve on under the
 * next (enforce/holds.ts puts the reservations there). */
describe('recapped', () => {
  const subs = [subAccount('sa_1')];
  const at = Date.parse('2026-12-07T10:00:00Z');
  const policyOf = (revision: number, opts: Parameters<typeof snapshot>[2] = {}) => {
    const { body, keys } = snapshot(revision, subs, opts);
    return { policy: compile({ ...body, checksum: '' }), key: keys.sa_1! };
  };
  const admittedUnder = (opts: Parameters<typeof snapshot>[2], tags: string[]) => {
    const { policy, key } = policyOf(1, opts);
    const chain = lookupKey(policy, sha256(key))!;
    return { chain, tags, counters: spendCounters(policy, chain, tags, at), admittedMs: at };
  };
  /** The counters `recapped` put in the list: entries that are not the request's own. */
  const addedTo = (
    flight: ReturnType<typeof admittedUnder>,
    counters: ReturnType<typeof recapped> & object,
  ) => counters.filter((c) => !flight.counters.includes(c)).map((c) => c.counter);
  const budget = (
    tag: string,
    capMicros: number,
    budgetPeriod: 'monthly' | 'daily' = 'monthly',
  ) => ({
    id: `bud_${tag}`,
    workspaceId: WS,
    tag,
    capMicros,
    budgetPeriod,
  });

  it('nothing when the new policy caps nothing the request does not already reserve on', () => {
    const flight = admittedUnder({ tagBudgets: [budget('a', 500)] }, ['a', 'b']);
    expect(recapped(policyOf(2, { tagBudgets: [budget('a', 900)] }).policy, flight)).toBeNull();
    // A cap removed, or a budget for a tag the request does not carry: nothing either.
    expect(recapped(policyOf(2, { tagBudgets: [budget('c', 900)] }).policy, flight)).toBeNull();
  });

  it('a workspace cap replaces the uncapped workspace entry; a new tag budget is appended', () => {
    const flight = admittedUnder({}, ['a', 'b']);
    expect(reservedCounters(flight.counters).map((c) => c.scope)).toEqual(['sa:sa_1']);
    const next = policyOf(2, { workspaceCapMicros: 10_000, tagBudgets: [budget('b', 700)] });
    const r = recapped(next.policy, flight)!;
    expect(addedTo(flight, r)).toEqual([
      { scope: 'ws', capMicros: 10_000, periodKey: 'm2026-12' },
      { scope: 'tag:b', capMicros: 700, periodKey: 'm2026-12' },
    ]);
    expect(r.map((c) => [c.counter.scope, c.counter.capMicros])).toEqual([
      ['sa:sa_1', null],
      ['ws', 10_000],
      ['tag:b', 700],
    ]);
    // The request's own list is not changed by the call (the caller swaps it in).
    expect(flight.counters.map((c) => c.counter.capMicros)).toEqual([null, null]);
    // Once swapped in, the same policy finds nothing more.
    expect(recapped(next.policy, { ...flight, counters: r })).toBeNull();
  });

  it('a budget moved to another period is a new counter, keyed by the period of the admission', () => {
    const flight = admittedUnder({ tagBudgets: [budget('a', 500)] }, ['a']);
    const r = recapped(policyOf(2, { tagBudgets: [budget('a', 500, 'daily')] }).policy, flight)!;
    expect(addedTo(flight, r)).toEqual([
      { scope: 'tag:a', capMicros: 500, periodKey: 'd2026-12-07' },
    ]);
    expect(r.map((c) => c.counter.periodKey)).toEqual([
      'm2026-12',
      'm2026-12',
      'm2026-12',
      'd2026-12-07',
    ]);
  });
});
