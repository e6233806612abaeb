import * as providerKeys from '../../services/provider-keys.ts';
import { findSubAccount } from '../../services/sub-account-reads.ts';
import { created, ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** Upstream provider keys: per sub-account, and the workspace-wide ones. */
export const PROVIDER_KEY_ROUTES: Route[] = [
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
      await findSubAccount(deps, caller, params.id!);
      const list = await providerKeys.listProviderKeys(deps, caller, params.id!);
      return ok({ data: list.map(json.providerKeyJson) });
    },
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
];
