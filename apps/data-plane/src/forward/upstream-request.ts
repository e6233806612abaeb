import type { IncomingMessage } from 'node:http';
import type { Judged } from '../enforce/judge.ts';
import type { ParsedRequest } from '../http/parse.ts';
import { rewriteBody } from '../http/request.ts';
import {
  anthropicErrorToChat,
  chatStreamReader,
  messageToChat,
} from '../providers/anthropic/messages-to-chat.ts';
import { anthropicHeaders, upstreamModelId } from '../providers/anthropic/wire.ts';
import { defaultMaxTokenField } from '../providers/registry.ts';
import type { EndpointSpec } from '../providers/types.ts';
import { azureEndpointUrl, endpointUrl } from '../upstreams.ts';
import type { ForwardJob } from './proxy.ts';

type UpstreamPart = Pick<
  ForwardJob,
  | 'target'
  | 'body'
  | 'stripUsage'
  | 'upstreamHeaders'
  | 'translateJson'
  | 'streamReader'
  | 'errorOf'
  | 'guarded'
>;

/** What is sent where: OpenAI-compatible as is, Anthropic natively or translated from chat. A
 * workspace's own base URL is connected to through the guarded agents (no private addresses). */
export function upstreamRequest(
  req: IncomingMessage,
  endpoint: EndpointSpec,
  parsed: ParsedRequest,
  judged: Judged,
  translated: Record<string, unknown> | null,
  bound: number,
  clampTo: number | null,
): UpstreamPart {
  const part = targetOf(req, endpoint, parsed, judged, translated, bound, clampTo);
  return judged.upstream.workspaceBaseUrl ? { ...part, guarded: true } : part;
}

function targetOf(
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
