import type { CompiledPolicy, KeyChain } from '@tollgate/policy';
import { priceFor, workspacePrices } from '@tollgate/policy';
import { CATALOGUE } from '@tollgate/pricing';

/** `GET /v1/models`: only what the key may use (its allow-list, else every priced model). */
export function listModels(policy: CompiledPolicy, chain: KeyChain) {
  const ws = chain.workspace.id;
  const allowed = chain.subAccount.allowedModels;
  const names =
    allowed.length > 0
      ? allowed.filter((m) => priceFor(policy, ws, m) !== undefined)
      : [
          ...new Set([...CATALOGUE.map((p) => p.model), ...workspacePrices(policy, ws).keys()]),
        ].sort();
  return {
    object: 'list',
    data: names.map((id) => ({
      id,
      object: 'model',
      created: 0,
      owned_by: id.slice(0, id.indexOf('/')),
    })),
  };
}
