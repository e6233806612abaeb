import { randomBytes } from 'node:crypto';
import { type Bus, type Counter, createBus, type Limiter } from '@tollgate/bus';
import { periodKey } from '@tollgate/policy';
import { openTestDatabase, type TestDatabase, usageEvent } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBudget, deleteBudget } from '../services/budgets.ts';
import type { ServiceDeps } from '../services/context.ts';
import { createSubAccount, updateSubAccount } from '../services/sub-accounts.ts';
import { updateWorkspace } from '../services/workspaces.ts';
import { createCounterCatchUp } from './catch-up.ts';
import { writeUsage } from './write-usage.ts';

function spend(workspaceId: string, subAccountId: string, tags: string[], micros: number) {
  return usageEvent({
    workspaceId,
    subAccountId,
    tags,
    inputTokens: 10,
    outputTokens: 10,
    providerCostMicros: micros,
    billedCostMicros: micros,
    latencyMs: 1,
  });
}

/**
 * SPEC §6, the cap guarantee across policy changes: a counter that comes into force mid-period (a
 * tag budget created or re-created, a budget period changed) starts from the books, not from zero,
 * and it does so before the change commits (so before any data plane can hear of it). The in-process
 * limiter here; `raise` itself is in the limiter suite (both implementations), and the end-to-end
 * test on real Redis is apps/data-plane/test/with-control-plane.spec.ts.
 */
describe('counter catch-up on policy changes', () => {
  let t: TestDatabase;
  let bus: Bus;
  let limiter: Limiter;
  let deps: ServiceDeps;
  const ws = `ws_cu_${randomBytes(4).toString('hex')}`;
  const caller = { workspaceId: ws, actor: 'test' };
  const raised: string[] = [];
  const errors: unknown[] = [];
  const balance = async (c: Counter) => (await limiter.spent(ws, [c]))[0]!.spentMicros;
  const month = () => periodKey('monthly', Date.now());
  const day = () => periodKey('daily', Date.now());

  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    bus = createBus({ prefix: `cu-${randomBytes(6).toString('hex')}` });
    limiter = bus.limiter;
    await t.db.prisma.workspace.create({ data: { id: ws, name: 'catch-up' } });
    // The workspace's counters hold the books (the reconciler's start-up pass did this).
    expect(await limiter.restore(ws, [], 'start')).toBe(true);
    const catchUp = createCounterCatchUp({
      limiter,
      onRaised: (_ws, scope, key, micros) => raised.push(`${scope}@${key}=${micros}`),
      onError: (err) => errors.push(err),
    });
    deps = { prisma: t.db.prisma, secretKey: Buffer.alloc(32, 7), catchUpCounters: catchUp };
  }, 120_000);
  afterAll(async () => {
    await bus?.close();
    await t?.cleanup();
  });

  it('a tag budget created mid-period starts from the spend the books hold on the tag', async () => {
    const sa = (await createSubAccount(deps, caller, { name: 'tagger' })).subAccount;
    await writeUsage(t.db.prisma, [
      spend(ws, sa.id, ['team'], 6_000),
      spend(ws, sa.id, ['team', 'other'], 3_000),
      spend(ws, sa.id, ['other'], 50_000),
    ]);
    const tag: Counter = { scope: 'tag:team', capMicros: 10_000, periodKey: month() };
    expect(await balance(tag)).toBe(0);
    await createBudget(deps, caller, { tag: 'team', capCents: 1, period: 'monthly' });
    expect(await balance(tag)).toBe(9_000);
    expect(raised).toContain(`tag:team@${month()}=9000`);
    // What is left of the cap is 1 000 µ$, not 10 000: a 5 000 worst case is clamped, a 2 000
    // minimum refused.
    const admit = (worstCaseMicros: number, minMicros: number) =>
      limiter.admit({
        workspaceId: ws,
        subAccountId: sa.id,
        requestId: `req_${Math.random().toString(36).slice(2)}`,
        nowMs: Date.now(),
        rate: { rpm: null, rpd: null, tpm: null, maxConcurrent: null, estimatedTokens: 0 },
        spend: [tag],
        worstCaseMicros,
        minMicros,
        reservationTtlMs: 60_000,
      });
    expect(await admit(5_000, 2_000)).toMatchObject({
      ok: false,
      kind: 'spend',
      scope: 'tag:team',
    });
    expect(await admit(5_000, 500)).toMatchObject({
      ok: true,
      reservedMicros: 1_000,
      clamped: true,
    });
    expect(errors).toEqual([]);
  });

  it('a tag budget deleted then re-created catches up with what was spent meanwhile', async () => {
    const sa = (await createSubAccount(deps, caller, { name: 'recreate' })).subAccount;
    await writeUsage(t.db.prisma, [spend(ws, sa.id, ['ops'], 2_000)]);
    const first = await createBudget(deps, caller, { tag: 'ops', capCents: 5, period: 'monthly' });
    const tag: Counter = { scope: 'tag:ops', capMicros: 50_000, periodKey: month() };
    expect(await balance(tag)).toBe(2_000);
    await deleteBudget(deps, caller, first.id);
    // Spend on the tag while it has no budget: the data plane does not count it.
    await writeUsage(t.db.prisma, [spend(ws, sa.id, ['ops'], 7_000)]);
    await createBudget(deps, caller, { tag: 'ops', capCents: 5, period: 'monthly' });
    expect(await balance(tag)).toBe(9_000);
  });

  it('a budget period changed mid-period starts the new period from the books', async () => {
    const sa = (await createSubAccount(deps, caller, { name: 'flip', spendCapCents: 2 }))
      .subAccount;
    await writeUsage(t.db.prisma, [spend(ws, sa.id, [], 12_000)]);
    const monthly: Counter = { scope: `sa:${sa.id}`, capMicros: 20_000, periodKey: month() };
    const daily: Counter = { ...monthly, periodKey: day() };
    expect(await balance(daily)).toBe(0);
    await updateSubAccount(deps, caller, sa.id, { budgetPeriod: 'daily' });
    // Today's spend (all of it here) is on the daily counter.
    expect(await balance(daily)).toBe(12_000);
    // A live counter ahead of the books is never lowered by a later change.
    await limiter.seed(ws, monthly, 0);
    await updateSubAccount(deps, caller, sa.id, { budgetPeriod: 'monthly' });
    expect(await balance(monthly)).toBe(12_000);
    await updateSubAccount(deps, caller, sa.id, { name: 'flip-renamed' });
    expect(await balance(monthly)).toBe(12_000);

    // The workspace's own cap likewise.
    const wsDaily: Counter = { scope: 'ws', capMicros: null, periodKey: day() };
    expect(await balance(wsDaily)).toBe(0);
    await updateWorkspace(deps, caller, { budgetPeriod: 'daily' });
    expect(await balance(wsDaily)).toBeGreaterThanOrEqual(12_000 + 9_000 + 50_000 + 9_000);
    expect(errors).toEqual([]);
  });

  it('leaves a workspace whose counters were lost to the reconciler, and never fails a change', async () => {
    const lost = `ws_cu_lost_${randomBytes(4).toString('hex')}`;
    await t.db.prisma.workspace.create({ data: { id: lost, name: 'lost' } });
    const c2 = { workspaceId: lost, actor: 'test' };
    const sa = (await createSubAccount(deps, c2, { name: 'x' })).subAccount;
    await writeUsage(t.db.prisma, [spend(lost, sa.id, ['t'], 4_000)]);
    await createBudget(deps, c2, { tag: 't', capCents: 1, period: 'monthly' });
    // No epoch marker: `restore` will add the books; a raise now would count them twice.
    const tag: Counter = { scope: 'tag:t', capMicros: 10_000, periodKey: month() };
    expect((await limiter.spent(lost, [tag]))[0]!.spentMicros).toBe(0);

    // A limiter that fails: reported, and the change still commits.
    const failing = createCounterCatchUp({
      limiter: {
        epochs: async () => ['e'],
        raise: async () => {
          throw new Error('redis down');
        },
      },
      onError: (err) => errors.push(err),
    });
    const before = errors.length;
    const d2: ServiceDeps = { ...deps, catchUpCounters: failing };
    await updateSubAccount(d2, c2, sa.id, { budgetPeriod: 'weekly' });
    expect(errors.length).toBe(before + 1);
    const row = await t.db.prisma.subAccount.findUniqueOrThrow({ where: { id: sa.id } });
    expect(row.budgetPeriod).toBe('weekly');
    errors.length = before;
  });
});
