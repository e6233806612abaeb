import { describe, expect, it } from 'vitest';
import {
  decodeUsageBatch,
  encodeUsageBatch,
  UsageDecodeError,
  UsageEncodeError,
  type UsageEvent,
  UsageEventSchema,
} from '../src/index.ts';

function event(over: Partial<UsageEvent> = {}): UsageEvent {
  return {
    v: 1,
    requestId: 'req_01',
    attempt: 0,
    workspaceId: 'ws_1',
    subAccountId: 'sa_1',
    keyId: 'key_1',
    tags: ['feature-x'],
    model: 'openai/gpt-5.4-mini',
    servedModel: 'gpt-5.4-mini-2026-03-01',
    provider: 'openai',
    byok: false,
    inputTokens: 1200,
    outputTokens: 300,
    cachedInputTokens: 200,
    cacheWriteTokens: 0,
    providerCostMicros: 905,
    billedCostMicros: 1_041,
    estimated: false,
    status: 'ok',
    errorClass: null,
    httpStatus: 200,
    latencyMs: 812,
    ttftMs: 95,
    retries: 0,
    stream: true,
    startedAt: '2026-11-23T10:00:00.000Z',
    finishedAt: '2026-11-23T10:00:00.812Z',
    reservationMicros: 4_000,
    ...over,
  };
}

const blocked = event({
  requestId: 'req_02',
  subAccountId: null,
  keyId: null,
  tags: [],
  model: 'nobody/knows',
  servedModel: null,
  provider: null,
  inputTokens: 0,
  outputTokens: 0,
  cachedInputTokens: 0,
  providerCostMicros: 0,
  billedCostMicros: 0,
  status: 'blocked',
  errorClass: 'invalid_api_key',
  httpStatus: 401,
  ttftMs: null,
  stream: false,
  reservationMicros: 0,
});

describe('usage batch', () => {
  it('round-trips served, failed and blocked events', () => {
    const events = [
      event(),
      event({ requestId: 'req_03', status: 'error', httpStatus: 502 }),
      blocked,
    ];
    const text = encodeUsageBatch(events);
    expect(JSON.parse(text)).toMatchObject({ v: 1 });
    expect(decodeUsageBatch(text)).toEqual({ events, rejected: [] });
  });

  it('encodes an empty batch', () => {
    expect(decodeUsageBatch(encodeUsageBatch([]))).toEqual({ events: [], rejected: [] });
  });

  it('refuses to encode an event readers would reject', () => {
    const bad = event({ billedCostMicros: 1.5 });
    expect(() => encodeUsageBatch([event(), bad])).toThrow(UsageEncodeError);
    expect(() => encodeUsageBatch([event(), bad])).toThrow(/usage event 1: billedCostMicros/);
  });

  it('strips unknown fields', () => {
    const withExtra = { ...event(), extra: true } as UsageEvent;
    const decoded = decodeUsageBatch(encodeUsageBatch([withExtra]));
    expect(decoded.events[0]).not.toHaveProperty('extra');
  });

  it('keeps the good events of a batch and reports the bad ones by index', () => {
    const text = JSON.stringify({
      v: 1,
      events: [
        event(),
        { ...event({ requestId: 'req_x' }), providerCostMicros: -1 },
        'not an event',
        { ...event({ requestId: 'req_y' }), v: 2 },
        blocked,
      ],
    });
    const { events, rejected } = decodeUsageBatch(text);
    expect(events.map((e) => e.requestId)).toEqual(['req_01', 'req_02']);
    expect(rejected.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(rejected[0]?.error).toContain('providerCostMicros');
  });

  it('throws a clear error for text that is not a batch', () => {
    expect(() => decodeUsageBatch('{"v":1,"events":[')).toThrow(UsageDecodeError);
    expect(() => decodeUsageBatch('{"v":1,"events":[')).toThrow(/not JSON/);
    expect(() => decodeUsageBatch('[]')).toThrow(/not a JSON object/);
    expect(() => decodeUsageBatch('{"v":2,"events":[]}')).toThrow(/version 2/);
    expect(() => decodeUsageBatch('{"events":[]}')).toThrow(/version missing/);
    expect(() => decodeUsageBatch('{"v":1}')).toThrow(/no events array/);
  });
});

describe('UsageEventSchema', () => {
  const rejects = (over: Record<string, unknown>) =>
    expect(UsageEventSchema.safeParse({ ...event(), ...over }).success).toBe(false);

  it('keeps money and counts integral, non-negative and safe', () => {
    rejects({ providerCostMicros: 0.1 });
    rejects({ billedCostMicros: Number.MAX_SAFE_INTEGER + 1 });
    rejects({ inputTokens: -1 });
    rejects({ attempt: 1.5 });
    rejects({ reservationMicros: '100' });
  });

  it('requires UTC timestamps, known statuses and plausible HTTP statuses', () => {
    rejects({ startedAt: '2026-11-23T10:00:00+02:00' });
    rejects({ finishedAt: 'yesterday' });
    rejects({ status: 'served' });
    rejects({ httpStatus: 42 });
  });

  it('checks ids and tags against the key alphabet', () => {
    rejects({ workspaceId: 'ws 1' });
    rejects({ tags: ['bad tag'] });
    rejects({ requestId: '' });
  });

  it('allows an empty or odd model name on blocked requests', () => {
    expect(UsageEventSchema.safeParse({ ...blocked, model: '' }).success).toBe(true);
    expect(UsageEventSchema.safeParse({ ...blocked, model: 'gpt 4 please' }).success).toBe(true);
  });
  it('names the budget that refused a 402, optionally (events of older data planes lack it)', () => {
    const refused = event({
      ...blocked,
      subAccountId: 'sa_1',
      keyId: 'key_1',
      tags: ['feature-x'],
      errorClass: 'tag_budget_reached',
      httpStatus: 402,
      blockedScope: 'tag:feature-x',
    });
    for (const scope of ['sub_account', 'workspace', 'tag:feature-x', null]) {
      expect(UsageEventSchema.parse({ ...refused, blockedScope: scope }).blockedScope).toBe(scope);
    }
    const legacy: Record<string, unknown> = { ...refused };
    delete legacy.blockedScope;
    expect(UsageEventSchema.parse(legacy).blockedScope).toBeUndefined();
    const decoded = decodeUsageBatch(encodeUsageBatch([refused]));
    expect(decoded.events[0]?.blockedScope).toBe('tag:feature-x');
    rejects({ blockedScope: 'tag:bad tag' });
    rejects({ blockedScope: 'sa:sa_1' });
    rejects({ blockedScope: 'tag:' });
  });
});
