import * as plans from '../../services/plans.ts';
import { created, ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** Plans: named sets of settings that sub-accounts inherit. */
export const PLAN_ROUTES: Route[] = [
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
];
