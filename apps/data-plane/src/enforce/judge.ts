import type { IncomingMessage } from 'node:http';
import {
  type CompiledPolicy,
  type Decision,
  type KeyChain,
  type ResolvedPrice,
  resolveTags,
  TagError,
} from '@tollgate/policy';
import type { ModelDeps } from '../handle-model.ts';
import { badRequest, type ErrorSpec } from '../http/errors.ts';
import type { ParsedRequest } from '../http/parse.ts';
import { headerTags } from '../http/request.ts';
import { type ResolvedUpstream, resolveUpstream } from '../upstreams.ts';

/** A refusal before dispatch, with what its usage record needs. */
export interface Blocked {
  blocked: ErrorSpec;
  errorClass: string;
  tags?: string[];
  provider?: string | null;
  /** The route it would have taken was the workspace's (or sub-account's) own provider key. */
  byok?: boolean;
  /** A rate limit refused it: the limit's value and the Retry-After answered (null: none helps). */
  rateLimit?: { value: number; retryAfterSeconds: number | null };
}

export interface Judged {
  chain: KeyChain;
  price: ResolvedPrice;
  tags: string[];
  provider: string;
  upstream: Extract<ResolvedUpstream, { ok: true }>;
}

/** Decision, tags and route of a request whose key and body are valid (SPEC §6 order). */
export function judge(
  deps: ModelDeps,
  policy: CompiledPolicy,
  req: IncomingMessage,
  parsed: ParsedRequest,
  decision: Decision,
): Judged | Blocked {
  if (!decision.ok) {
    const extra =
      decision.reason === 'model_not_allowed' || decision.reason === 'sub_account_suspended'
        ? { allowed_models: decision.chain?.subAccount.allowedModels ?? [] }
        : undefined;
    return { blocked: { ...decision, extra }, errorClass: decision.reason };
  }
  const { workspace, subAccount } = decision.chain;
  let tags: string[];
  try {
    tags = resolveTags(subAccount, headerTags(req), parsed.bodyTags);
  } catch (err) {
    if (!(err instanceof TagError)) throw err;
    const param = err.source === 'header' ? 'x-tollgate-tag' : 'metadata.tags';
    return { blocked: badRequest(err.message, param, err.code), errorClass: 'invalid_request' };
  }
  const provider = parsed.model.slice(0, parsed.model.indexOf('/'));
  const upstream = resolveUpstream(
    policy,
    workspace.id,
    provider,
    deps.upstreams,
    deps.openKey,
    subAccount.id,
  );
  if (!upstream.ok) {
    const blocked = {
      status: 502,
      type: 'upstream_error',
      code: 'no_upstream',
      message: upstream.message,
    };
    return { blocked, errorClass: 'no_upstream', tags, provider };
  }
  return { chain: decision.chain, price: decision.price, tags, provider, upstream };
}
