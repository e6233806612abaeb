import * as budgets from '../../services/budgets.ts';
import { created, ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** Tag budgets. */
export const BUDGET_ROUTES: Route[] = [
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
    method: 'GET',
    path: '/v1/budgets/:id',
    action: 'workspace.read',
    handle: async ({ deps, caller, params }) =>
      ok(json.budgetJson(await budgets.findBudget(deps, caller, params.id!))),
  },
  {
    method: 'PATCH',
    path: '/v1/budgets/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params, body }) =>
      ok(json.budgetJson(await budgets.updateBudget(deps, caller, params.id!, await body()))),
  },
  {
    method: 'DELETE',
    path: '/v1/budgets/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(json.budgetJson(await budgets.deleteBudget(deps, caller, params.id!))),
  },
];
