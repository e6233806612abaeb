import * as credits from '../../services/credits.ts';
import { ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** Prepaid credits of a sub-account: top-ups and the ledger. */
export const CREDIT_ROUTES: Route[] = [
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
    query: true,
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
];
