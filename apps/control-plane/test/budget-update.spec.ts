import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot } from '../src/policy/snapshot.ts';
import { type Harness, KINDS, ROOT_KEY, rowCounts, skipKind, startHarness } from './harness.ts';

/**
 * `PATCH /v1/budgets/{id}` and GraphQL `updateBudget`: a tag budget's cap and period change in
 * place (no 409, no delete-and-recreate), published to the data planes; bad input changes nothing.
 */
describe.each(KINDS)('tag budgets: update on %s', (kind) => {
  let h: Harness;
  let otherKey: string;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    otherKey = (await h.api('POST', '/v1/workspaces', { name: `other-${kind}` }, ROOT_KEY)).body
      .admin_key;
  });
  afterAll(async () => h?.close());

  const create = async (tag: string, key?: string) => {
    const res = await h.api('POST', '/v1/budgets', { tag, monthly_cap_cents: 100 }, key);
    expect(res.status).toBe(201);
    return res.body as { id: string };
  };
  const published = async (id: string) =>
    (await buildSnapshot(h.prisma, 1)).tagBudgets.find((b) => b.id === id);

  it.skipIf(skipKind(kind))(
    'REST: cap and/or period change in place, published and audited',
    async () => {
      const { id } = await create('feature-a');
      const patch = (body: unknown) => h.api('PATCH', `/v1/budgets/${id}`, body);

      const raised = await patch({ cap_cents: 250.5 });
      expect(raised.status).toBe(200);
      expect(raised.body).toMatchObject({
        id,
        tag: 'feature-a',
        cap_cents: 250.5,
        period: 'monthly',
        monthly_cap_cents: 250.5,
      });
      expect(await published(id)).toMatchObject({ capMicros: 2_505_000, budgetPeriod: 'monthly' });

      const daily = await patch({ period: 'daily' });
      expect(daily.body).toMatchObject({ cap_cents: 250.5, period: 'daily' });
      expect(daily.body.monthly_cap_cents).toBeUndefined();
      expect(await published(id)).toMatchObject({ capMicros: 2_505_000, budgetPeriod: 'daily' });

      const both = await patch({ cap_cents: 0, period: 'total' });
      expect(both.body).toMatchObject({ cap_cents: 0, period: 'total' });
      const monthly = await patch({ monthly_cap_cents: 40 });
      expect(monthly.body).toMatchObject({
        cap_cents: 40,
        period: 'monthly',
        monthly_cap_cents: 40,
      });
      expect(await published(id)).toMatchObject({ capMicros: 400_000, budgetPeriod: 'monthly' });

      const listed = (await h.api('GET', '/v1/budgets')).body.data;
      expect(listed).toEqual([monthly.body]);
      const audit = await h.prisma.auditLog.findMany({
        where: { workspaceId: h.workspaceId, action: 'budget.update', targetId: id },
      });
      expect(audit).toHaveLength(4);
    },
  );

  it.skipIf(skipKind(kind))(
    "bad input, an unknown id and another workspace's budget change nothing",
    async () => {
      const { id } = await create('feature-b');
      const theirs = await create('feature-b', otherKey);
      const before = await rowCounts(h.prisma);
      const snapshot = await buildSnapshot(h.prisma, 1);
      const refusals: [string, unknown, number, string | null][] = [
        [id, { cap_cents: -1 }, 400, 'cap_cents'],
        [id, { cap_cents: 1.23456 }, 400, 'cap_cents'],
        [id, { cap_cents: '5' }, 400, 'cap_cents'],
        [id, { period: 'hourly' }, 400, 'period'],
        [id, { cap_cents: 5, tag: 'renamed' }, 400, 'tag'],
        [id, { monthly_cap_cents: 5, period: 'daily' }, 400, 'period'],
        [id, { monthly_cap_cents: 5, cap_cents: 5 }, 400, 'cap_cents'],
        [id, {}, 400, null],
        [theirs.id, { cap_cents: 1 }, 404, null],
        ['bud_nope', { cap_cents: 1 }, 404, null],
      ];
      for (const [target, body, status, param] of refusals) {
        const res = await h.api('PATCH', `/v1/budgets/${target}`, body);
        expect([res.status, res.body.error?.param ?? null], JSON.stringify(body)).toEqual([
          status,
          param,
        ]);
        expect(res.body.error.code).toBe(status === 404 ? 'not_found' : 'validation_error');
      }
      expect(await rowCounts(h.prisma)).toEqual(before);
      expect((await buildSnapshot(h.prisma, 1)).tagBudgets).toEqual(snapshot.tagBudgets);
      // Theirs is theirs to change.
      const own = await h.api('PATCH', `/v1/budgets/${theirs.id}`, { cap_cents: 7 }, otherKey);
      expect(own.body).toMatchObject({ id: theirs.id, cap_cents: 7 });
      expect(await published(id)).toMatchObject({ capMicros: 1_000_000 });
    },
  );

  it.skipIf(skipKind(kind))('GraphQL updateBudget: the budget, or typed errors', async () => {
    const { id } = await create('feature-c');
    const update = (vars: Record<string, unknown>) =>
      h.gql(
        `mutation ($id: ID!, $capCents: Float, $monthlyCapCents: Float, $period: BudgetPeriod) {
          updateBudget(id: $id, capCents: $capCents, monthlyCapCents: $monthlyCapCents, period: $period) {
            __typename ... on TagBudget { id capCents period monthlyCapCents }
            ... on Error { message } ... on ValidationError { field } } }`,
        vars,
      );
    expect((await update({ id, capCents: 12.5, period: 'weekly' })).data.updateBudget).toEqual({
      __typename: 'TagBudget',
      id,
      capCents: 12.5,
      period: 'weekly',
      monthlyCapCents: null,
    });
    expect(await published(id)).toMatchObject({ capMicros: 125_000, budgetPeriod: 'weekly' });
    const before = await rowCounts(h.prisma);
    expect((await update({ id, capCents: -5 })).data.updateBudget).toMatchObject({
      __typename: 'ValidationError',
      field: 'capCents',
    });
    expect((await update({ id: 'bud_nope', capCents: 5 })).data.updateBudget).toMatchObject({
      __typename: 'NotFoundError',
    });
    // A bad period is refused by the schema itself.
    expect((await update({ id, period: 'hourly' })).errors).toHaveLength(1);
    expect(await rowCounts(h.prisma)).toEqual(before);
    expect((await update({ id, monthlyCapCents: 3 })).data.updateBudget).toMatchObject({
      capCents: 3,
      period: 'monthly',
      monthlyCapCents: 3,
    });
  });
});
