import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Limiter } from '@tollgate/bus';
import { type CompiledPolicy, decide, type KeyChain, resolveTags } from '@tollgate/policy';
import { billedWorstCase, type CostModel, perChoiceWithin } from './enforce/cost.ts';
import { downgrade } from './enforce/downgrade.ts';
import type { Holds } from './enforce/holds.ts';
import { type Blocked, judge } from './enforce/judge.ts';
import { blockedScopeOf, currentRates, rateHeaders } from './enforce/refusals.ts';
import { reserve } from './enforce/reserve.ts';
import { blockedEvent, type Flight } from './flight.ts';
import type { ForwardJob } from './forward/proxy.ts';
import { upstreamRequest } from './forward/upstream-request.ts';
import { readBody } from './http/body.ts';
import { badRequest, type ErrorSpec, sendError } from './http/errors.ts';
import { isError, type ParsedRequest, parseRequest } from './http/parse.ts';
import {
  anthropicKeyHash,
  bearerHash,
  headerTags,
  keyRefusal,
  NO_POLICY,
  policyKnowing,
} from './http/request.ts';
import type { Logger } from './log.ts';
import type { DataPlaneMetrics } from './metrics.ts';
import { chatToMessages, isUnsupported } from './providers/anthropic/chat-to-messages.ts';
import { catalogueModel } from './providers/anthropic/wire.ts';
import { AZURE_KINDS, serves } from './providers/registry.ts';
import type { EndpointSpec } from './providers/types.ts';
import type { UpstreamConfig } from './upstreams.ts';
import type { UsageEmitter } from './usage/emitter.ts';

export interface ModelDeps {
  policy: () => CompiledPolicy | null;
  limiter: Limiter;
  emitter: UsageEmitter;
  forward: (req: IncomingMessage, res: ServerResponse, job: ForwardJob) => void;
  finishUnforwarded: (flight: Flight) => Promise<void>;
  openKey: (sealed: string) => string;
  upstreams: Readonly<Record<string, UpstreamConfig | undefined>>;
  log: Logger;
  now: () => number;
  maxBodyBytes: number;
  reservationTtlMs: number;
  metrics?: DataPlaneMetrics;
  limiterDown?: 'fail-closed' | 'fail-open';
  holds?: Holds;
  /** Resolves true once a policy newer than the revision given is in force (false after `ms`). */
  newerPolicy?: (revision: number, ms: number) => Promise<boolean>;
}

/** Why a body could not be judged: too large (413, the connection closes after it) or the client
 * left while sending it (nobody to answer; the record says so). */
function bodyRefusal(reason: 'too_large' | 'aborted', maxBodyBytes: number): ErrorSpec {
  if (reason === 'aborted') {
    return {
      status: 499,
      type: 'invalid_request_error',
      code: 'client_disconnected',
      message: 'The client closed the connection before its request body was complete.',
    };
  }
  return {
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
    message: `The request body exceeds ${maxBodyBytes} bytes.`,
    headers: { connection: 'close' },
  };
}

/** The tags a refused request carried (or the default tag), for its record; none when they are
 * themselves invalid. */
function carriedTags(
  req: IncomingMessage,
  parsed: ParsedRequest | ErrorSpec,
  chain: KeyChain,
): string[] {
  try {
    return resolveTags(chain.subAccount, headerTags(req), isError(parsed) ? [] : parsed.bodyTags);
  } catch {
    return [];
  }
}

/** authenticate → read → decide → reserve → forward; settlement happens when the answer ends. */
export async function handleModelRequest(
  deps: ModelDeps,
  req: IncomingMessage,
  res: ServerResponse,
  endpoint: EndpointSpec,
  requestId: string,
  startedMs: number,
): Promise<void> {
  const held = deps.policy();
  if (held === null) return sendError(res, NO_POLICY);
  const keyHash = endpoint.kind === 'messages' ? anthropicKeyHash(req) : bearerHash(req);
  // A known key (every request but a fresh key's first) takes no await: no promise on the hot path.
  const policy =
    keyHash === null
      ? null
      : held.keysByHash.get(keyHash) !== undefined
        ? held
        : await policyKnowing(held, keyHash, req, deps);
  if (keyHash === null || policy === null) return sendError(res, keyRefusal(req));
  // Every request with a known key leaves a record (SPEC §7), one whose body was refused too.
  const read = await readBody(req, deps.maxBodyBytes);
  let parsed = read.ok
    ? parseRequest(read.body, endpoint)
    : bodyRefusal(read.reason, deps.maxBodyBytes);
  // Anthropic SDK clients name models bare (`claude-sonnet-4-6`): that is `anthropic/claude-sonnet-4.6`.
  if (!isError(parsed) && endpoint.kind === 'messages' && !parsed.model.includes('/')) {
    parsed.model = catalogueModel(parsed.model);
  }
  const nowMs = deps.now();
  const model = isError(parsed) ? '' : parsed.model;
  const decision = decide(policy, { keyHash, model, nowMs });
  // A refusal before admission still carries the x-ratelimit-* headers (SPEC §6: on every answer),
  // read without counting anything; admission's own refusals (402/429) carry them already.
  const refuse = async (b: Blocked, readRates = true) => {
    const { chain } = decision;
    // A key refused (401: revoked, expired, its sub-account deleted) learns nothing of it.
    const accepted = b.blocked.status !== 401;
    const headers =
      readRates && accepted && chain !== undefined ? await currentRates(deps, chain, nowMs) : {};
    sendError(res, { ...b.blocked, headers: { ...b.blocked.headers, ...headers } });
    if (chain === undefined) return;
    const stream = !isError(parsed) && parsed.stream;
    deps.emitter.add(
      blockedEvent(requestId, startedMs, deps.now(), chain, {
        model,
        tags: b.tags ?? carriedTags(req, parsed, chain),
        stream,
        errorClass: b.errorClass,
        httpStatus: b.blocked.status,
        provider: b.provider ?? null,
        byok: b.byok ?? false,
        blockedScope: blockedScopeOf(b.blocked),
        rateLimit: b.rateLimit,
      }),
    );
  };
  // SPEC §6 order: the key, then whether its sub-account is active, then the body, then the rest of
  // the decision (the model, which needs a body).
  if (!decision.ok && (decision.status === 401 || decision.reason === 'sub_account_suspended'))
    return refuse({ blocked: decision, errorClass: decision.reason });
  if (isError(parsed)) {
    const errorClass =
      parsed.status === 400 ? 'invalid_request' : (parsed.code ?? 'invalid_request');
    return refuse({ blocked: parsed, errorClass });
  }
  let judged = judge(deps, policy, req, parsed, decision);
  if ('blocked' in judged) return refuse(judged);
  let route = { errorClass: 'invalid_request', tags: judged.tags, provider: judged.provider };
  if (
    !serves(judged.provider, endpoint) ||
    (judged.upstream.azure !== null && !AZURE_KINDS.has(endpoint.kind))
  ) {
    const message = `${endpoint.path} does not serve ${judged.provider} models.`;
    return refuse({ blocked: badRequest(message, 'model', 'unsupported_endpoint'), ...route });
  }
  let requestedModel: string | undefined;
  const routed = await downgrade(deps, policy, endpoint, req, parsed, judged, keyHash, nowMs);
  if (routed !== null) {
    requestedModel = parsed.model;
    parsed = routed.parsed;
    judged = routed.judged;
    route = { errorClass: 'invalid_request', tags: judged.tags, provider: judged.provider };
  }
  let translated: Record<string, unknown> | null = null;
  if (judged.provider === 'anthropic' && endpoint.kind === 'chat') {
    const t = chatToMessages(parsed.body, parsed.model.slice(judged.provider.length + 1));
    if (isUnsupported(t)) return refuse({ blocked: badRequest(t.message, t.param), ...route });
    translated = t;
  }
  const reserved = await reserve(deps, policy, endpoint, parsed, judged, {
    requestId,
    startedMs,
    nowMs,
  });
  if ('blocked' in reserved) return refuse(reserved, false);
  const { flight, clampTo } = reserved;
  if (requestedModel !== undefined) {
    flight.requestedModel = requestedModel;
    res.setHeader('x-tollgate-routed-model', flight.model);
  }
  for (const [name, value] of Object.entries(rateHeaders(flight.rate))) res.setHeader(name, value);
  if (clampTo !== null && clampTo < 1) {
    // Unreachable while the limiter reserves at least minMicros; refuse rather than overspend.
    await deps.finishUnforwarded(flight);
    return sendError(res, {
      status: 402,
      type: 'budget_exceeded',
      code: 'spend_cap_reached',
      message: 'The remaining budget cannot pay for this request.',
    });
  }
  const cap = flight.cost.price.maxOutputTokens;
  const bound = clampTo ?? Math.min(parsed.maxOutput ?? cap, cap);
  const upstream = upstreamRequest(req, endpoint, parsed, judged, translated, bound, clampTo);
  const single: CostModel = { ...flight.cost, choices: 1 };
  // The stream tap asks on every text event: below the largest output that surely fits (exact
  // arithmetic, computed once on the first ask) no BigInt pricing runs; above it, the exact check.
  let surelyFits: number | null = null;
  deps.forward(req, res, {
    flight,
    ...upstream,
    apiKey: judged.upstream.apiKey,
    clientWantsUsage: parsed.clientWantsUsage,
    responseHeaders: {},
    overBudget: (tokens) => {
      if (!flight.admitted) return false;
      surelyFits ??= perChoiceWithin(single, flight.reservedMicros) || -1;
      if (tokens <= surelyFits) return false;
      return billedWorstCase(single, tokens) > flight.reservedMicros;
    },
  });
}
