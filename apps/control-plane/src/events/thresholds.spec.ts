import { openTestDatabase, type TestDatabase, usageEvent } from '@tollgate/testkit';
import type { UsageEvent } from '@tollgate/usage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeUsage } from '../ingest/write-usage.ts';
import { createBudget } from '../services/budgets.ts';
import type { ServiceDeps } from '../services/context.ts';
import { createSubAccount } from '../services/sub-accounts.ts';
import { updateWorkspace } from '../services/workspaces.ts';
import { evaluateUsage } from './thresholds.ts';

const WS = 'ws_thr';

function event(subAccountId: string, over: Partial<UsageEvent>): UsageEvent {
  return usageEvent({
    workspaceId: WS,
    subAccountId,
    inputTokens: 10,
    outputTokens: 10,
    latencyMs: 1,
    ...over,
  });
}

const refusal = (subAccountId: string, over: Partial<UsageEvent>) =>
  event(subAccountId, { status: 'blocked', httpStatus: 402, tags: ['alpha', 'beta'], ...over });

/**
 * SPEC §8 `exhausted` for the budget that answered a 402. The usage event names it
 * (`blockedScope`); only events without it (older data planes) fall back to guessing the candidate
 * closest to its cap.
 */
describe('exhausted: the budget that refused', () => {
  let t: TestDatabase;
  let sa: string;
  const exhausted = async (e: UsageEvent) =>
    (await evaluateUsage(t.db.prisma, [e])).drafts
      .filter((d) => d.type === 'exhausted')
      .map((d) => `${d.eventType}:${d.tag ?? d.subAccountId ?? ''}:${d.data.refused === true}`);

  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    const deps: ServiceDeps = { prisma: t.db.prisma, secretKey: Buffer.alloc(32, 5) };
    await t.db.prisma.workspace.create({ data: { id: WS, name: 'thresholds' } });
    const caller = { workspaceId: WS, actor: 'test' };
    await updateWorkspace(deps, caller, { spendCapCents: 100 }); // 1 000 000 µ$
    // The sub-account at 95 % of its cap, tag alpha at 90 %, tag beta at 30 %, workspace ≈ 6 %.
    sa = (await createSubAccount(deps, caller, { name: 'near-cap', spendCapCents: 2 })).subAccount
      .id;
    const other = (await createSubAccount(deps, caller, { name: 'other' })).subAccount.id;
    await createBudget(deps, caller, { tag: 'alpha', capCents: 5, period: 'monthly' });
    await createBudget(deps, caller, { tag: 'beta', capCents: 5, period: 'monthly' });
    await writeUsage(t.db.prisma, [
      event(sa, { tags: ['beta'], billedCostMicros: 15_000, providerCostMicros: 15_000 }),
      event(sa, { tags: [], billedCostMicros: 4_000, providerCostMicros: 4_000 }),
      event(other, { tags: ['alpha'], billedCostMicros: 45_000, providerCostMicros: 45_000 }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('a tag budget’s 402 exhausts that tag budget, even with another candidate nearer its cap', async () => {
    const e = refusal(sa, { errorClass: 'tag_budget_reached', blockedScope: 'tag:beta' });
    expect(await exhausted(e)).toEqual(['tag.budget.exhausted:beta:true']);
  });

  it('a workspace 402 exhausts the workspace, not the sub-account nearer its own cap', async () => {
    const e = refusal(sa, { errorClass: 'spend_cap_reached', blockedScope: 'workspace' });
    expect(await exhausted(e)).toEqual(['workspace.budget.exhausted::true']);
    const own = refusal(sa, { errorClass: 'spend_cap_reached', blockedScope: 'sub_account' });
    expect(await exhausted(own)).toEqual([`sub_account.budget.exhausted:${sa}:true`]);
  });

  it('without blockedScope (an older data plane) the nearest candidate is still guessed', async () => {
    const tagged = refusal(sa, { errorClass: 'tag_budget_reached' });
    expect(await exhausted(tagged)).toEqual(['tag.budget.exhausted:alpha:true']);
    const capped = refusal(sa, { errorClass: 'spend_cap_reached', blockedScope: null });
    expect(await exhausted(capped)).toEqual([`sub_account.budget.exhausted:${sa}:true`]);
  });
});

/** SPEC §8: `sub_account.rate_limited` at most once per minute, not once per calendar minute. */
describe('rate_limited: at most once a minute', () => {
  let t: TestDatabase;
  let sa: string;
  const boundary = Math.floor(Date.now() / 60_000) * 60_000;
  const blocked = (atMs: number) =>
    event(sa, {
      status: 'blocked',
      errorClass: 'rpm',
      httpStatus: 429,
      billedCostMicros: 0,
      startedAt: new Date(atMs).toISOString(),
      finishedAt: new Date(atMs).toISOString(),
    });
  const rateLimited = async (usage: UsageEvent[], nowMs: number) =>
    (await evaluateUsage(t.db.prisma, usage, { nowMs })).drafts.filter(
      (d) => d.type === 'rate_limited',
    );

  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    const deps: ServiceDeps = { prisma: t.db.prisma, secretKey: Buffer.alloc(32, 5) };
    await t.db.prisma.workspace.create({ data: { id: WS, name: 'rate-limited' } });
    sa = (await createSubAccount(deps, { workspaceId: WS, actor: 'test' }, { name: 'busy' }))
      .subAccount.id;
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('one draft per sub-account per batch, even across a minute boundary', async () => {
    const drafts = await rateLimited(
      [blocked(boundary - 3_000), blocked(boundary + 3_000)],
      boundary + 5_000,
    );
    expect(drafts.map((d) => d.dedupeKey)).toEqual([
      `${WS}:sa:${sa}:rate_limited:${boundary / 60_000 - 1}`,
    ]);
  });

  it('none while the last stored rate_limited is less than 60 s old; one after', async () => {
    await t.db.prisma.budgetEvent.create({
      data: {
        id: 'evt_rl_prev',
        workspaceId: WS,
        subAccountId: sa,
        type: 'rate_limited',
        dedupeKey: `${WS}:sa:${sa}:rate_limited:${boundary / 60_000 - 1}`,
        createdAt: new Date(boundary - 2_000),
      },
    });
    expect(await rateLimited([blocked(boundary + 3_000)], boundary + 4_000)).toEqual([]);
    expect(await rateLimited([blocked(boundary + 57_000)], boundary + 57_500)).toEqual([]);
    const later = await rateLimited([blocked(boundary + 59_000)], boundary + 58_500);
    expect(later.map((d) => d.dedupeKey)).toEqual([
      `${WS}:sa:${sa}:rate_limited:${boundary / 60_000}`,
    ]);
  });
});
