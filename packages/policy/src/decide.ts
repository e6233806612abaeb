import {
  type CompiledPolicy,
  type KeyChain,
  lookupKey,
  priceFor,
  type ResolvedPrice,
} from './compile.ts';

/**
 * The policy half of the request path (DESIGN.md, request path step 3): after the data plane has
 * hashed the bearer key, may this key call this model, and at what price? Pure and O(1) apart from
 * the allow-list scan: no I/O, no clock (the caller passes `nowMs`), no counters. Rate limits and
 * spend caps are the limiter's job, after this.
 *
 * Checks run in SPEC §6 order — key valid → sub-account active → model allowed — and the first
 * failure wins. Callers branch on `reason` (or send `type`/`code`), never on `message`.
 */

/** Why a request is refused before any counter is touched. */
export type DenyReason =
  | 'invalid_api_key'
  | 'key_revoked'
  | 'key_expired'
  | 'sub_account_suspended'
  | 'sub_account_deleted'
  | 'model_not_allowed'
  | 'model_not_found';

/** `error.type` of the OpenAI envelope (SPEC §6; 401 and 404 use OpenAI's own type). */
export type DenyType = 'invalid_request_error' | 'permission_denied';

/** `error.code` of the OpenAI envelope. The three finer key reasons all answer `invalid_api_key`,
 * the only 401 code SPEC §6 defines; `reason` keeps the distinction for logs and usage records. */
export type DenyCode =
  | 'invalid_api_key'
  | 'sub_account_suspended'
  | 'model_not_allowed'
  | 'model_not_found';

export interface DecideInput {
  /** Lower-case hex sha-256 of the bearer key. */
  keyHash: string;
  /** `provider/model` as the request named it. */
  model: string;
  /** The instant the request is judged at, ms since the epoch (key expiry is inclusive). */
  nowMs: number;
}

export interface Denial {
  ok: false;
  reason: DenyReason;
  status: 401 | 403 | 404;
  type: DenyType;
  code: DenyCode;
  /** Safe to show the caller: never holds the key or its hash. */
  message: string;
  /** The key's chain when the key itself is known (everything but `invalid_api_key`), so a
   * blocked request can still be attributed in its usage record. */
  chain?: KeyChain;
}

export type Decision = { ok: true; chain: KeyChain; price: ResolvedPrice } | Denial;

/** Longest model name quoted back in a message (it is caller input). */
const MAX_QUOTED = 128;

function quote(model: string): string {
  return JSON.stringify(model.length > MAX_QUOTED ? `${model.slice(0, MAX_QUOTED)}…` : model);
}

function deny(
  reason: DenyReason,
  status: Denial['status'],
  message: string,
  chain?: KeyChain,
): Denial {
  const type: DenyType = status === 403 ? 'permission_denied' : 'invalid_request_error';
  const code: DenyCode =
    reason === 'key_revoked' || reason === 'key_expired' || reason === 'sub_account_deleted'
      ? 'invalid_api_key'
      : reason;
  const denial: Denial = { ok: false, reason, status, type, code, message };
  if (chain !== undefined) denial.chain = chain;
  return denial;
}

/** Providers whose bare model names a refusal suggests prefixed. */
const NAMING_HINT_PROVIDERS = ['openai', 'anthropic'];

export function decide(policy: CompiledPolicy, input: DecideInput): Decision {
  // A key whose sub-account or workspace vanished (a delta removed them) fails closed as unknown.
  const chain = lookupKey(policy, input.keyHash);
  if (chain === undefined) {
    return deny('invalid_api_key', 401, 'Incorrect API key provided.');
  }
  const { key, subAccount, workspace } = chain;
  if (key.revoked) {
    return deny('key_revoked', 401, 'This API key has been revoked.', chain);
  }
  if (key.expiresAtMs !== null && input.nowMs >= key.expiresAtMs) {
    return deny('key_expired', 401, 'This API key has expired.', chain);
  }
  // Deletion revokes every key of the sub-account (SPEC §4), hence 401 like a revoked key.
  if (subAccount.status === 'deleted') {
    return deny('sub_account_deleted', 401, 'This API key has been revoked.', chain);
  }
  if (subAccount.status !== 'active') {
    return deny('sub_account_suspended', 403, 'This sub-account is suspended.', chain);
  }
  const allowed = subAccount.allowedModels;
  if (allowed.length > 0 && !allowed.includes(input.model)) {
    const message = `The model ${quote(input.model)} is not allowed for this API key.`;
    return deny('model_not_allowed', 403, message, chain);
  }
  const price = priceFor(policy, workspace.id, input.model);
  if (price === undefined) {
    let message = `The model ${quote(input.model)} does not exist or has no price set.`;
    // The likeliest first mistake of an OpenAI SDK user: the provider's own bare model name.
    if (!input.model.includes('/') && input.model !== '') {
      const guess = NAMING_HINT_PROVIDERS.map((p) => `${p}/${input.model}`).find(
        (m) => priceFor(policy, workspace.id, m) !== undefined,
      );
      message += guess
        ? ` Models are named provider/model: did you mean ${quote(guess)}?`
        : ' Models are named provider/model (e.g. openai/gpt-5.4-mini).';
    }
    return deny('model_not_found', 404, message, chain);
  }
  return { ok: true, chain, price };
}
