import { GraphQLError } from 'graphql';
import type { BudgetEventType, SpendUpdate, StoredEvent } from '../../events/types.ts';
import { centsOf } from '../../lib/money.ts';
import { callerFor } from '../access.ts';
import { builder } from '../builder.ts';
import { BudgetEvent, SpendUpdateRef } from './events.ts';
import { SubAccount } from './sub-account.ts';

// What the ops console shows on a sub-account's page beyond its usage report: its latest requests
// and its stored budget events. Both are fields of SubAccount, so the workspace check is the one
// that already resolved the sub-account.

const MAX_ROWS = 200;
const rows = (first: number | null | undefined) =>
  Math.min(Math.max(Math.trunc(first ?? 50), 1), MAX_ROWS);

interface RequestRow {
  requestId: string;
  model: string;
  servedModel: string | null;
  status: string;
  httpStatus: number;
  errorClass: string | null;
  inputTokens: number;
  outputTokens: number;
  billedCostMicros: bigint;
  latencyMs: number;
  stream: boolean;
  tags: string[];
  startedAt: Date;
}

const RequestLog = builder.objectRef<RequestRow>('RequestLog').implement({
  description: 'One settled request of a sub-account (its usage record).',
  fields: (t) => ({
    requestId: t.exposeID('requestId', { description: 'The `x-request-id`.' }),
    model: t.exposeString('model', { description: 'As requested (`provider/model`).' }),
    servedModel: t.exposeString('servedModel', { nullable: true }),
    status: t.exposeString('status', { description: '`ok`, `error` or `blocked`.' }),
    httpStatus: t.exposeInt('httpStatus'),
    errorClass: t.exposeString('errorClass', { nullable: true }),
    inputTokens: t.exposeInt('inputTokens'),
    outputTokens: t.exposeInt('outputTokens'),
    costCents: t.float({
      description: 'Billed cost (provider cost + markup).',
      resolve: (r) => centsOf(r.billedCostMicros)!,
    }),
    latencyMs: t.exposeInt('latencyMs'),
    stream: t.exposeBoolean('stream'),
    tags: t.exposeStringList('tags'),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
  }),
});

builder.objectFields(SubAccount, (t) => ({
  recentRequests: t.field({
    type: [RequestLog],
    description: 'Its latest requests, newest first (`first`: default 50, at most 200).',
    args: { first: t.arg.int() },
    resolve: (sa, { first }, ctx) =>
      ctx.deps.prisma.usageRecord.findMany({
        where: { subAccountId: sa.id, workspaceId: sa.workspaceId },
        orderBy: [{ startedAt: 'desc' }, { requestId: 'desc' }],
        take: rows(first),
      }),
  }),
  budgetEvents: t.field({
    type: [BudgetEvent],
    description: 'Its stored budget events, newest first (`first`: default 50, at most 200).',
    args: { first: t.arg.int() },
    resolve: async (sa, { first }, ctx) => {
      const found = await ctx.deps.prisma.budgetEvent.findMany({
        where: {
          subAccountId: sa.id,
          workspaceId: sa.workspaceId,
          type: { not: 'webhook_disabled' },
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: rows(first),
      });
      return found.map((e): StoredEvent => {
        const data = (e.data ?? {}) as Record<string, unknown>;
        return {
          id: e.id,
          workspaceId: e.workspaceId,
          subAccountId: e.subAccountId,
          tag: e.tag,
          type: e.type as BudgetEventType,
          scope: (data.scope as StoredEvent['scope']) ?? 'sub_account',
          eventType: typeof data.event_type === 'string' ? data.event_type : `budget.${e.type}`,
          dedupeKey: e.dedupeKey,
          data,
          createdAt: e.createdAt.toISOString(),
        };
      });
    },
  }),
}));

builder.subscriptionFields((t) => ({
  workspaceSpendUpdates: t.field({
    type: SpendUpdateRef,
    description: "Live spend of every sub-account of the caller's workspace, after each ingest.",
    subscribe: (_root, _args, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      const hub = ctx.deps.events;
      if (!hub) {
        throw new GraphQLError('subscriptions are not available on this server', {
          extensions: { code: 'SERVICE_UNAVAILABLE' },
        });
      }
      return hub.listen((m): SpendUpdate | null =>
        m.kind === 'spend' && m.update.workspaceId === caller.workspaceId ? m.update : null,
      );
    },
    resolve: (update) => update,
  }),
}));
