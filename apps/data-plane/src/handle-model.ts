import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Limiter } from '@tollgate/bus';
import {
  type CompiledPolicy,
  decide,
  type KeyChain,
  resolveTags,
  TagError,
} from '@tollgate/policy';
import { estimateInputTokens } from '@tollgate/pricing';
import { admit, spendCounters } from './enforce/admission.ts';
import { billedWorstCase, type CostModel, modelPrice, perChoiceWithin } from './enforce/cost.ts';
import { admitRefusal, rateHeaders } from './enforce/refusals.ts';
import { blockedEvent, type Flight } from './flight.ts';
import type { ForwardJob } from './forward/proxy.ts';
import { readBody } from './http/body.ts';
import { badRequest, type ErrorSpec, sendError } from './http/errors.ts';
import { isError, type ParsedRequest, parseRequest } from './http/parse.ts';
import type { Logger } from './log.ts';
import { defaultMaxTokenField } from './providers/registry.ts';
import type { EndpointSpec } from './providers/types.ts';
import { endpointUrl, resolveUpstream, type UpstreamConfig } from './upstreams.ts';
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
}

export function bearerHash(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match?.[1] === undefined) return null;
  return createHash('sha256').update(match[1]).digest('hex');
}

export const INVALID_KEY: ErrorSpec = {
  status: 401,
  type: 'invalid_request_error',
  code: 'invalid_api_key',
  message: 'Incorrect API key provided.',
};

export const NO_POLICY: ErrorSpec = {
  status: 503,
  type: 'service_unavailable',
  code: 'policy_not_loaded',
  message: 'The gateway has not loaded its policy yet; retry shortly.',
  headers: { 'retry-after': '1' },
};

function headerTags(req: IncomingMessage): string[] {
  const out: string[] = [];
  for (const name of ['x-tollgate-tag', 'x-aig-tag']) {
    const v = req.headers[name];
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) out.push(...v);
  }
  return out;
}

/** The body as forwarded: provider prefix stripped, usage asked for on streams, our own fields
 * (`metadata.tags`) removed, output bound lowered when the budget required it. */
function rewriteBody(
  p: ParsedRequest,
  endpoint: EndpointSpec,
  provider: string,
  clampTo: number | null,
): { body: Buffer; stripUsage: boolean } {
  const body: Record<string, unknown> = { ...p.body, model: p.model.slice(provider.length + 1) };
  let stripUsage = false;
  if (p.stream && endpoint.streamUsageOption && !p.clientWantsUsage) {
    const options =
      typeof body.stream_options === 'object' && body.stream_options !== null
        ? body.stream_options
        : {};
    body.stream_options = { ...options, include_usage: true };
    stripUsage = true;
  }
  if (
    p.bodyTags.length > 0 ||
    (body.metadata as Record<string, unknown> | undefined)?.tags !== undefined
  ) {
    const { tags: _tags, ...rest } = body.metadata as Record<string, unknown>;
    if (Object.keys(rest).length === 0) delete body.metadata;
    else body.metadata = rest;
  }
  if (clampTo !== null) {
    const present = endpoint.maxTokenFields.filter(
      (f) => body[f] !== undefined && body[f] !== null,
    );
    const fields = present.length > 0 ? present : [defaultMaxTokenField(endpoint, provider)];
    for (const f of fields) if (f !== null) body[f] = clampTo;
  }
  return { body: Buffer.from(JSON.stringify(body)), stripUsage };
}

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
  const keyHash = bearerHash(req);
  if (keyHash === null) return sendError(res, INVALID_KEY);
  if (policy.keysByHash.get(keyHash) === undefined) return sendError(res, INVALID_KEY);

  const read = await readBody(req, deps.maxBodyBytes);
  if (!read.ok) {
    if (read.reason === 'too_large') {
      res.setHeader('connection', 'close');
      return sendError(res, {
        status: 413,
        type: 'invalid_request_error',
        code: 'request_too_large',
        message: `The request body exceeds ${deps.maxBodyBytes} bytes.`,
      });
    }
    return;
  }
  const parsed = parseRequest(read.body, endpoint);
  const nowMs = deps.now();
  const decision = decide(policy, {
    keyHash,
    model: isError(parsed) ? '' : parsed.model,
    nowMs,
  });
  const chain: KeyChain | undefined = decision.ok ? decision.chain : decision.chain;
  const block = (
    spec: ErrorSpec,
    errorClass: string,
    extra: { tags?: string[]; provider?: string | null } = {},
  ) => {
    sendError(res, spec);
    if (chain === undefined) return;
    deps.emitter.add(
      blockedEvent(requestId, startedMs, deps.now(), chain, {
        model: isError(parsed) ? '' : parsed.model,
        tags: extra.tags ?? [],
        stream: !isError(parsed) && parsed.stream,
        errorClass,
        httpStatus: spec.status,
        provider: extra.provider ?? null,
      }),
    );
  };
  // Key problems first (SPEC §6 order), then the body, then the rest of the decision.
  if (!decision.ok && decision.status === 401) return block(decision, decision.reason);
  if (isError(parsed)) return block(parsed, 'invalid_request');
  if (!decision.ok) {
    const extra =
      decision.reason === 'model_not_allowed' || decision.reason === 'sub_account_suspended'
        ? { allowed_models: decision.chain?.subAccount.allowedModels ?? [] }
        : undefined;
    return block({ ...decision, extra }, decision.reason);
  }
  const { workspace, subAccount } = decision.chain;

  let tags: string[];
  try {
    tags = resolveTags(subAccount, headerTags(req), parsed.bodyTags);
  } catch (err) {
    if (!(err instanceof TagError)) throw err;
    const param = err.source === 'header' ? 'x-tollgate-tag' : 'metadata.tags';
    return block(badRequest(err.message, param, err.code), 'invalid_request');
  }

  const provider = parsed.model.slice(0, parsed.model.indexOf('/'));
  const upstream = resolveUpstream(policy, workspace.id, provider, deps.upstreams, deps.openKey);
  if (!upstream.ok) {
    const spec = {
      status: 502,
      type: 'upstream_error',
      code: 'no_upstream',
      message: upstream.message,
    };
    return block(spec, 'no_upstream', { tags, provider });
  }

  const price = modelPrice(decision.price);
  const cost: CostModel = {
    price,
    markupPercent: upstream.byok && workspace.byokWaivesMarkup ? 0 : workspace.markupPercent,
    inputTokens: estimateInputTokens(parsed.body) + PROMPT_HEADROOM_TOKENS,
    choices: parsed.choices,
  };
  const embedding = endpoint.kind === 'embedding';
  const requested = embedding
    ? 0
    : Math.min(parsed.maxOutput ?? price.maxOutputTokens, price.maxOutputTokens);
  const minOut = embedding ? 0 : Math.min(MIN_OUTPUT_TOKENS, requested);
  const counters = spendCounters(policy, decision.chain, tags, nowMs);
  const result = await admit({
    limiter: deps.limiter,
    chain: decision.chain,
    requestId,
    nowMs,
    counters,
    worstCaseMicros: billedWorstCase(cost, requested),
    minMicros: billedWorstCase(cost, minOut),
    estimatedTokens: cost.inputTokens + (parsed.maxOutput ?? 0) * cost.choices,
    reservationTtlMs: deps.reservationTtlMs,
  });
  if (result === 'unavailable') {
    const spec = {
      status: 503,
      type: 'service_unavailable',
      code: 'limiter_unavailable',
      message: 'Spend limits cannot be checked right now; retry shortly.',
      headers: { 'retry-after': '1' },
    };
    return block(spec, 'limiter_unavailable', { tags, provider });
  }
  if (result !== 'unlimited' && !result.ok) {
    const spec = admitRefusal(result, counters, nowMs);
    const errorClass = result.kind === 'rate' ? result.limit : (spec.code ?? 'spend_cap_reached');
    return block(spec, errorClass, { tags, provider });
  }
  const admitted = result !== 'unlimited';
  const rate = admitted ? result.rate : null;
  for (const [name, value] of Object.entries(rateHeaders(rate))) res.setHeader(name, value);

  const flight: Flight = {
    requestId,
    startedMs,
    endpoint,
    model: parsed.model,
    stream: parsed.stream,
    chain: decision.chain,
    tags,
    provider,
    byok: upstream.byok,
    cost,
    counters,
    reservedMicros: admitted ? result.reservedMicros : 0,
    admitted,
    rate,
    done: false,
  };
  let clampTo: number | null = null;
  if (admitted && result.clamped && !embedding) {
    clampTo = perChoiceWithin(cost, result.reservedMicros);
    if (clampTo < 1) {
      await deps.finishUnforwarded(flight);
      // Unreachable while the limiter reserves at least minMicros; refuse rather than overspend.
      return sendError(res, {
        status: 402,
        type: 'budget_exceeded',
        code: 'spend_cap_reached',
        message: 'The remaining budget cannot pay for this request.',
      });
    }
  }
  const { body, stripUsage } = rewriteBody(parsed, endpoint, provider, clampTo);
  const single: CostModel = { ...cost, choices: 1 };
  deps.forward(req, res, {
    flight,
    target: endpointUrl(upstream.baseUrl, endpoint.upstreamPath),
    apiKey: upstream.apiKey,
    body,
    stripUsage,
    responseHeaders: {},
    overBudget: (tokens) => admitted && billedWorstCase(single, tokens) > flight.reservedMicros,
  });
}
