import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Limiter } from '@tollgate/bus';
import {
  type CompiledPolicy,
  type Decision,
  decide,
  type KeyChain,
  type ResolvedPrice,
  resolveTags,
  TagError,
} from '@tollgate/policy';
import { estimateInputTokens } from '@tollgate/pricing';
import { admit, spendCounters } from './enforce/admission.ts';
import { billedWorstCase, type CostModel, modelPrice, perChoiceWithin } from './enforce/cost.ts';
import { remainingBudget } from './enforce/downgrade.ts';
import { admitRefusal, blockedScopeOf, rateHeaders } from './enforce/refusals.ts';
import type { Renewals } from './enforce/renewal.ts';
import { blockedEvent, type Flight } from './flight.ts';
import type { ForwardJob } from './forward/proxy.ts';
import { readBody } from './http/body.ts';
import { badRequest, type ErrorSpec, sendError } from './http/errors.ts';
import { isError, type ParsedRequest, parseRequest } from './http/parse.ts';
import {
  anthropicKeyHash,
  bearerHash,
  headerTags,
  INVALID_KEY,
  NO_POLICY,
  rewriteBody,
} from './http/request.ts';
import type { Logger } from './log.ts';
import type { DataPlaneMetrics } from './metrics.ts';
import { chatToMessages, isUnsupported } from './providers/anthropic/chat-to-messages.ts';
import {
  anthropicErrorToChat,
  chatStreamReader,
  messageToChat,
} from './providers/anthropic/messages-to-chat.ts';
import { anthropicHeaders, catalogueModel, upstreamModelId } from './providers/anthropic/wire.ts';
import { AZURE_KINDS, defaultMaxTokenField, serves } from './providers/registry.ts';
import type { EndpointSpec } from './providers/types.ts';
import {
  azureEndpointUrl,
  endpointUrl,
  type ResolvedUpstream,
  resolveUpstream,
  type UpstreamConfig,
} from './upstreams.ts';
import type { UsageEmitter } from './usage/emitter.ts';

/** The smallest output bound worth dispatching (also OpenAI's minimum for `max_output_tokens`). */
const MIN_OUTPUT_TOKENS = 16;
/** Added to the prompt estimate: providers count framing tokens (reply priming, per-message
 * separators) the text estimate cannot see. Settlement is capped at the reservation (the cap
 * guarantee), so an estimate below the real prompt would under-bill; above it only reserves more. */
const PROMPT_HEADROOM_TOKENS = 16;

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
  renewals?: Renewals;
}

/** A refusal before dispatch, with what its usage record needs. */
interface Blocked {
  blocked: ErrorSpec;
  errorClass: string;
  tags?: string[];
  provider?: string | null;
}

interface Judged {
  chain: KeyChain;
  price: ResolvedPrice;
  tags: string[];
  provider: string;
  upstream: Extract<ResolvedUpstream, { ok: true }>;
}

/** Decision, tags and route of a request whose key and body are valid (SPEC §6 order). */
function judge(
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

const LIMITER_DOWN: ErrorSpec = {
  status: 503,
  type: 'service_unavailable',
  code: 'limiter_unavailable',
  message: 'Spend limits cannot be checked right now; retry shortly.',
  headers: { 'retry-after': '1' },
};

/**
 * Reserves the worst case on every counter at once, and computes the lowered output bound when
 * only part of it fits (DESIGN request path, step 4).
 */
async function reserve(
  deps: ModelDeps,
  policy: CompiledPolicy,
  endpoint: EndpointSpec,
  parsed: ParsedRequest,
  j: Judged,
  ids: { requestId: string; startedMs: number; nowMs: number },
): Promise<{ flight: Flight; clampTo: number | null } | Blocked> {
  const { cost, requested, minOut, embedding } = costOf(endpoint, parsed, j);
  const counters = spendCounters(policy, j.chain, j.tags, ids.nowMs);
  const result = await admit({
    limiter: deps.limiter,
    chain: j.chain,
    requestId: ids.requestId,
    nowMs: ids.nowMs,
    counters,
    worstCaseMicros: billedWorstCase(cost, requested),
    minMicros: billedWorstCase(cost, minOut),
    estimatedTokens: cost.inputTokens + (parsed.maxOutput ?? 0) * cost.choices,
    reservationTtlMs: deps.reservationTtlMs,
    failOpen: deps.limiterDown === 'fail-open',
  });
  const route = { tags: j.tags, provider: j.provider };
  if (result === 'unavailable')
    return { blocked: LIMITER_DOWN, errorClass: 'limiter_unavailable', ...route };
  if (result !== 'unlimited' && !result.ok) {
    const blocked = admitRefusal(result, counters, ids.nowMs);
    const errorClass =
      result.kind === 'rate' ? result.limit : (blocked.code ?? 'spend_cap_reached');
    return { blocked, errorClass, ...route };
  }
  const admitted = result !== 'unlimited';
  if (admitted) deps.metrics?.reservationOpened();
  const flight: Flight = {
    requestId: ids.requestId,
    startedMs: ids.startedMs,
    endpoint,
    model: parsed.model,
    stream: parsed.stream,
    chain: j.chain,
    tags: j.tags,
    provider: j.provider,
    byok: j.upstream.byok,
    cost,
    counters,
    reservedMicros: admitted ? result.reservedMicros : 0,
    admitted,
    rate: admitted ? result.rate : null,
    done: false,
  };
  if (admitted) deps.renewals?.track(flight);
  const clamped = admitted && result.clamped && !embedding;
  return { flight, clampTo: clamped ? perChoiceWithin(cost, flight.reservedMicros) : null };
}

/** Cost model of a judged request and its output bounds: the full one and the smallest worth
 * dispatching. Markup: none on a BYOK key when the workspace waives it, else the plan's markup
 * when the sub-account's plan sets one, else the workspace's. */
function costOf(endpoint: EndpointSpec, parsed: ParsedRequest, j: Judged) {
  const { workspace, plan } = j.chain;
  const price = modelPrice(j.price);
  const markup = plan?.markupPercent ?? workspace.markupPercent;
  const cost: CostModel = {
    price,
    markupPercent: j.upstream.byok && workspace.byokWaivesMarkup ? 0 : markup,
    inputTokens: estimateInputTokens(promptOf(endpoint, parsed.body)) + PROMPT_HEADROOM_TOKENS,
    choices: parsed.choices,
  };
  const embedding = endpoint.kind === 'embedding';
  const cap = price.maxOutputTokens;
  const requested = embedding ? 0 : Math.min(parsed.maxOutput ?? cap, cap);
  const minOut = embedding ? 0 : Math.min(MIN_OUTPUT_TOKENS, requested);
  return { cost, requested, minOut, embedding };
}

/**
 * Downgrade routing: when the sub-account (or its plan) names a fallback model and the requested
 * model's worst case no longer fits the remaining budget, the fallback serves instead — provided
 * it is allowed, priced, served on this endpoint, and at least its smallest useful answer fits
 * (it is then admitted like any request, its output bound lowered if only part fits). Otherwise
 * the requested model goes on to the usual clamp or 402. Answers the judged fallback, or null.
 */
async function downgrade(
  deps: ModelDeps,
  policy: CompiledPolicy,
  endpoint: EndpointSpec,
  req: IncomingMessage,
  parsed: ParsedRequest,
  j: Judged,
  keyHash: string,
  nowMs: number,
): Promise<{ judged: Judged; parsed: ParsedRequest } | null> {
  const fallback = j.chain.subAccount.fallbackModel ?? null;
  if (fallback === null || fallback === parsed.model || endpoint.kind === 'embedding') return null;
  const counters = spendCounters(policy, j.chain, j.tags, nowMs);
  const remaining = await remainingBudget(deps.limiter, j.chain.workspace.id, counters, nowMs);
  if (remaining === null) return null;
  const { cost, requested } = costOf(endpoint, parsed, j);
  if (billedWorstCase(cost, requested) <= remaining) return null;
  const decision = decide(policy, { keyHash, model: fallback, nowMs });
  if (!decision.ok) return null;
  const alt: ParsedRequest = { ...parsed, model: fallback };
  const judged = judge(deps, policy, req, alt, decision);
  if ('blocked' in judged || !serves(judged.provider, endpoint)) return null;
  if (judged.upstream.azure !== null && !AZURE_KINDS.has(endpoint.kind)) return null;
  const f = costOf(endpoint, alt, judged);
  if (billedWorstCase(f.cost, f.minOut) > remaining) return null;
  return { judged, parsed: alt };
}

/** The body as the prompt estimate reads it: a Messages `system` counts like `instructions`. */
function promptOf(endpoint: EndpointSpec, body: Record<string, unknown>): unknown {
  return endpoint.kind === 'messages' ? { ...body, instructions: body.system } : body;
}

type UpstreamPart = Pick<
  ForwardJob,
  | 'target'
  | 'body'
  | 'stripUsage'
  | 'upstreamHeaders'
  | 'translateJson'
  | 'streamReader'
  | 'errorOf'
>;

/** What is sent where: OpenAI-compatible as is, Anthropic natively or translated from chat. */
function upstreamRequest(
  req: IncomingMessage,
  endpoint: EndpointSpec,
  parsed: ParsedRequest,
  judged: Judged,
  translated: Record<string, unknown> | null,
  bound: number,
  clampTo: number | null,
): UpstreamPart {
  const { baseUrl, apiKey } = judged.upstream;
  if (translated !== null) {
    return {
      target: endpointUrl(baseUrl, '/messages'),
      body: Buffer.from(JSON.stringify({ ...translated, max_tokens: bound })),
      stripUsage: false,
      upstreamHeaders: anthropicHeaders(apiKey),
      translateJson: messageToChat,
      streamReader: () => chatStreamReader(parsed.clientWantsUsage),
      errorOf: anthropicErrorToChat,
    };
  }
  if (endpoint.kind === 'messages') {
    const version = req.headers['anthropic-version'];
    const { body } = rewriteBody(parsed, endpoint, judged.provider, clampTo, upstreamModelId);
    return {
      target: endpointUrl(baseUrl, endpoint.upstreamPath),
      body,
      stripUsage: false,
      upstreamHeaders: anthropicHeaders(apiKey, typeof version === 'string' ? version : undefined),
    };
  }
  const { azure } = judged.upstream;
  if (azure !== null) {
    // Azure OpenAI: the deployment is named in the URL, the key in `api-key`; the models are
    // OpenAI's, so a clamp writes OpenAI's output bound.
    const deployment = parsed.model.slice(judged.provider.length + 1);
    const maxField = defaultMaxTokenField(endpoint, 'openai');
    const { body, stripUsage } = rewriteBody(
      parsed,
      endpoint,
      judged.provider,
      clampTo,
      () => null,
      maxField,
    );
    return {
      target: azureEndpointUrl(baseUrl, deployment, endpoint.upstreamPath, azure.apiVersion),
      body,
      stripUsage,
      upstreamHeaders: apiKey === null ? {} : { 'api-key': apiKey },
    };
  }
  const { body, stripUsage } = rewriteBody(parsed, endpoint, judged.provider, clampTo);
  return { target: endpointUrl(baseUrl, endpoint.upstreamPath), body, stripUsage };
}

async function readModelBody(
  deps: ModelDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<Buffer | null> {
  const read = await readBody(req, deps.maxBodyBytes);
  if (read.ok) return read.body;
  if (read.reason === 'too_large') {
    res.setHeader('connection', 'close');
    sendError(res, {
      status: 413,
      type: 'invalid_request_error',
      code: 'request_too_large',
      message: `The request body exceeds ${deps.maxBodyBytes} bytes.`,
    });
  }
  return null;
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
  const policy = deps.policy();
  if (policy === null) return sendError(res, NO_POLICY);
  const keyHash = endpoint.kind === 'messages' ? anthropicKeyHash(req) : bearerHash(req);
  if (keyHash === null || policy.keysByHash.get(keyHash) === undefined) {
    return sendError(res, INVALID_KEY);
  }
  const raw = await readModelBody(deps, req, res);
  if (raw === null) return;
  let parsed = parseRequest(raw, endpoint);
  // Anthropic SDK clients name models bare (`claude-sonnet-4-6`): that is `anthropic/claude-sonnet-4.6`.
  if (!isError(parsed) && endpoint.kind === 'messages' && !parsed.model.includes('/')) {
    parsed.model = catalogueModel(parsed.model);
  }
  const nowMs = deps.now();
  const model = isError(parsed) ? '' : parsed.model;
  const decision = decide(policy, { keyHash, model, nowMs });
  const refuse = (b: Blocked) => {
    sendError(res, b.blocked);
    const chain = decision.ok ? decision.chain : decision.chain;
    if (chain === undefined) return;
    const stream = !isError(parsed) && parsed.stream;
    deps.emitter.add(
      blockedEvent(requestId, startedMs, deps.now(), chain, {
        model,
        tags: b.tags ?? [],
        stream,
        errorClass: b.errorClass,
        httpStatus: b.blocked.status,
        provider: b.provider ?? null,
        blockedScope: blockedScopeOf(b.blocked),
      }),
    );
  };
  // Key problems first (SPEC §6 order), then the body, then the rest of the decision.
  if (!decision.ok && decision.status === 401)
    return refuse({ blocked: decision, errorClass: decision.reason });
  if (isError(parsed)) return refuse({ blocked: parsed, errorClass: 'invalid_request' });
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
  if ('blocked' in reserved) return refuse(reserved);
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
    responseHeaders: {},
    overBudget: (tokens) => {
      if (!flight.admitted) return false;
      surelyFits ??= perChoiceWithin(single, flight.reservedMicros) || -1;
      if (tokens <= surelyFits) return false;
      return billedWorstCase(single, tokens) > flight.reservedMicros;
    },
  });
}
