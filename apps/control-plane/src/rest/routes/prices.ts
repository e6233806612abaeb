import * as prices from '../../services/prices.ts';
import { created, ok, type Route } from '../route.ts';
import * as json from '../serialize.ts';

/** Prices: set or remove a workspace override; list the catalogue as the workspace sees it. */
export const PRICE_ROUTES: Route[] = [
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
    // `provider/model`: its slashes as they are or encoded.
    method: 'DELETE',
    path: '/v1/prices/:model*',
    action: 'workspace.write',
    handle: async ({ deps, caller, params }) => {
      const price = await prices.deletePrice(deps, caller, params.model!);
      // null: the catalogue does not know the model, nothing prices it any more.
      return ok(price === null ? null : json.priceJson(price));
    },
  },
];
