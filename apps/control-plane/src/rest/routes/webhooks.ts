import { encodeCursor, MAX_PAGE, restListQuery } from '../../services/pagination.ts';
import * as webhooks from '../../services/webhooks.ts';
import { created, ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** The delivery log pages by 100 by default (as it answered before it paged at all). */
const DELIVERY_PAGE = { default: 100, max: MAX_PAGE };

/** Webhook endpoints, their secrets and their deliveries. */
export const WEBHOOK_ROUTES: Route[] = [
  {
    method: 'POST',
    path: '/v1/webhooks',
    action: 'workspace.write',
    handle: async ({ deps, caller, body }) => {
      const r = await webhooks.createWebhook(deps, caller, await body());
      return created({ ...json.webhookJson(r.endpoint), secret: r.secret });
    },
  },
  {
    method: 'GET',
    path: '/v1/webhooks',
    action: 'workspace.read',
    handle: async ({ deps, caller }) =>
      ok({ data: (await webhooks.listWebhooks(deps, caller)).map(json.webhookJson) }),
  },
  {
    method: 'GET',
    path: '/v1/webhooks/:id',
    action: 'workspace.read',
    handle: async ({ deps, caller, params }) =>
      ok(json.webhookJson(await webhooks.findWebhook(deps, caller, params.id!))),
  },
  {
    method: 'DELETE',
    path: '/v1/webhooks/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(json.webhookJson(await webhooks.deleteWebhook(deps, caller, params.id!))),
  },
  {
    method: 'PATCH',
    path: '/v1/webhooks/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params, body }) =>
      ok(json.webhookJson(await webhooks.updateWebhook(deps, caller, params.id!, await body()))),
  },
  {
    method: 'POST',
    path: '/v1/webhooks/:id/rotate-secret',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) => {
      const r = await webhooks.rotateWebhookSecret(deps, caller, params.id!);
      return ok({ ...json.webhookJson(r.endpoint), secret: r.secret });
    },
  },
  {
    method: 'POST',
    path: '/v1/webhooks/:id/deliveries/:deliveryId/replay',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(
        json.deliveryJson(
          await webhooks.replayDelivery(deps, caller, params.id!, params.deliveryId!),
        ),
      ),
  },
  {
    method: 'GET',
    path: '/v1/webhooks/:id/deliveries',
    action: 'workspace.read',
    // Newest first, `limit` (default 100, at most 200) after `cursor`, like every REST list.
    query: true,
    handle: async ({ deps, caller, params, query }) => {
      const scope = {
        list: 'webhookDeliveries',
        workspaceId: caller.workspaceId,
        parentId: params.id!,
      };
      const { limit, after } = restListQuery(deps.secretKey, scope, query, DELIVERY_PAGE);
      const rows = await webhooks.listDeliveries(deps, caller, params.id!, {
        after: after && [after.createdAt.getTime(), after.id],
        take: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return ok({
        data: page.map(json.deliveryJson),
        next_cursor: rows.length > limit && last ? encodeCursor(deps.secretKey, scope, last) : null,
      });
    },
  },
];
