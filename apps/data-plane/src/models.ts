import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledPolicy, KeyChain } from '@tollgate/policy';
import { decide, lookupKey, priceFor, workspacePrices } from '@tollgate/policy';
import { CATALOGUE } from '@tollgate/pricing';
import { sendError, sendJson } from './http/errors.ts';
import { bearerHash, INVALID_KEY, NO_POLICY } from './http/request.ts';

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

/** Answers `GET /v1/models` for the calling key: the same key checks as a model request. */
export function answerOwnModels(
  req: IncomingMessage,
  res: ServerResponse,
  policy: CompiledPolicy | null,
  nowMs: number,
): void {
  if (policy === null) {
    sendError(res, NO_POLICY);
    return;
  }
  const hash = bearerHash(req);
  const chain = hash === null ? undefined : lookupKey(policy, hash);
  if (hash === null || chain === undefined) {
    sendError(res, INVALID_KEY);
    return;
  }
  // Without a model: any model name passes the key part of decide().
  const d = decide(policy, {
    keyHash: hash,
    model: chain.subAccount.allowedModels[0] ?? '',
    nowMs,
  });
  if (!d.ok && (d.status === 401 || d.reason === 'sub_account_suspended')) {
    sendError(res, d);
    return;
  }
  sendJson(res, 200, listModels(policy, chain));
}
