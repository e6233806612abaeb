import * as workspaces from '../../services/workspaces.ts';
import { created, ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** Workspaces (root) and the calling workspace itself. */
export const WORKSPACE_ROUTES: Route[] = [
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
];
