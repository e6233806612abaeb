import { afterEach, beforeEach, expect, it } from 'vitest';
import type { AdmitRequest, RateLimits } from '../src/types.ts';
import { admitReq, counter, NO_RATES, newId, okOf, settleReq } from './fixtures.ts';
import { type Harness, type Impl, sleep } from './harness.ts';

const NO_LIMITS: RateLimits = {
  rpm: null,
  rpd: null,
  tpm: null,
  maxConcurrent: null,
  estimatedTokens: 0,
};

/** Rate limits (SPEC §6 order: rpm/rpd/tpm/concurrency before spend) and input validation. */
export function rateSuite(impl: Impl) {
  let h: Harness;
  let base: { workspaceId: string; subAccountId: string; spend: [] };
  // 10 s into the current minute (possibly ahead of the clock; windows follow nowMs).
  const minuteStart = Math.floor(Date.now() / 60_000) * 60_000;
  const at = (ms: number) => minuteStart + ms;
  const limited = (rate: Partial<RateLimits>, over: Partial<AdmitRequest> = {}) =>
    admitReq(base, { rate: { ...NO_LIMITS, ...rate }, ...over });

  beforeEach(async () => {
    h = await impl.make();
    base = { workspaceId: newId('ws'), subAccountId: newId('sa'), spend: [] };
  });
  afterEach(() => h.close());

  it('rates() reads the limits as they stand, counting nothing (read-only)', async () => {
    const rate = { rpm: 5, rpd: 100, tpm: 1_000, estimatedTokens: 100 };
    for (const i of [0, 1]) okOf(await h.replicas[i]!.admit(limited(rate, { nowMs: at(10_000) })));
    const q = { ...base, nowMs: at(20_000), rate };
    const expected = {
      limitRequests: 5,
      remainingRequests: 3,
      resetRequestsMs: 40_000,
      limitTokens: 1_000,
      remainingTokens: 800,
      resetTokensMs: 40_000,
    };
    expect(await h.replicas[1].rates(q)).toEqual(expected);
    // Reading twice counts nothing.
    expect(await h.replicas[0].rates(q)).toEqual(expected);
    // No limits: nothing to report.
    expect(await h.replicas[0].rates({ ...q, rate: { rpm: null, rpd: null, tpm: null } })).toEqual(
      NO_RATES,
    );
  });

  it('limits requests per minute with a retry-after until the window ends', async () => {
    for (const remaining of [2, 1, 0]) {
      const ok = okOf(
        await h.replicas[remaining % 2]!.admit(limited({ rpm: 3 }, { nowMs: at(10_000) })),
      );
      expect(ok.rate).toMatchObject({
        limitRequests: 3,
        remainingRequests: remaining,
        resetRequestsMs: 50_000,
      });
      expect(ok.rate.limitTokens).toBeNull();
    }
    const refused = await h.replicas[0].admit(limited({ rpm: 3 }, { nowMs: at(20_000) }));
    expect(refused).toMatchObject({ ok: false, kind: 'rate', limit: 'rpm', retryAfterMs: 40_000 });
    okOf(await h.replicas[1].admit(limited({ rpm: 3 }, { nowMs: at(60_000) })));
  });

  it('limits requests per day, reporting the binding one of rpm and rpd', async () => {
    const ok = okOf(await h.replicas[0].admit(limited({ rpm: 10, rpd: 2 }, { nowMs: at(0) })));
    expect(ok.rate).toMatchObject({ limitRequests: 2, remainingRequests: 1 });
    okOf(await h.replicas[1].admit(limited({ rpm: 10, rpd: 2 }, { nowMs: at(1) })));
    const refused = await h.replicas[0].admit(limited({ rpm: 10, rpd: 2 }, { nowMs: at(2) }));
    expect(refused).toMatchObject({ ok: false, kind: 'rate', limit: 'rpd' });
    if (refused.ok || refused.kind !== 'rate') throw new Error('expected rpd refusal');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(86_400_000);
  });

  it('limits tokens per minute by the estimate, corrected to the actual tokens at settle', async () => {
    const tpm = (over: Partial<AdmitRequest> = {}) =>
      limited({ tpm: 1_000, estimatedTokens: 400 }, { nowMs: at(5_000), ...over });
    const a = tpm();
    const b = tpm();
    expect(okOf(await h.replicas[0].admit(a)).rate).toMatchObject({
      limitTokens: 1_000,
      remainingTokens: 600,
      resetTokensMs: 55_000,
    });
    expect(okOf(await h.replicas[1].admit(b)).rate.remainingTokens).toBe(200);
    const c = tpm();
    expect(await h.replicas[0].admit(c)).toMatchObject({ ok: false, kind: 'rate', limit: 'tpm' });
    for (const r of [a, b]) {
      await h.replicas[1].settle(settleReq(r, 0, { actualTokens: 100, nowMs: at(6_000) }));
    }
    expect(okOf(await h.replicas[0].admit(c)).rate.remainingTokens).toBe(400);
  });

  it('limits concurrent requests; settle frees the slot', async () => {
    const conc = () => limited({ maxConcurrent: 2 });
    const a = conc();
    okOf(await h.replicas[0].admit(a));
    okOf(await h.replicas[1].admit(conc()));
    const refused = await h.replicas[0].admit(conc());
    expect(refused).toMatchObject({ ok: false, kind: 'rate', limit: 'concurrency' });
    if (refused.ok || refused.kind !== 'rate') throw new Error('expected concurrency refusal');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    await h.replicas[1].settle(settleReq(a, 0));
    okOf(await h.replicas[0].admit(conc()));
  });

  it('frees a crashed request’s concurrency slot after its TTL', async () => {
    okOf(await h.replicas[0].admit(limited({ maxConcurrent: 1 }, { reservationTtlMs: 150 })));
    expect(await h.replicas[1].admit(limited({ maxConcurrent: 1 }))).toMatchObject({ ok: false });
    await sleep(200);
    okOf(await h.replicas[1].admit(limited({ maxConcurrent: 1 })));
  });

  it('checks rate limits before spend, and a spend refusal consumes no rate budget', async () => {
    const spend = [counter(`sa:${base.subAccountId}`, 100)];
    const over = { spend, worstCaseMicros: 1_000, minMicros: 500 };
    const refused = await h.replicas[0].admit(limited({ rpm: 1 }, { ...over, nowMs: at(0) }));
    // The refusal reports the rate limits as they stand (for the 402's x-ratelimit-* headers): this
    // request not counted.
    expect(refused).toMatchObject({
      ok: false,
      kind: 'spend',
      rate: { limitRequests: 1, remainingRequests: 1, limitTokens: null },
    });
    okOf(
      await h.replicas[1].admit(limited({ rpm: 1 }, { spend, worstCaseMicros: 50, nowMs: at(1) })),
    );
    const limitedFirst = await h.replicas[0].admit(limited({ rpm: 1 }, { ...over, nowMs: at(2) }));
    expect(limitedFirst).toMatchObject({ ok: false, kind: 'rate', limit: 'rpm' });
  });

  it('rejects malformed input before touching any counter', async () => {
    const spend = [counter('ws', 1_000), counter('ws', 2_000)];
    await expect(h.replicas[0].admit(limited({}, { spend }))).rejects.toThrow(/duplicate/);
    await expect(h.replicas[0].admit(limited({}, { worstCaseMicros: 1.5 }))).rejects.toThrow(
      RangeError,
    );
    await expect(h.replicas[0].admit({ ...limited({}), workspaceId: 'a{b}' })).rejects.toThrow(
      RangeError,
    );
    const ok = limited({});
    await expect(h.replicas[1].settle(settleReq(ok, -1))).rejects.toThrow(RangeError);
  });
}
