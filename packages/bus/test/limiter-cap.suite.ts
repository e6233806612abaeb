import { afterEach, beforeEach, expect, it } from 'vitest';
import type { AdmitRequest, Limiter } from '../src/types.ts';
import { admitReq, counter, NO_RATES, newId, okOf, settleReq } from './fixtures.ts';
import { type Harness, type Impl, prng, sleep } from './harness.ts';

/** SPEC §6, the cap guarantee, and the reservation lifecycle — the same for every implementation. */
export function capSuite(impl: Impl) {
  let h: Harness;
  let ws: string;
  beforeEach(async () => {
    h = await impl.make();
    ws = newId('ws');
  });
  afterEach(() => h.close());

  const total = async (l: Limiter, scope: string) =>
    (await l.spent(ws, [counter(scope, null)]))[0]!;

  it('holds the cap under 500 concurrent admits from two replicas, clamping the last fit', async () => {
    // Cap odd, every worst case even: a full reservation never empties the budget exactly, so some
    // admission must meet a remainder below its worst case (≥ minMicros = 1) and be clamped.
    const cap = 90_001;
    const rand = prng(20261123);
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, cap)];
    const reqs = Array.from({ length: 500 }, () =>
      admitReq(
        { workspaceId: ws, subAccountId: sa, spend },
        { worstCaseMicros: 2 * (500 + Math.floor(rand() * 2_000)), minMicros: 1 },
      ),
    );
    const results = await Promise.all(reqs.map((r, i) => h.replicas[i % 2]!.admit(r)));
    const admitted = reqs.flatMap((r, i) => {
      const res = results[i]!;
      if (res.ok) expect(res.reservedMicros).toBeLessThanOrEqual(r.worstCaseMicros);
      return res.ok ? [{ req: r, res }] : [];
    });
    const reserved = admitted.reduce((s, a) => s + a.res.reservedMicros, 0);
    expect(reserved).toBeLessThanOrEqual(cap);
    expect(admitted.length).toBeGreaterThan(15);
    expect(admitted.length).toBeLessThan(60);
    expect(
      admitted.some((a) => a.res.clamped && a.res.reservedMicros < a.req.worstCaseMicros),
    ).toBe(true);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.kind === 'spend')).toBe(true);
    expect(await total(h.replicas[0], `sa:${sa}`)).toEqual({
      scope: `sa:${sa}`,
      spentMicros: 0,
      reservedMicros: reserved,
    });

    const actuals = admitted.map((a) => Math.floor(a.res.reservedMicros * rand()));
    await Promise.all(
      admitted.map((a, i) => h.replicas[(i + 1) % 2]!.settle(settleReq(a.req, actuals[i]!))),
    );
    const after = await total(h.replicas[1], `sa:${sa}`);
    expect(after.spentMicros).toBe(actuals.reduce((s, x) => s + x, 0));
    expect(after.spentMicros).toBeLessThanOrEqual(cap);
    expect(after.reservedMicros).toBe(0);
  });

  it('holds every cap when admits and settles interleave, spending the full reservation', async () => {
    const cap = 50_000;
    const rand = prng(7);
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, cap), counter('tag:t', 80_000), counter('ws', 60_000)];
    await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const l = h.replicas[i % 2]!;
        const r = admitReq(
          { workspaceId: ws, subAccountId: sa, spend },
          { worstCaseMicros: 500 + Math.floor(rand() * 3_000), minMicros: 200 },
        );
        const res = await l.admit(r);
        if (!res.ok) return;
        await sleep(Math.floor(rand() * 5));
        await h.replicas[(i + 1) % 2]!.settle(settleReq(r, res.reservedMicros));
      }),
    );
    const rows = await h.replicas[0].spent(ws, spend);
    expect(rows[0]!.spentMicros).toBeLessThanOrEqual(cap);
    expect(rows[0]!.spentMicros).toBeGreaterThan(cap - 200);
    // One sub-account carries all the spend, so every counter saw exactly the same settles.
    expect(rows.map((r) => r.spentMicros)).toEqual([0, 0, 0].map(() => rows[0]!.spentMicros));
    expect(rows.every((r) => r.reservedMicros === 0)).toBe(true);
  });

  it('is all-or-nothing across sub-account, tag and workspace counters', async () => {
    const sas = [newId('sa'), newId('sa'), newId('sa')];
    const shared = [counter('tag:search', 60_000), counter('ws', 100_000)];
    const spendOf = (sa: string) => [counter(`sa:${sa}`, 40_000), ...shared];
    const rand = prng(42);
    const reqs = Array.from({ length: 300 }, (_, i) => {
      const sa = sas[i % 3]!;
      const worstCaseMicros = 1_000 + Math.floor(rand() * 2_000);
      return admitReq(
        { workspaceId: ws, subAccountId: sa, spend: spendOf(sa) },
        { worstCaseMicros },
      );
    });
    const results = await Promise.all(reqs.map((r, i) => h.replicas[i % 2]!.admit(r)));
    const held = new Map<string, number>();
    reqs.forEach((r, i) => {
      const res = results[i]!;
      if (!res.ok) return;
      for (const c of r.spend) held.set(c.scope, (held.get(c.scope) ?? 0) + res.reservedMicros);
    });
    const all = [...sas.map((sa) => counter(`sa:${sa}`, 40_000)), ...shared];
    for (const row of await h.replicas[1].spent(ws, all)) {
      // Each counter holds exactly what the admitted requests reserved: no partial reservations.
      expect(row.reservedMicros).toBe(held.get(row.scope) ?? 0);
      expect(row.reservedMicros).toBeLessThanOrEqual(
        all.find((c) => c.scope === row.scope)!.capMicros!,
      );
    }
    expect(held.get('tag:search')).toBeGreaterThan(60_000 - 1_000);
  });

  it('names the first counter that refused and leaves no reservation anywhere', async () => {
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 1_000_000), counter('tag:x', null), counter('ws', 10_000)];
    await h.replicas[0].seed(ws, spend[2]!, 9_950);
    const base = { workspaceId: ws, subAccountId: sa, spend };
    const refused = await h.replicas[1].admit(
      admitReq(base, { worstCaseMicros: 500, minMicros: 100 }),
    );
    expect(refused).toEqual({
      ok: false,
      kind: 'spend',
      scope: 'ws',
      capMicros: 10_000,
      spentMicros: 9_950,
      reservedMicros: 0,
      // No rate limit on this sub-account: nothing for the 402's x-ratelimit-* headers.
      rate: NO_RATES,
    });
    for (const row of await h.replicas[0].spent(ws, spend)) expect(row.reservedMicros).toBe(0);

    const fits = okOf(
      await h.replicas[0].admit(admitReq(base, { worstCaseMicros: 500, minMicros: 40 })),
    );
    expect(fits).toMatchObject({ reservedMicros: 50, clamped: true });
    const rows = await h.replicas[1].spent(ws, spend);
    expect(rows.map((r) => r.reservedMicros)).toEqual([50, 50, 50]);
  });

  it('reserves min(worst case, smallest remaining) and refuses below minMicros', async () => {
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 10_000)];
    await h.replicas[0].seed(ws, spend[0]!, 7_000);
    const base = { workspaceId: ws, subAccountId: sa, spend };
    const full = okOf(await h.replicas[0].admit(admitReq(base, { worstCaseMicros: 1_000 })));
    expect(full).toMatchObject({ reservedMicros: 1_000, clamped: false });
    const clamped = okOf(await h.replicas[1].admit(admitReq(base, { worstCaseMicros: 5_000 })));
    expect(clamped).toMatchObject({ reservedMicros: 2_000, clamped: true });
    const none = await h.replicas[0].admit(
      admitReq(base, { worstCaseMicros: 5_000, minMicros: 1 }),
    );
    expect(none).toMatchObject({
      ok: false,
      kind: 'spend',
      spentMicros: 7_000,
      reservedMicros: 3_000,
    });
  });

  it('releases a crashed replica’s reservation after its TTL; a late settle is charged only what is left under the cap', async () => {
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 1_000)];
    const base = { workspaceId: ws, subAccountId: sa, spend };
    const a = admitReq(base, { worstCaseMicros: 1_000, reservationTtlMs: 200 });
    okOf(await h.replicas[0].admit(a));
    const b = admitReq(base, { worstCaseMicros: 1_000, reservationTtlMs: 200 });
    b.rate = { ...b.rate, maxConcurrent: 1 };
    expect(await h.replicas[1].admit(b)).toMatchObject({
      ok: false,
      kind: 'spend',
      reservedMicros: 1_000,
    });
    await sleep(250);
    expect((await h.replicas[0].spent(ws, spend))[0]!.reservedMicros).toBe(0);
    okOf(await h.replicas[1].admit({ ...b, nowMs: Date.now(), reservationTtlMs: 30_000 }));

    // a outlived its reservation and b holds the whole budget now: charging a's 300 would let the
    // period's settled spend reach 1 300 once b settles in full. a is charged what is left: 0.
    expect(await h.replicas[0].settle(settleReq(a, 300))).toEqual({
      settled: true,
      chargedMicros: 0,
    });
    expect(await total(h.replicas[0], `sa:${sa}`)).toMatchObject({
      spentMicros: 0,
      reservedMicros: 1_000,
    });
    expect(await h.replicas[1].settle(settleReq(b, 1_000))).toEqual({
      settled: true,
      chargedMicros: 1_000,
    });
    expect(await total(h.replicas[1], `sa:${sa}`)).toMatchObject({
      spentMicros: 1_000,
      reservedMicros: 0,
    });
  });

  it('a late settle is charged in full while the cap has room, and bounded by it when not', async () => {
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 1_000), counter('ws', null)];
    const base = { workspaceId: ws, subAccountId: sa, spend };
    const a = admitReq(base, { worstCaseMicros: 500, reservationTtlMs: 100 });
    okOf(await h.replicas[0].admit(a));
    await sleep(150);
    // a's reservation expired (not purged yet: nobody admitted since). b takes 600 after purging it.
    const b = admitReq(base, { worstCaseMicros: 600, reservationTtlMs: 30_000 });
    expect(okOf(await h.replicas[1].admit(b)).reservedMicros).toBe(600);
    // 400 left under the cap: a's 300 fits and is charged in full, on every counter.
    expect(await h.replicas[1].settle(settleReq(a, 300))).toEqual({
      settled: true,
      chargedMicros: 300,
    });
    const c = admitReq(base, { worstCaseMicros: 100, reservationTtlMs: 100 });
    okOf(await h.replicas[0].admit(c));
    await sleep(150);
    // c's reservation expired and was purged by d, which took the last 100: c gets nothing.
    const d = admitReq(base, { worstCaseMicros: 100, reservationTtlMs: 30_000 });
    expect(okOf(await h.replicas[1].admit(d)).reservedMicros).toBe(100);
    expect(await h.replicas[0].settle(settleReq(c, 80))).toEqual({
      settled: true,
      chargedMicros: 0,
    });
    await h.replicas[1].settle(settleReq(b, 600));
    await h.replicas[0].settle(settleReq(d, 100));
    const rows = await h.replicas[0].spent(ws, spend);
    expect(rows.map((r) => [r.spentMicros, r.reservedMicros])).toEqual([
      [1_000, 0],
      [1_000, 0],
    ]);
  });

  it('renews a running request’s reservation and slot; a purged one is not re-created', async () => {
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 1_000), counter('ws', null)];
    const base = { workspaceId: ws, subAccountId: sa, spend };
    const a = admitReq(base, { worstCaseMicros: 1_000, reservationTtlMs: 200 });
    a.rate = { ...a.rate, maxConcurrent: 1 };
    okOf(await h.replicas[0].admit(a));
    const renew = (r: AdmitRequest, ttl: number) =>
      h.replicas[1].renew({ ...r, nowMs: Date.now(), reservationTtlMs: ttl });
    expect(await renew(a, 30_000)).toBe(2);
    await sleep(250);
    // Past its first TTL: still held — the cap and the concurrency slot refuse b.
    const b = admitReq(base, { worstCaseMicros: 1_000, reservationTtlMs: 200 });
    b.rate = { ...b.rate, maxConcurrent: 1 };
    expect(await h.replicas[1].admit(b)).toMatchObject({
      ok: false,
      kind: 'rate',
      limit: 'concurrency',
    });
    expect(
      await h.replicas[1].admit({ ...b, rate: { ...b.rate, maxConcurrent: null } }),
    ).toMatchObject({
      ok: false,
      kind: 'spend',
      reservedMicros: 1_000,
    });
    // A reservation that expired and was purged stays gone.
    const c = admitReq(
      { ...base, spend: [counter(`tag:c-${sa}`, 500)] },
      { reservationTtlMs: 100 },
    );
    okOf(await h.replicas[0].admit(c));
    await sleep(150);
    const d = admitReq({ ...base, spend: [counter(`tag:c-${sa}`, 500)] }, { worstCaseMicros: 500 });
    expect(okOf(await h.replicas[0].admit(d)).reservedMicros).toBe(500);
    expect(await renew(c, 30_000)).toBe(0);
    expect((await h.replicas[0].spent(ws, d.spend))[0]!.reservedMicros).toBe(500);
  });

  it('an admission right after a settle (not awaited) on the same replica sees it settled', async () => {
    // A sequential client: its next request must not be refused for the slot or the budget its
    // previous one is releasing (settles may wait to be batched; an admission sends them first).
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 1_000)];
    const base = { workspaceId: ws, subAccountId: sa, spend };
    const rate = { rpm: null, rpd: null, tpm: null, maxConcurrent: 1, estimatedTokens: 0 };
    const a = admitReq(base, { worstCaseMicros: 1_000, rate });
    expect(okOf(await h.replicas[0].admit(a)).reservedMicros).toBe(1_000);
    const settled = h.replicas[0].settle(settleReq(a, 100));
    const b = admitReq(base, { worstCaseMicros: 900, minMicros: 900, rate });
    expect(okOf(await h.replicas[0].admit(b)).reservedMicros).toBe(900);
    expect(await settled).toEqual({ settled: true, chargedMicros: 100 });
  });

  it('settles idempotently by request id, on any replica', async () => {
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 10_000), counter('ws', null)];
    const r = admitReq({ workspaceId: ws, subAccountId: sa, spend });
    okOf(await h.replicas[0].admit(r));
    expect(await h.replicas[0].settle(settleReq(r, 500))).toEqual({
      settled: true,
      chargedMicros: 500,
    });
    const again = { settled: false, chargedMicros: 0 };
    expect(await h.replicas[1].settle(settleReq(r, 500))).toEqual(again);
    expect(await h.replicas[0].settle(settleReq(r, 900))).toEqual(again);
    const rows = await h.replicas[1].spent(ws, spend);
    expect(rows.map((x) => [x.spentMicros, x.reservedMicros])).toEqual([
      [500, 0],
      [500, 0],
    ]);
  });

  it('re-admitting a request id replaces its reservation instead of adding one', async () => {
    const sa = newId('sa');
    const spend = [counter(`sa:${sa}`, 10_000)];
    const r = admitReq({ workspaceId: ws, subAccountId: sa, spend }, { worstCaseMicros: 4_000 });
    okOf(await h.replicas[0].admit(r));
    okOf(await h.replicas[1].admit(r));
    expect((await h.replicas[0].spent(ws, spend))[0]!.reservedMicros).toBe(4_000);
  });

  it('seeds spent only when the counter holds none', async () => {
    const sa = newId('sa');
    const c = counter(`sa:${sa}`, 10_000);
    await h.replicas[0].seed(ws, c, 5_000);
    await h.replicas[1].seed(ws, c, 9_999);
    expect((await h.replicas[0].spent(ws, [c]))[0]!.spentMicros).toBe(5_000);
    const r: AdmitRequest = admitReq({ workspaceId: ws, subAccountId: sa, spend: [c] });
    okOf(await h.replicas[0].admit(r));
    await h.replicas[0].settle(settleReq(r, 100));
    await h.replicas[0].seed(ws, c, 0);
    expect((await h.replicas[1].spent(ws, [c]))[0]!.spentMicros).toBe(5_100);
  });
  it('raises spent to the books’ figure, never lowers it', async () => {
    const sa = newId('sa');
    const c = counter(`tag:t-${sa}`, 10_000);
    // Absent: takes the figure.
    expect(await h.replicas[0].raise(ws, c, 4_000)).toBe(true);
    expect((await h.replicas[1].spent(ws, [c]))[0]!.spentMicros).toBe(4_000);
    // Below what it holds: left alone (a live counter ahead of the books).
    expect(await h.replicas[1].raise(ws, c, 3_000)).toBe(false);
    expect((await h.replicas[0].spent(ws, [c]))[0]!.spentMicros).toBe(4_000);
    // A stale counter (spend went on while it was not in force) catches up; settles add on top.
    expect(await h.replicas[1].raise(ws, c, 6_500)).toBe(true);
    const r: AdmitRequest = admitReq({ workspaceId: ws, subAccountId: sa, spend: [c] });
    const ok = okOf(await h.replicas[0].admit(r));
    expect(ok.reservedMicros).toBeLessThanOrEqual(3_500);
    await h.replicas[0].settle(settleReq(r, 100));
    expect((await h.replicas[1].spent(ws, [c]))[0]!.spentMicros).toBe(6_600);
    // An admission that only reserved (nothing settled yet): the figure is set, the hold kept.
    const d = counter(`tag:u-${sa}`, 10_000);
    const r2: AdmitRequest = admitReq({ workspaceId: ws, subAccountId: sa, spend: [d] });
    okOf(await h.replicas[1].admit(r2));
    expect(await h.replicas[0].raise(ws, d, 2_000)).toBe(true);
    const [bal] = await h.replicas[0].spent(ws, [d]);
    expect(bal!.spentMicros).toBe(2_000);
    expect(bal!.reservedMicros).toBeGreaterThan(0);
  });
  it('raises many counters at once, across chunks: those behind to the books, those ahead kept', async () => {
    // 1 234 counters: two full chunks of RAISE_CHUNK (500) and a partial one. Every counter has a
    // figure of its own, so a reply or a key paired with the wrong counter shows.
    const n = 1_234;
    const cs = Array.from({ length: n }, (_, i) => counter(`sa:sa_many_${i}`, 10_000_000));
    const books = cs.map((c, i) => ({ counter: c, spentMicros: 3_000 + i }));
    // Before the workspace's counters are in place (its marker is missing): nothing at all.
    expect(await h.replicas[0].raiseMany(ws, books)).toEqual({
      sealed: false,
      before: books.map(() => null),
    });
    expect((await h.replicas[1].spent(ws, cs)).every((b) => b.spentMicros === 0)).toBe(true);
    expect(await h.replicas[0].restore(ws, [], 'epoch-1')).toBe(true);
    // i % 3 == 0: ahead of the books (settled, not ingested yet); 1: behind; 2: absent.
    const held = (i: number) => (i % 3 === 0 ? 5_000_000 + i : i % 3 === 1 ? i : null);
    for (const [i, c] of cs.entries()) {
      const h0 = held(i);
      if (h0 !== null) await h.replicas[1].raise(ws, c, h0);
    }
    const r = await h.replicas[0].raiseMany(ws, books);
    expect(r.sealed).toBe(true);
    expect(r.before).toEqual(cs.map((_, i) => (i % 3 === 0 ? null : (held(i) ?? 0))));
    const after = await h.replicas[1].spent(ws, cs);
    expect(after.map((b) => b.spentMicros)).toEqual(
      cs.map((_, i) => (i % 3 === 0 ? 5_000_000 + i : 3_000 + i)),
    );
    // Again: every counter holds at least the books now.
    expect((await h.replicas[1].raiseMany(ws, books)).before.every((b) => b === null)).toBe(true);
    // Scopes must be distinct (one counter twice in a chunk would be raised twice).
    await expect(h.replicas[0].raiseMany(ws, [books[0]!, books[0]!])).rejects.toThrow(/duplicate/);
  });
}
