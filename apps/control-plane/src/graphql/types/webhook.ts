import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import * as webhooks from '../../services/webhooks.ts';
import { callerFor, serviceInput } from '../access.ts';
import { builder } from '../builder.ts';
import { BY_CREATION, createdPosition, LIST_PAGE, pageArgs, paginate } from '../connections.ts';
import { MUTATION_ERRORS } from './errors.ts';

export const WebhookEndpoint = builder.prismaObject('WebhookEndpoint', {
  description: 'A URL receiving signed event POSTs (Standard Webhooks).',
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    events: t.exposeStringList('events'),
    status: t.exposeString('status', { description: '`enabled` or `disabled`.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WebhookStatus = builder.enumType('WebhookStatus', {
  values: ['enabled', 'disabled'] as const,
});

const WebhookAttempt = builder.prismaObject('WebhookAttempt', {
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    statusCode: t.exposeInt('statusCode', {
      nullable: true,
      description: 'Null on network error or timeout.',
    }),
    error: t.exposeString('error', {
      nullable: true,
      description:
        '`no outcome recorded: …` while the attempt is in flight, and for good if the control plane stopped during it.',
    }),
    responseExcerpt: t.exposeString('responseExcerpt', { nullable: true }),
    durationMs: t.exposeInt('durationMs', {
      description: 'How long the attempt took; 0 until it ends.',
    }),
    at: t.expose('createdAt', { type: 'DateTime', description: 'When the attempt started.' }),
  }),
});

// The delivery log query (services/webhooks.ts listDeliveries) always includes the attempts.
const WebhookDelivery = builder.prismaObject('WebhookDelivery', {
  include: { log: { orderBy: { attempt: 'asc' } } },
  fields: (t) => ({
    id: t.exposeID('id', { description: '`msg_…`, also the `webhook-id` header.' }),
    eventType: t.exposeString('eventType'),
    status: t.exposeString('status', { description: '`pending`, `succeeded` or `failed`.' }),
    attempts: t.field({ type: [WebhookAttempt], resolve: (d) => d.log }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next retry is due; null unless pending.',
      resolve: (d) => (d.status === 'pending' ? d.nextAttemptAt : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WebhookEndpointConnection = builder.connectionObject({
  type: WebhookEndpoint,
  name: 'WebhookEndpointConnection',
});

const WebhookDeliveryConnection = builder.connectionObject({
  type: WebhookDelivery,
  name: 'WebhookDeliveryConnection',
});

/** Deliveries page by 100 unless asked otherwise (the log the console shows at once). */
const DELIVERY_PAGE = { default: 100, max: LIST_PAGE.max };

const CreateWebhookPayload = builder
  .objectRef<{ endpoint: typeof WebhookEndpoint.$inferType; secret: string }>(
    'CreateWebhookPayload',
  )
  .implement({
    fields: (t) => ({
      endpoint: t.field({ type: WebhookEndpoint, resolve: (p) => p.endpoint }),
      secret: t.exposeString('secret', {
        description: 'The signing secret (`whsec_…`), shown this once.',
      }),
    }),
  });

builder.queryFields((t) => ({
  webhooks: t.field({
    type: WebhookEndpointConnection,
    description: 'Webhook endpoints, oldest first (creation time, then id).',
    errors: { types: [ValidationError] },
    args: pageArgs(),
    resolve: (_root, args, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      const keyset = {
        scope: { list: 'webhooks', workspaceId: caller.workspaceId },
        shape: BY_CREATION,
        position: createdPosition,
      };
      return paginate(ctx, keyset, args, (after, take) =>
        webhooks.listWebhooks(ctx.deps, caller, { after, take }),
      );
    },
  }),
  webhook: t.field({
    type: WebhookEndpoint,
    description: 'One webhook endpoint, as `GET /v1/webhooks/{id}`.',
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      webhooks.findWebhook(ctx.deps, callerFor(ctx, 'workspace.read'), id),
  }),
  webhookDeliveries: t.field({
    type: WebhookDeliveryConnection,
    description:
      'Deliveries of an endpoint, newest first (creation time, then id, descending), with every attempt.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { ...pageArgs(DELIVERY_PAGE), webhookId: t.arg.id({ required: true }) },
    resolve: async (_root, { webhookId, ...args }, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      const { workspaceId } = caller;
      const keyset = {
        scope: { list: 'webhookDeliveries', workspaceId, parentId: webhookId },
        shape: BY_CREATION,
        position: createdPosition,
        bounds: DELIVERY_PAGE,
      };
      return paginate(ctx, keyset, args, (after, take) =>
        webhooks.listDeliveries(ctx.deps, caller, webhookId, {
          after,
          take,
        }),
      );
    },
  }),
}));

builder.mutationFields((t) => ({
  createWebhook: t.field({
    type: CreateWebhookPayload,
    errors: { types: MUTATION_ERRORS },
    args: {
      url: t.arg.string({ required: true }),
      events: t.arg.stringList({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      webhooks.createWebhook(ctx.deps, callerFor(ctx, 'workspace.write'), serviceInput(args)),
  }),
  updateWebhook: t.field({
    type: WebhookEndpoint,
    description: 'Change url, events or status (`disabled` pauses deliveries, `enabled` resumes).',
    errors: { types: MUTATION_ERRORS },
    args: {
      id: t.arg.id({ required: true }),
      url: t.arg.string(),
      events: t.arg.stringList(),
      status: t.arg({ type: WebhookStatus }),
    },
    resolve: (_root, { id, ...rest }, ctx) =>
      webhooks.updateWebhook(ctx.deps, callerFor(ctx, 'workspace.write'), id, serviceInput(rest)),
  }),
  rotateWebhookSecret: t.field({
    type: CreateWebhookPayload,
    description:
      'A new signing secret, used from the next attempt on; shown this once. For 24 h deliveries also carry a signature made with the replaced secret.',
    errors: { types: MUTATION_ERRORS },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      webhooks.rotateWebhookSecret(ctx.deps, callerFor(ctx, 'workspace.write'), id),
  }),
  replayWebhookDelivery: t.field({
    type: WebhookDelivery,
    description: 'Send a delivery again, now, with the same `webhook-id`.',
    errors: { types: MUTATION_ERRORS },
    args: { webhookId: t.arg.id({ required: true }), deliveryId: t.arg.id({ required: true }) },
    resolve: (_root, { webhookId, deliveryId }, ctx) =>
      webhooks.replayDelivery(ctx.deps, callerFor(ctx, 'workspace.write'), webhookId, deliveryId),
  }),
  deleteWebhook: t.field({
    type: WebhookEndpoint,
    errors: { types: MUTATION_ERRORS },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      webhooks.deleteWebhook(ctx.deps, callerFor(ctx, 'workspace.write'), id),
  }),
}));
