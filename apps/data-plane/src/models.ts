import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledPolicy, KeyChain } from '@tollgate/policy';
import {
  decide,
  lookupKey,
  priceFor,
  providerRouteFor,
  subAccountRouteFor,
  workspacePrices,
} from '@tollgate/policy';
import { CATALOGUE } from '@tollgate/pricing';
import { sendError, sendJson } from './http/errors.ts';
import { bearerHash, keyRefusal, NO_POLICY } from './http/request.ts';
import type { UpstreamConfig } from './upstreams.ts';

/**
 * `GET /v1/models`: only what the key may use — its allow-list, else every priced model — and of
 * those only models of a provider it can reach (a platform credential, or a provider key of its
 * workspace or sub-account): a model it would be refused 502 for is not offered.
 */
export function listModels(
  policy: CompiledPolicy,
  chain: KeyChain,
  upstreams: Readonly<Record<string, UpstreamConfig | undefined>>,
) {
  const ws = chain.workspace.id;
  const reachable = (model: string) => {
    const provider = model.slice(0, model.indexOf('/'));
    return (
      upstreams[provider] !== undefined ||
      providerRouteFor(policy, ws, provider) !== undefined ||
      subAccountRouteFor(policy, chain.subAccount.id, provider) !== undefined
    );
  };
  const allowed = chain.subAccount.allowedModels;
  const names = (
    allowed.length > 0
      ? allowed.filter((m) => priceFor(policy, ws, m) !== undefined)
      : [
          ...new Set([...CATALOGUE.map((p) => p.model), ...workspacePrices(policy, ws).keys()]),
        ].sort()
  ).filter(reachable);
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

/** The calling sub-account key's chain and the key part of decide() (any model name passes it
 * when none is asked for); undefined when the bearer is no key the policy holds. */
export function callerOf(req: IncomingMessage, policy: CompiledPolicy, nowMs: number) {
  const hash = bearerHash(req);
  const chain = hash === null ? undefined : lookupKey(policy, hash);
  if (hash === null || chain === undefined) return undefined;
  const d = decide(policy, {
    keyHash: hash,
    model: chain.subAccount.allowedModels[0] ?? '',
    nowMs,
  });
  return { chain, d };
}

/** Answers `GET /v1/models` (or `/v1/models/{id}`) for the calling key: the same key checks as a
 * model request. */
export async function answerOwnModels(
  req: IncomingMessage,
  res: ServerResponse,
  policy: CompiledPolicy | null,
  nowMs: number,
  upstreams: Readonly<Record<string, UpstreamConfig | undefined>>,
  /** The sub-account's x-ratelimit-* headers as they stand (SPEC §6: on every answer). */
  rates: (chain: KeyChain) => Promise<Record<string, string>>,
  /** One model (`GET /v1/models/{id}`); undefined: the list. */
  one?: string,
): Promise<void> {
  if (policy === null) {
    sendError(res, NO_POLICY);
    return;
  }
  const caller = callerOf(req, policy, nowMs);
  if (caller === undefined) {
    sendError(res, keyRefusal(req));
    return;
  }
  const { chain, d } = caller;
  const headers = await rates(chain);
  if (!d.ok && (d.status === 401 || d.reason === 'sub_account_suspended')) {
    sendError(res, { ...d, headers });
    return;
  }
  const list = listModels(policy, chain, upstreams);
  if (one === undefined) {
    sendJson(res, 200, list, headers);
    return;
  }
  // `GET /v1/models/{id}` (the SDKs' models.retrieve): one model of the same list, or 404.
  const model = list.data.find((m) => m.id === one);
  if (model !== undefined) sendJson(res, 200, model, headers);
  else {
    sendError(res, {
      status: 404,
      type: 'invalid_request_error',
      code: 'model_not_found',
      message: `The model '${one.slice(0, 200)}' does not exist or this key may not use it.`,
      param: 'model',
      headers,
    });
  }
}
