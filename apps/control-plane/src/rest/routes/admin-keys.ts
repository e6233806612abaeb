import * as adminKeys from '../../services/admin-keys.ts';
import { created, ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** The workspace's own admin keys: rotation with overlap, and revocation of a leaked one. */
export const ADMIN_KEY_ROUTES: Route[] = [
  {
    method: 'POST',
    path: '/v1/admin-keys',
    action: 'workspace.write',
    optionalBody: true,
    handle: async ({ deps, caller, body }) => {
      const r = await adminKeys.createAdminKey(deps, caller, await body());
      return created({ ...json.adminKeyJson(r.key, caller.actor), key: r.plaintext });
    },
  },
  {
    method: 'GET',
    path: '/v1/admin-keys',
    action: 'workspace.write',
    handle: async ({ deps, caller }) =>
      ok({
        data: (await adminKeys.listAdminKeys(deps, caller)).map((k) =>
          json.adminKeyJson(k, caller.actor),
        ),
      }),
  },
  {
    method: 'DELETE',
    path: '/v1/admin-keys/:id',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) =>
      ok(json.adminKeyJson(await adminKeys.revokeAdminKey(deps, caller, params.id!), caller.actor)),
  },
];
