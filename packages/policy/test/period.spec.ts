import { describe, expect, it } from 'vitest';
import { type BudgetPeriod, periodKey, periodWindow } from '../src/index.ts';

const at = (iso: string) => Date.parse(iso);

describe('periodWindow', () => {
  it('cuts days at UTC midnight', () => {
    expect(periodWindow('daily', at('2026-11-23T23:59:59.999Z'))).toEqual({
      start: at('2026-11-23T00:00:00Z'),
      resetsAt: at('2026-11-24T00:00:00Z'),
    });
    expect(periodWindow('daily', at('2026-11-24T00:00:00Z')).start).toBe(
      at('2026-11-24T00:00:00Z'),
    );
  });

  it('starts weeks on the ISO Monday', () => {
    const monday = { start: at('2026-11-23T00:00:00Z'), resetsAt: at('2026-11-30T00:00:00Z') };
    expect(periodWindow('weekly', at('2026-11-23T00:00:00Z'))).toEqual(monday); // Monday
    expect(periodWindow('weekly', at('2026-11-26T12:00:00Z'))).toEqual(monday); // Thursday
    expect(periodWindow('weekly', at('2026-11-29T23:59:59.999Z'))).toEqual(monday); // Sunday
    expect(periodWindow('weekly', at('2026-11-30T00:00:00Z')).start).toBe(
      at('2026-11-30T00:00:00Z'),
    );
    // A week spanning New Year starts in the old year.
    expect(periodWindow('weekly', at('2027-01-01T08:00:00Z')).start).toBe(
      at('2026-12-28T00:00:00Z'),
    );
  });

  it('cuts months on the 1st, across year ends and leap days', () => {
    expect(periodWindow('monthly', at('2026-11-30T23:59:59.999Z'))).toEqual({
      start: at('2026-11-01T00:00:00Z'),
      resetsAt: at('2026-12-01T00:00:00Z'),
    });
    expect(periodWindow('monthly', at('2026-12-31T23:59:59.999Z'))).toEqual({
      start: at('2026-12-01T00:00:00Z'),
      resetsAt: at('2027-01-01T00:00:00Z'),
    });
    expect(periodWindow('monthly', at('2024-02-29T12:00:00Z')).resetsAt).toBe(
      at('2024-03-01T00:00:00Z'),
    );
  });

  it('never resets a total', () => {
    expect(periodWindow('total', at('2026-11-23T10:00:00Z'))).toEqual({ start: 0, resetsAt: null });
  });

  it('refuses unusable instants', () => {
    expect(() => periodWindow('daily', Number.NaN)).toThrow(RangeError);
    expect(() => periodWindow('daily', -1)).toThrow(RangeError);
    expect(() => periodWindow('daily', Date.UTC(10_000, 0, 1))).toThrow(RangeError);
  });
});

describe('periodKey', () => {
  it('names each period by its first day', () => {
    const now = at('2026-11-26T12:00:00Z'); // a Thursday
    expect(periodKey('daily', now)).toBe('d2026-11-26');
    expect(periodKey('weekly', now)).toBe('w2026-11-23');
    expect(periodKey('monthly', now)).toBe('m2026-11');
    expect(periodKey('total', now)).toBe('total');
  });

  it('rolls over at month and year boundaries', () => {
    expect(periodKey('monthly', at('2026-12-31T23:59:59.999Z'))).toBe('m2026-12');
    expect(periodKey('monthly', at('2027-01-01T00:00:00Z'))).toBe('m2027-01');
    expect(periodKey('daily', at('2027-01-01T00:00:00Z'))).toBe('d2027-01-01');
    expect(periodKey('weekly', at('2027-01-03T23:00:00Z'))).toBe('w2026-12-28');
  });

  it('answers each instant by its own period whatever was asked before (the last key is kept per period)', () => {
    const seq: [string, string, string, string][] = [
      ['2026-11-30T23:59:59.999Z', 'd2026-11-30', 'w2026-11-30', 'm2026-11'],
      ['2026-12-01T00:00:00.000Z', 'd2026-12-01', 'w2026-11-30', 'm2026-12'],
      ['2026-11-30T23:59:59.999Z', 'd2026-11-30', 'w2026-11-30', 'm2026-11'], // back in time
      ['2026-11-29T23:59:59.999Z', 'd2026-11-29', 'w2026-11-23', 'm2026-11'],
      ['2026-12-07T00:00:00.000Z', 'd2026-12-07', 'w2026-12-07', 'm2026-12'],
      ['2026-12-06T23:59:59.999Z', 'd2026-12-06', 'w2026-11-30', 'm2026-12'],
    ];
    for (const [iso, day, week, month] of seq) {
      expect([periodKey('daily', at(iso)), periodKey('weekly', at(iso))]).toEqual([day, week]);
      expect(periodKey('monthly', at(iso))).toBe(month);
    }
    // An unusable instant is refused even right after a cached answer.
    periodKey('monthly', at('2026-12-01T00:00:00Z'));
    expect(() => periodKey('monthly', Number.NaN)).toThrow(RangeError);
    expect(() => periodKey('monthly', -1)).toThrow(RangeError);
  });

  it('keeps the alphabet and first letter counter stores rely on', () => {
    const periods: BudgetPeriod[] = ['daily', 'weekly', 'monthly', 'total'];
    for (const period of periods) {
      const k = periodKey(period, at('2026-02-15T06:00:00Z'));
      expect(k).toMatch(/^[A-Za-z0-9_.-]+$/);
      expect(k === 'total' || /^[mwd]/.test(k)).toBe(true);
    }
  });
});
