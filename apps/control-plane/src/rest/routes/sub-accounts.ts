import * as credits from '../../services/credits.ts';
import * as keys from '../../services/keys.ts';
import { findSubAccount, listSubAccounts, periodSpend } from '../../services/sub-account-reads.ts';
import * as subAccounts from '../../services/sub-accounts.ts';
import { created, ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

type Deps = Parameters<typeof periodSpend>[0];

/**
 * A sub-account as its own answers show it (create, read, update): its settings with the spend
 * and reservations of the current period and, prepaid, its balance — so a PATCH that moves it to
 * another plan shows the spend it carried over without another call.
 */
async function withSpend(deps: Deps, sa: Parameters<typeof periodSpend>[1]) {
  const spend = await periodSpend(deps, sa);
  // A prepaid sub-account's balance (credits − settled draws), as its ledger shows it.
  const balance = sa.prepaid ? json.balanceJson(await credits.balanceOf(deps, sa.id)) : null;
  return {
    ...json.subAccountJson(sa),
    spent_cents: Number(spend.spentMicros) / 10_000,
    reserved_cents: Number(spend.reservedMicros) / 10_000,
    resets_at: spend.resetsAt?.toISOString() ?? null,
    balance,
  };
}

/** Sub-accounts themselves; their keys, credits, provider keys and usage have their own modules. */
export const SUB_ACCOUNT_ROUTES: Route[] = [
  {
    method: 'POST',
    path: '/v1/sub-accounts',
    action: 'workspace.write',
    handle: async ({ deps, caller, body }) => {
      const r = await subAccounts.createSubAccount(deps, caller, await body());
      return created({ ...(await withSpend(deps, r.subAccount)), key: r.key, key_id: r.keyId });
    },
  },
  {
    method: 'GET',
    path: '/v1/sub-accounts',
    action: 'workspace.read',
    query: true,
    handle: async ({ deps, caller, query }) => {
      const page = await listSubAccounts(deps, caller, query);
      return ok({ data: page.data.map(json.subAccountJson), next_cursor: page.nextCursor });
    },
  },
  {
    method: 'GET',
    path: '/v1/sub-accounts/:id',
    action: 'workspace.read',
    handle: async ({ deps, caller, params }) => {
      const sa = await findSubAccount(deps, caller, params.id!);
      const saKeys = await keys.listKeys(deps, caller, sa.id);
      return ok({
        ...(await withSpend(deps, sa)),
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
        await withSpend(
          deps,
          await subAccounts.updateSubAccount(deps, caller, params.id!, await body()),
        ),
      ),
  },
  {
    method: 'DELETE',
    path: '/v1/sub-accounts/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(json.subAccountJson(await subAccounts.deleteSubAccount(deps, caller, params.id!))),
  },
];
