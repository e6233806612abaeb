import { describe, expect, it } from 'vitest';
import { createKeys } from '../src/keys.ts';

/** Redis Cluster hashes only the first {...} section of a key: that is what must be shared. */
const hashTag = (key: string) => {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
};

describe('key builders', () => {
  const keys = createKeys('p1');

  it('puts every key of one admission in the workspace hash slot', () => {
    const c = keys.counter('ws_1', 'tag:a:b', 'm2026-11');
    const all = [
      c.state,
      c.expiry,
      c.amount,
      keys.counter('ws_1', 'ws', 'm2026-11').state,
      keys.concurrency('ws_1', 'sa_1'),
      keys.rpmWindow('ws_1', 'sa_1', 5),
      keys.rpdWindow('ws_1', 'sa_1', 5),
      keys.tpmWindow('ws_1', 'sa_1', 5),
      keys.requestTokens('ws_1', 'req:1'),
      keys.settled('ws_1', 'req:1'),
    ];
    expect(new Set(all.map(hashTag))).toEqual(new Set(['tg:p1:ws:ws_1']));
    expect(new Set(all).size).toBe(all.length);
    expect(hashTag(keys.counter('ws_2', 'ws', 'm2026-11').state)).not.toBe('tg:p1:ws:ws_1');
  });

  it('never builds one key from two different inputs', () => {
    const a = keys.counter('w', 'tag:x', 'm1').state;
    const b = keys.counter('w', 'x', 'm1').state;
    expect(a).not.toBe(b);
    expect(() => keys.counter('w', 'x', 'm1:tag')).toThrow(RangeError);
  });

  it('rejects ids that would move the hash tag or break separators', () => {
    expect(() => createKeys('a}b')).toThrow(RangeError);
    expect(() => keys.counter('w}', 'ws', 'm1')).toThrow(RangeError);
    expect(() => keys.concurrency('w', 'sa:1')).toThrow(RangeError);
    expect(() => keys.rpmWindow('w', 's', 1.5)).toThrow(RangeError);
  });

  it('names a pattern set that matches only its own prefix', () => {
    expect(keys.patterns()).toEqual(['{tg:p1:*', 'tg:p1:*']);
    expect(keys.usageStream().startsWith('tg:p1:')).toBe(true);
  });
});
