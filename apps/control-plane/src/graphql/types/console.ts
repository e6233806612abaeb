import { GraphQLError } from 'graphql';
import type { SpendUpdate, StoredEvent } from '../../events/types.ts';
import { ValidationError } from '../../lib/errors.ts';
import { centsOf } from '../../lib/money.ts';
import { budgetEventsOf, requestsOf } from '../../services/activity.ts';
import { callerFor } from '../access.ts';
import { builder } from '../builder.ts';
import { BY_CREATION, type Keyset, type Position, pageArgs, paginate } from '../connections.ts';
import { BudgetEvent, SpendUpdateRef } from './events.ts';
import { SubAccount } from './sub-account.ts';

// What the ops console shows on a sub-account's page beyond its usage report: its latest requests
// and its stored budget events. Both are connections on SubAccount, so the workspace check is the
// one that already resolved the sub-account; their cursors are signed for that sub-account.

type RequestRow = Awaited<ReturnType<typeof requestsOf>>[number];

const RequestLog = builder.objectRef<RequestRow>('RequestLog').implement({
  description: 'One settled request of a sub-account (its usage record).',
  fields: (t) => ({
    requestId: t.exposeID('requestId', { description: 'The `x-request-id`.' }),
    model: t.exposeString('model', {
      description:
        'The model that served it (`provider/model`): as requested, or the fallback when downgrade routing replaced it.',
    }),
    requestedModel: t.string({
      description: 'The model the client asked for (`provider/model`; `model` unless downgraded).',
      resolve: (r) => r.requestedModel ?? r.model,
    }),
    servedModel: t.exposeString('servedModel', {
      nullable: true,
      description: 'The model name the upstream reported (e.g. a dated snapshot id).',
    }),
    provider: t.exposeString('provider', { nullable: true }),
    byok: t.exposeBoolean('byok', {
      description: "Served with the workspace's (or sub-account's) own provider key.",
    }),
    keyId: t.exposeID('keyId', { nullable: true, description: 'The sub-account key used.' }),
    status: t.exposeString('status', { description: '`ok`, `error` or `blocked`.' }),
    httpStatus: t.exposeInt('httpStatus'),
    errorClass: t.exposeString('errorClass', { nullable: true }),
    inputTokens: t.exposeInt('inputTokens', { description: 'Prompt tokens at the input rate.' }),
    cachedInputTokens: t.exposeInt('cachedInputTokens', {
      description: "Prompt tokens read from the provider's prompt cache.",
    }),
    cacheWriteTokens: t.exposeInt('cacheWriteTokens', {
      description: "Prompt tokens written to the provider's prompt cache.",
    }),
    outputTokens: t.exposeInt('outputTokens'),
    estimated: t.exposeBoolean('estimated', {
      description:
        'Tokens estimated from what was streamed or sent: the provider reported no usage (a cut stream, a lost connection).',
    }),
    providerCostCents: t.float({
      description: 'What the provider charges for it.',
      resolve: (r) => centsOf(r.providerCostMicros)!,
    }),
    costCents: t.float({
      description: 'Billed cost (provider cost + markup).',
      resolve: (r) => centsOf(r.billedCostMicros)!,
    }),
    cappedAtSettle: t.exposeBoolean('cappedAtSettle', {
      description:
        'Billed less than its cost plus markup: a capped budget could not take more when it settled (it cost more than its reservation near the cap). The cap held.',
    }),
    latencyMs: t.exposeInt('latencyMs'),
    ttftMs: t.exposeInt('ttftMs', {
      nullable: true,
      description: 'Time to first token (streams).',
    }),
    retries: t.exposeInt('retries', {
      description: 'Upstream attempts retried before it settled.',
    }),
    stream: t.exposeBoolean('stream'),
    tags: t.exposeStringList('tags'),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
  }),
});

const RequestLogConnection = builder.connectionObject({
  type: RequestLog,
  name: 'RequestLogConnection',
});

const BudgetEventConnection = builder.connectionObject({
  type: BudgetEvent,
  name: 'BudgetEventConnection',
});

builder.objectFields(SubAccount, (t) => ({
  recentRequests: t.field({
    type: RequestLogConnection,
    description: 'Its requests, newest first (start time, then request id, descending).',
    errors: { types: [ValidationError] },
    args: pageArgs(),
    resolve: (sa, args, ctx) => {
      const keyset: Keyset<RequestRow> = {
        scope: { list: 'subAccount.recentRequests', workspaceId: sa.workspaceId, parentId: sa.id },
        shape: BY_CREATION,
        position: (r) => [r.startedAt.getTime(), r.requestId],
      };
      return paginate(ctx, keyset, args, (after, take) =>
        requestsOf(ctx.deps, sa, { after, take }),
      );
    },
  }),
  budgetEvents: t.field({
    type: BudgetEventConnection,
    description: 'Its stored budget events, newest first (creation time, then id, descending).',
    errors: { types: [ValidationError] },
    args: pageArgs(),
    resolve: (sa, args, ctx) => {
      const keyset: Keyset<StoredEvent> = {
        scope: { list: 'subAccount.budgetEvents', workspaceId: sa.workspaceId, parentId: sa.id },
        shape: BY_CREATION,
        position: (e) => [Date.parse(e.createdAt), e.id],
      };
      return paginate(ctx, keyset, args, (after, take) =>
        budgetEventsOf(ctx.deps, sa, { after, take }),
      );
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
