import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Action } from '../lib/authz.ts';
import * as budgets from '../services/budgets.ts';
import type { Caller } from '../services/context.ts';
import * as credits from '../services/credits.ts';
import * as exports from '../services/export.ts';
import * as keys from '../services/keys.ts';
import * as plans from '../services/plans.ts';
import * as prices from '../services/prices.ts';
import * as providerKeys from '../services/provider-keys.ts';
import * as subAccounts from '../services/sub-accounts.ts';
import * as usage from '../services/usage.ts';
import * as webhooks from '../services/webhooks.ts';
import * as workspaces from '../services/workspaces.ts';
import type { RestDeps } from './router.ts';
import * as json from './serialize.ts';

export interface RouteContext {
  deps: RestDeps;
  caller: Caller;
  params: Record<string, string>;
  query: Record<string, string>;
  /** Parsed JSON object body with camelCase keys (`{}` for bodiless methods). */
  body: () => Promise<Record<string, unknown>>;
  /** For a route that streams its answer itself (and then returns null). */
  res: ServerResponse;
}

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  action: Action;
  /** Answers [status, body], or null when it wrote the response itself (streaming). */
  handle: (ctx: RouteContext) => Promise<[number, unknown] | null>;
}

const ok = (body: unknown): [number, unknown] => [200, body];
const created = (body: unknown): [number, unknown] => [201, body];

/** SPEC §4, one line per endpoint; every handler calls the same services as GraphQL. */
export const ROUTES: Route[] = [
  {
    method: 'POST',
    path: '/v1/workspaces',
    action: 'workspaces.manage',
    handle: async ({ deps, body }) => {
      const r = await workspaces.createWorkspace(deps, 'root', await body());
      return created({ ...json.workspaceJson(r.workspace), admin_key: r.adminKey });
    },
  },
  {
    method: 'GET',
    path: '/v1/workspaces',
    action: 'workspaces.manage',
    handle: async ({ deps }) =>
      ok({ data: (await workspaces.listWorkspaces(deps)).map(json.workspaceJson) }),
  },
  {
    method: 'GET',
    path: '/v1/workspace',
    action: 'workspace.read',
    handle: async ({ deps, caller }) =>
      ok(json.workspaceJson(await workspaces.getWorkspace(deps, caller))),
  },
  {
    method: 'PATCH',
    path: '/v1/workspace',
    action: 'workspace.write',
    handle: async ({ deps, caller, body }) =>
      ok(json.workspaceJson(await workspaces.updateWorkspace(deps, caller, await body()))),
  },
  {
    method: 'POST',
    path: '/v1/plans',
    action: 'workspace.write',
    handle: async ({ deps, caller, body }) =>
      created(json.planJson(await plans.createPlan(deps, caller, await body()), 0)),
  },
  {
    method: 'GET',
    path: '/v1/plans',
    action: 'workspace.read',
    handle: async ({ deps, caller }) => {
      const list = await plans.listPlans(deps, caller);
      const counts = await plans.planUsage(
        deps,
        list.map((p) => p.id),
      );
      return ok({ data: list.map((p) => json.planJson(p, counts.get(p.id) ?? 0)) });
    },
  },
  {
    method: 'GET',
    path: '/v1/plans/:id',
    action: 'workspace.read',
    handle: async ({ deps, caller, params }) => {
      const p = await plans.findPlan(deps, caller, params.id!);
      const counts = await plans.planUsage(deps, [p.id]);
      return ok(json.planJson(p, counts.get(p.id) ?? 0));
    },
  },
  {
    method: 'PATCH',
    path: '/v1/plans/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params, body }) =>
      ok(json.planJson(await plans.updatePlan(deps, caller, params.id!, await body()))),
  },
  {
    method: 'DELETE',
    path: '/v1/plans/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(json.planJson(await plans.deletePlan(deps, caller, params.id!))),
  },
  {
    method: 'POST',
    path: '/v1/sub-accounts/:id/provider-keys',
    action: 'workspace.write',
    handle: async ({ deps, caller, params, body }) =>
      created(
        json.providerKeyJson(
          await providerKeys.setProviderKey(deps, caller, await body(), params.id!),
        ),
      ),
  },
  {
    method: 'GET',
    path: '/v1/sub-accounts/:id/provider-keys',
    action: 'workspace.read',
    handle: async ({ deps, caller, params }) => {
      await subAccounts.findSubAccount(deps, caller, params.id!);
      const list = await providerKeys.listProviderKeys(deps, caller, params.id!);
      return ok({ data: list.map(json.providerKeyJson) });
    },
  },
  {
    method: 'POST',
    path: '/v1/sub-accounts',
    action: 'workspace.write',
    handle: async ({ deps, caller, body }) => {
      const r = await subAccounts.createSubAccount(deps, caller, await body());
      return created({ ...json.subAccountJson(r.subAccount), key: r.key });
    },
  },
  {
    method: 'GET',
    path: '/v1/sub-accounts',
    action: 'workspace.read',
    handle: async ({ deps, caller, query }) => {
      const page = await subAccounts.listSubAccounts(deps, caller, query);
      return ok({ data: page.data.map(json.subAccountJson), next_cursor: page.nextCursor });
    },
  },
  {
    method: 'GET',
    path: '/v1/sub-accounts/:id',
    action: 'workspace.read',
    handle: async ({ deps, caller, params }) => {
      const sa = await subAccounts.findSubAccount(deps, caller, params.id!);
      const spend = await subAccounts.periodSpend(deps, sa);
      const saKeys = await keys.listKeys(deps, caller, sa.id);
      return ok({
        ...json.subAccountJson(sa),
        spent_cents: Number(spend.spentMicros) / 10_000,
        reserved_cents: Number(spend.reservedMicros) / 10_000,
        resets_at: spend.resetsAt?.toISOString() ?? null,
        keys: saKeys.map(json.keyJson),
      });
    },
  },
  {
    method: 'PATCH',
    path: '/v1/sub-accounts/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params, body }) =>
      ok(
        json.subAccountJson(
          await subAccounts.updateSubAccount(deps, caller, params.id!, await body()),
        ),
      ),
  },
  {
    method: 'POST',
    path: '/v1/sub-accounts/:id/credits',
    action: 'workspace.write',
    handle: async ({ deps, caller, params, body }) => {
      const r = await credits.topUp(deps, caller, params.id!, await body());
      const b = await credits.balanceOf(deps, params.id!);
      return [
        r.replay ? 200 : 201,
        { ...json.creditJson(r.credit), idempotent_replay: r.replay, ...json.balanceJson(b) },
      ];
    },
  },
  {
    method: 'GET',
    path: '/v1/sub-accounts/:id/ledger',
    action: 'workspace.read',
    handle: async ({ deps, caller, params, query }) => {
      const l = await credits.ledger(deps, caller, params.id!, query);
      return ok({
        sub_account_id: l.subAccount.id,
        prepaid: l.subAccount.prepaid,
        ...json.balanceJson(l),
        data: l.data.map(json.ledgerEntryJson),
        next_cursor: l.nextCursor,
      });
    },
  },
  {
    method: 'DELETE',
    path: '/v1/sub-accounts/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(json.subAccountJson(await subAccounts.deleteSubAccount(deps, caller, params.id!))),
  },
  {
    method: 'POST',
    path: '/v1/sub-accounts/:id/keys',
    action: 'workspace.write',
    handle: async ({ deps, caller, params, body }) => {
      const r = await keys.createKey(deps, caller, params.id!, await body());
      return created({ ...json.keyJson(r.key), key: r.plaintext });
    },
  },
  {
    method: 'GET',
    path: '/v1/sub-accounts/:id/keys',
    action: 'workspace.read',
    handle: async ({ deps, caller, params }) =>
      ok({ data: (await keys.listKeys(deps, caller, params.id!)).map(json.keyJson) }),
  },
  {
    method: 'DELETE',
    path: '/v1/sub-accounts/:id/keys/:keyId',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(json.keyJson(await keys.revokeKey(deps, caller, params.id!, params.keyId!))),
  },
  {
    method: 'GET',
    path: '/v1/sub-accounts/:id/usage',
    action: 'workspace.read',
    handle: async ({ deps, caller, params, query }) =>
      ok(json.usageJson(await usage.subAccountUsage(deps, caller, params.id!, query))),
  },
  {
    method: 'GET',
    path: '/v1/usage',
    action: 'usage.own.read',
    handle: async ({ deps, caller, query }) =>
      ok(json.usageJson(await usage.ownUsage(deps, caller, query))),
  },
  {
    method: 'GET',
    path: '/v1/usage/export',
    action: 'workspace.read',
    handle: async ({ deps, caller, query, res }) => {
      await streamExport(res, exports.usageExport(deps, caller, query));
      return null;
    },
  },
  {
    method: 'GET',
    path: '/v1/usage/by-tag',
    action: 'workspace.read',
    handle: async ({ deps, caller, query }) =>
      ok(json.tagUsageJson(await usage.usageByTag(deps, caller, query))),
  },
  {
    method: 'POST',
    path: '/v1/budgets',
    action: 'workspace.write',
    handle: async ({ deps, caller, body }) =>
      created(json.budgetJson(await budgets.createBudget(deps, caller, await body()))),
  },
  {
    method: 'GET',
    path: '/v1/budgets',
    action: 'workspace.read',
    handle: async ({ deps, caller }) =>
      ok({ data: (await budgets.listBudgets(deps, caller)).map(json.budgetJson) }),
  },
  {
    method: 'DELETE',
    path: '/v1/budgets/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(json.budgetJson(await budgets.deleteBudget(deps, caller, params.id!))),
  },
  {
    method: 'POST',
    path: '/v1/provider-keys',
    action: 'workspace.write',
    handle: async ({ deps, caller, body }) =>
      created(json.providerKeyJson(await providerKeys.setProviderKey(deps, caller, await body()))),
  },
  {
    method: 'GET',
    path: '/v1/provider-keys',
    action: 'workspace.read',
    handle: async ({ deps, caller }) =>
      ok({ data: (await providerKeys.listProviderKeys(deps, caller)).map(json.providerKeyJson) }),
  },
  {
    method: 'DELETE',
    path: '/v1/provider-keys/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(json.providerKeyJson(await providerKeys.deleteProviderKey(deps, caller, params.id!))),
  },
  {
    method: 'POST',
    path: '/v1/prices',
    action: 'workspace.write',
    handle: async ({ deps, caller, body }) =>
      created(json.priceJson(await prices.setPrice(deps, caller, await body()))),
  },
  {
    method: 'GET',
    path: '/v1/prices',
    action: 'workspace.read',
    handle: async ({ deps, caller }) =>
      ok({ data: (await prices.listPrices(deps, caller)).map(json.priceJson) }),
  },
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
    handle: async ({ deps, caller, params }) =>
      ok({
        data: (await webhooks.listDeliveries(deps, caller, params.id!)).map(json.deliveryJson),
      }),
  },
];

/** Writes an export chunk by chunk, honouring backpressure (`write` false → wait for `drain`). */
async function streamExport(res: ServerResponse, x: exports.UsageExport): Promise<void> {
  const csv = x.format === 'csv';
  res.writeHead(200, {
    'content-type': csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'content-disposition': `attachment; filename="usage-${x.month}.${x.format}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  let closed = false;
  res.once('close', () => {
    closed = true;
  });
  const write = async (text: string) => {
    if (!res.write(text) && !closed) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  };
  if (csv) await write(exports.csvHeader());
  for await (const lines of x.chunks()) {
    if (closed) return;
    let buf = '';
    for (const line of lines) {
      buf += csv ? exports.csvLine(line) : exports.jsonLine(line);
      if (buf.length >= 65_536) {
        await write(buf);
        buf = '';
      }
    }
    if (buf) await write(buf);
  }
  res.end();
}
