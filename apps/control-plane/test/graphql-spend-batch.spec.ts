import { writeUsage } from '@tollgate/control-plane';
import { usageEvent } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, skipKind, startHarness } from './harness.ts';

const DAY = 86_400_000;

/**
 * GraphQL `subAccounts` with spend: a page's spend is read in one statement of the books for all of
 * its rows (each from the start of its own period), not one per row.
 */
describe.each(KINDS)('GraphQL sub-account spend, a page at a time, on %s', (kind) => {
  let h: Harness;
  const statements: string[] = [];
  const ids: string[] = [];
  const periods = ['daily', 'weekly', 'monthly', 'total'] as const;

  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind, { onQuery: ({ query }) => statements.push(query) });
    for (let i = 0; i < 12; i++) {
      const made = await h.api('POST', '/v1/sub-accounts', {
        name: `batch-${i}`,
        spend_cap_cents: 1_000,
        budget_period: periods[i % periods.length],
      });
      expect(made.status).toBe(201);
      ids.push(made.body.id);
    }
    // Spend today and 40 days ago: only a `total` period counts the old one.
    const events = ids.flatMap((id, i) => [
      usageEvent({
        workspaceId: h.workspaceId,
        subAccountId: id,
        billedCostMicros: 1_000 * (i + 1),
        startedAt: new Date(Date.now() - 60_000).toISOString(),
      }),
      usageEvent({
        workspaceId: h.workspaceId,
        subAccountId: id,
        billedCostMicros: 100_000,
        startedAt: new Date(Date.now() - 40 * DAY).toISOString(),
      }),
    ]);
    await writeUsage(h.prisma, events);
  });
  afterAll(async () => h?.close());

  it.skipIf(skipKind(kind))(
    'reads a page of spend in one statement, each row from its own period',
    async () => {
      statements.length = 0;
      const res = await h.gql(`{ subAccounts(first: 20) { ... on SubAccountConnection {
      edges { node { id budgetPeriod spentCents reservedCents resetsAt } } } } }`);
      expect(res.errors).toBeUndefined();
      const nodes = res.data.subAccounts.edges.map(
        (e: { node: Record<string, unknown> }) => e.node,
      );
      const mine = nodes.filter((n: { id: string }) => ids.includes(n.id));
      expect(mine).toHaveLength(ids.length);
      for (const n of mine) {
        const i = ids.indexOf(n.id);
        const today = (1_000 * (i + 1)) / 10_000;
        expect(n.spentCents).toBe(n.budgetPeriod === 'total' ? today + 10 : today);
        expect(n.reservedCents).toBe(0);
        // The same figures as the sub-account's own answer.
        const one = await h.api('GET', `/v1/sub-accounts/${n.id}`);
        expect(one.body.spent_cents).toBe(n.spentCents);
        expect(one.body.resets_at).toBe(n.resetsAt);
      }
      const rollupReads = statements.filter((q) => q.includes('"UsageRollupDaily"'));
      // One for the page, then one per single-sub-account REST read above.
      expect(rollupReads).toHaveLength(1 + mine.length);
    },
  );
});
