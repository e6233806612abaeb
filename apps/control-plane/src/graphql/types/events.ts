import { GraphQLError } from 'graphql';
import { BUDGET_EVENT_TYPES, type SpendUpdate, type StoredEvent } from '../../events/types.ts';
import { callerFor } from '../access.ts';
import { builder } from '../builder.ts';
import type { GraphQLContext } from '../context.ts';

const BudgetEventType = builder.enumType('BudgetEventType', {
  values: BUDGET_EVENT_TYPES,
});

const BudgetScope = builder.enumType('BudgetScope', {
  description: 'Which budget an event is about.',
  values: ['sub_account', 'tag', 'workspace'] as const,
});

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

export const BudgetEvent = builder.objectRef<StoredEvent>('BudgetEvent').implement({
  description: 'A stored budget event (SPEC §8), delivered live after it committed.',
  fields: (t) => ({
    id: t.exposeID('id', { description: '`evt_…`' }),
    type: t.field({
      type: BudgetEventType,
      resolve: (e) => e.type as (typeof BUDGET_EVENT_TYPES)[number],
    }),
    eventType: t.exposeString('eventType', {
      description: 'The webhook event name, e.g. `sub_account.budget.warning`.',
    }),
    scope: t.field({ type: BudgetScope, resolve: (e) => e.scope }),
    subAccountId: t.exposeID('subAccountId', { nullable: true }),
    tag: t.exposeString('tag', { nullable: true }),
    threshold: t.float({
      nullable: true,
      description: 'Fraction of the cap crossed (0.8, …; 1 for exhausted).',
      resolve: (e) => num(e.data.threshold),
    }),
    capCents: t.float({ nullable: true, resolve: (e) => num(e.data.cap_cents) }),
    spentCents: t.float({ nullable: true, resolve: (e) => num(e.data.spent_cents) }),
    period: t.string({
      nullable: true,
      resolve: (e) => (typeof e.data.period === 'string' ? e.data.period : null),
    }),
    data: t.field({ type: 'JSON', resolve: (e) => e.data }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => new Date(e.createdAt) }),
  }),
});

export const SpendUpdateRef = builder.objectRef<SpendUpdate>('SpendUpdate').implement({
  description: "A sub-account's settled spend of its current period, after an ingest.",
  fields: (t) => ({
    subAccountId: t.exposeID('subAccountId'),
    spentCents: t.float({ resolve: (u) => u.spentMicros / 10_000 }),
    capCents: t.float({
      nullable: true,
      resolve: (u) => (u.capMicros === null ? null : u.capMicros / 10_000),
    }),
    period: t.exposeString('periodKey'),
    at: t.field({ type: 'DateTime', resolve: (u) => new Date(u.at) }),
  }),
});

function hubOf(ctx: GraphQLContext) {
  const hub = ctx.deps.events;
  if (!hub) {
    throw new GraphQLError('subscriptions are not available on this server', {
      extensions: { code: 'SERVICE_UNAVAILABLE' },
    });
  }
  return hub;
}

async function ownSubAccount(ctx: GraphQLContext, workspaceId: string, id: string) {
  const found = await ctx.deps.prisma.subAccount.findFirst({
    where: { id, workspaceId },
    select: { id: true },
  });
  if (!found) {
    throw new GraphQLError(`sub-account ${id} not found`, {
      extensions: { code: 'NOT_FOUND', field: 'subAccountId' },
    });
  }
}

builder.subscriptionFields((t) => ({
  budgetEvents: t.field({
    type: BudgetEvent,
    description:
      "Budget events of the caller's workspace as they are stored, optionally of one sub-account.",
    args: { subAccountId: t.arg.id({ required: false }) },
    subscribe: async (_root, { subAccountId }, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      if (subAccountId) await ownSubAccount(ctx, caller.workspaceId, subAccountId);
      return hubOf(ctx).listen((m) =>
        m.kind === 'event' &&
        m.event.type !== 'webhook_disabled' &&
        m.event.workspaceId === caller.workspaceId &&
        (!subAccountId || m.event.subAccountId === subAccountId)
          ? m.event
          : null,
      );
    },
    resolve: (event) => event,
  }),
  spendUpdates: t.field({
    type: SpendUpdateRef,
    description: 'Live spend of one sub-account, after each ingest that touched it.',
    args: { subAccountId: t.arg.id({ required: true }) },
    subscribe: async (_root, { subAccountId }, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      await ownSubAccount(ctx, caller.workspaceId, subAccountId);
      return hubOf(ctx).listen((m) =>
        m.kind === 'spend' &&
        m.update.workspaceId === caller.workspaceId &&
        m.update.subAccountId === subAccountId
          ? m.update
          : null,
      );
    },
    resolve: (update) => update,
  }),
}));
