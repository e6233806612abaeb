import * as keys from '../../services/keys.ts';
import { created, ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** A sub-account's API keys. */
export const KEY_ROUTES: Route[] = [
  {
    method: 'POST',
    path: '/v1/sub-accounts/:id/keys',
    action: 'workspace.write',
    optionalBody: true,
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
];
