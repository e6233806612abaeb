import { Prisma } from '@tollgate/db';
import { isPrivateHost } from '@tollgate/policy/private-address';
import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.ts';
import { newId, randomBase62 } from '../lib/ids.ts';
import { seal } from '../lib/seal.ts';
import { parseInput } from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import { type KeysetPage, keysetOrder, keysetPage } from './keyset.ts';
import { httpUrl } from './provider-keys.ts';

/** Event names of SPEC §8 that an endpoint may subscribe to. */
export const WEBHOOK_EVENTS = [
  'sub_account.created',
  'sub_account.budget.warning',
  'sub_account.budget.exhausted',
  'sub_account.rate_limited',
  'sub_account.request.failed',
  'sub_account.balance.low',
  'tag.budget.warning',
  'tag.budget.exhausted',
  'workspace.budget.warning',
  'workspace.budget.exhausted',
  'webhook.endpoint.disabled',
] as const;

const createSchema = z.strictObject({
  url: httpUrl,
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length),
});

const updateSchema = z
  .strictObject({
    url: httpUrl.optional(),
    events: createSchema.shape.events.optional(),
    status: z.enum(['enabled', 'disabled']).optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: 'give url, events or status' });

export interface WebhookDeps extends ServiceDeps {
  /** Allow loopback/private receivers (tests, on-prem). Off by default: SSRF protection. */
  allowPrivateWebhookUrls?: boolean;
  /** Wakes the webhook dispatcher after deliveries became due (replay, re-enable). */
  onWebhooksQueued?: () => void;
}

/** Literal private, loopback and link-local targets are refused (names are checked at delivery). */
function checkUrl(deps: WebhookDeps, url: string) {
  if (!deps.allowPrivateWebhookUrls && isPrivateHost(new URL(url).hostname)) {
    throw new ValidationError(
      'url: private, loopback and link-local addresses are not allowed',
      'url',
    );
  }
}

const newSecret = () => `whsec_${Buffer.from(randomBase62(32)).toString('base64')}`;

export async function createWebhook(deps: WebhookDeps, caller: Caller, raw: unknown) {
  const input = parseInput(createSchema, raw);
  checkUrl(deps, input.url);
  const secret = newSecret();
  const endpoint = await mutate(
    deps,
    caller,
    (w) => ({ action: 'webhook.create', targetType: 'webhook', targetId: w.id }),
    null,
    (tx: Tx) =>
      tx.webhookEndpoint.create({
        data: {
          id: newId('wh'),
          workspaceId: caller.workspaceId,
          url: input.url,
          events: [...new Set(input.events)],
          sealedSecret: seal(deps.secretKey, secret),
        },
      }),
  );
  return { endpoint, secret };
}

const ENDPOINTS = keysetOrder('WebhookEndpoint', 'createdAt', 'id', 'asc');
const DELIVERIES = keysetOrder('WebhookDelivery', 'createdAt', 'id', 'desc');

/** The workspace's endpoints, oldest first (creation time, then id). */
export function listWebhooks(deps: ServiceDeps, caller: Caller, page: KeysetPage = {}) {
  return keysetPage(
    deps.prisma,
    ENDPOINTS,
    Prisma.sql`"workspaceId" = ${caller.workspaceId}`,
    page,
    (ids) =>
      deps.prisma.webhookEndpoint.findMany({
        where: { id: { in: ids }, workspaceId: caller.workspaceId },
      }),
  );
}

export async function findWebhook(deps: ServiceDeps, caller: Caller, id: string) {
  const row = await deps.prisma.webhookEndpoint.findFirst({
    where: { id, workspaceId: caller.workspaceId },
  });
  if (!row) throw new NotFoundError('webhook', id);
  return row;
}

export async function deleteWebhook(deps: ServiceDeps, caller: Caller, id: string) {
  await findWebhook(deps, caller, id);
  return mutate(
    deps,
    caller,
    () => ({ action: 'webhook.delete', targetType: 'webhook', targetId: id }),
    null,
    (tx: Tx) => tx.webhookEndpoint.delete({ where: { id } }),
  );
}

/** Newest first (creation time, then id, descending), with every attempt; the latest 100 unless
 * `page` says otherwise. */
export async function listDeliveries(
  deps: ServiceDeps,
  caller: Caller,
  endpointId: string,
  page: KeysetPage = {},
) {
  await findWebhook(deps, caller, endpointId);
  return keysetPage(
    deps.prisma,
    DELIVERIES,
    Prisma.sql`"endpointId" = ${endpointId} AND "workspaceId" = ${caller.workspaceId}`,
    { after: page.after, take: page.take ?? 100 },
    (ids) =>
      deps.prisma.webhookDelivery.findMany({
        where: { id: { in: ids }, workspaceId: caller.workspaceId },
        include: { log: { orderBy: { attempt: 'asc' } } },
      }),
  );
}

/** Changes url, events or status (`disabled` stops deliveries; `enabled` resumes the pending ones). */
export async function updateWebhook(deps: WebhookDeps, caller: Caller, id: string, raw: unknown) {
  const input = parseInput(updateSchema, raw);
  if (input.url) checkUrl(deps, input.url);
  await findWebhook(deps, caller, id);
  const endpoint = await mutate(
    deps,
    caller,
    () => ({
      action: 'webhook.update',
      targetType: 'webhook',
      targetId: id,
      data: { fields: Object.keys(input) },
    }),
    null,
    (tx: Tx) =>
      tx.webhookEndpoint.update({
        where: { id },
        data: {
          ...input,
          ...(input.events ? { events: [...new Set(input.events)] } : {}),
          // Enabled again by the operator: the failure streak starts over.
          ...(input.status === 'enabled' ? { consecutiveFailures: 0, failingSince: null } : {}),
        },
      }),
  );
  if (endpoint.status === 'enabled') deps.onWebhooksQueued?.();
  return endpoint;
}

/** How long deliveries stay signed with the previous secret too, after a rotation. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;

/**
 * A new signing secret, effective for the next attempt; shown once. For the next 24 h deliveries
 * carry a second signature made with the replaced secret (Standard Webhooks allows several), so a
 * receiver still holding it keeps verifying until it switches over. Rotating again within the
 * overlap replaces the previous secret with the one just retired.
 */
export async function rotateWebhookSecret(deps: WebhookDeps, caller: Caller, id: string) {
  await findWebhook(deps, caller, id);
  const at = deps.now?.() ?? new Date();
  const secret = newSecret();
  const endpoint = await mutate(
    deps,
    caller,
    () => ({ action: 'webhook.rotate_secret', targetType: 'webhook', targetId: id }),
    null,
    async (tx: Tx) => {
      const current = await tx.webhookEndpoint.findUniqueOrThrow({ where: { id } });
      return tx.webhookEndpoint.update({
        where: { id },
        data: {
          sealedSecret: seal(deps.secretKey, secret),
          previousSealedSecret: current.sealedSecret,
          previousSecretExpiresAt: new Date(at.getTime() + SECRET_OVERLAP_MS),
        },
      });
    },
  );
  return { endpoint, secret };
}

/**
 * Sends a delivery again (same `webhook-id`, so receivers can still deduplicate): it becomes
 * pending and due now. Refused while the endpoint is disabled — enable it first.
 */
export async function replayDelivery(
  deps: WebhookDeps,
  caller: Caller,
  endpointId: string,
  deliveryId: string,
) {
  const endpoint = await findWebhook(deps, caller, endpointId);
  if (endpoint.status !== 'enabled') {
    throw new ConflictError(`webhook ${endpointId} is disabled: enable it before replaying`);
  }
  const found = await deps.prisma.webhookDelivery.findFirst({
    where: { id: deliveryId, endpointId, workspaceId: caller.workspaceId },
  });
  if (!found) throw new NotFoundError('delivery', deliveryId);
  const delivery = await mutate(
    deps,
    caller,
    () => ({ action: 'webhook.replay', targetType: 'webhook_delivery', targetId: deliveryId }),
    null,
    (tx: Tx) =>
      tx.webhookDelivery.update({
        where: { id: deliveryId },
        data: { status: 'pending', nextAttemptAt: new Date() },
        include: { log: { orderBy: { attempt: 'asc' } } },
      }),
  );
  deps.onWebhooksQueued?.();
  return delivery;
}
