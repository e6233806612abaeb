import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { centsOf } from '../../lib/money.ts';
import * as budgets from '../../services/budgets.ts';
import { callerFor, serviceInput } from '../access.ts';
import { builder } from '../builder.ts';
import { pageArgs, paginate } from '../connections.ts';
import { BudgetPeriod } from './common.ts';
import { MUTATION_ERRORS } from './errors.ts';

export const TagBudget = builder.prismaObject('TagBudget', {
  description: 'A cap over every request carrying `tag`, across all sub-accounts of the workspace.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tag: t.exposeString('tag'),
    capCents: t.float({ resolve: (b) => centsOf(b.capMicros)! }),
    period: t.field({ type: BudgetPeriod, resolve: (b) => b.budgetPeriod }),
    monthlyCapCents: t.float({
      nullable: true,
      description: 'Same as capCents when the period is monthly; null otherwise.',
      resolve: (b) => (b.budgetPeriod === 'monthly' ? centsOf(b.capMicros) : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const TagBudgetConnection = builder.connectionObject({
  type: TagBudget,
  name: 'TagBudgetConnection',
});

builder.queryFields((t) => ({
  budgets: t.field({
    type: TagBudgetConnection,
    description: 'Tag budgets, by tag (ascending; a tag has one budget).',
    errors: { types: [ValidationError] },
    args: pageArgs(),
    resolve: (_root, args, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      const keyset = {
        scope: { list: 'budgets', workspaceId: caller.workspaceId },
        shape: ['string'] as const,
        position: (b: { tag: string }) => [b.tag],
      };
      return paginate(ctx, keyset, args, (after, take) =>
        budgets.listBudgets(ctx.deps, caller, {
          after: after ? { tag: { gt: String(after[0]) } } : undefined,
          take,
        }),
      );
    },
  }),
  budget: t.field({
    type: TagBudget,
    description: 'One tag budget, as `GET /v1/budgets/{id}`.',
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      budgets.findBudget(ctx.deps, callerFor(ctx, 'workspace.read'), id),
  }),
}));

builder.mutationFields((t) => ({
  createBudget: t.field({
    type: TagBudget,
    description:
      'Give `monthlyCapCents`, or `capCents` with an optional `period` (default monthly).',
    errors: { types: MUTATION_ERRORS },
    args: {
      tag: t.arg.string({ required: true }),
      monthlyCapCents: t.arg.float(),
      capCents: t.arg.float(),
      period: t.arg({ type: BudgetPeriod }),
    },
    resolve: (_root, args, ctx) =>
      budgets.createBudget(ctx.deps, callerFor(ctx, 'workspace.write'), serviceInput(args)),
  }),
  updateBudget: t.field({
    type: TagBudget,
    description:
      'Changes the cap (`capCents`, or `monthlyCapCents` for a monthly cap) and/or the period; on every data plane within 1 s. A new period counts the spend of that period so far.',
    errors: { types: MUTATION_ERRORS },
    args: {
      id: t.arg.id({ required: true }),
      capCents: t.arg.float(),
      monthlyCapCents: t.arg.float(),
      period: t.arg({ type: BudgetPeriod }),
    },
    resolve: (_root, { id, ...input }, ctx) =>
      budgets.updateBudget(ctx.deps, callerFor(ctx, 'workspace.write'), id, serviceInput(input)),
  }),
  deleteBudget: t.field({
    type: TagBudget,
    errors: { types: MUTATION_ERRORS },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      budgets.deleteBudget(ctx.deps, callerFor(ctx, 'workspace.write'), id),
  }),
}));
