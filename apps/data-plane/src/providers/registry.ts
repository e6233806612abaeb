import { messages } from './anthropic/messages.ts';
import { chatCompletions } from './openai/chat-completions.ts';
import { completions } from './openai/completions.ts';
import { embeddings } from './openai/embeddings.ts';
import { responses } from './openai/responses.ts';
import type { EndpointSpec } from './types.ts';

/**
 * The one list of endpoints the data plane serves (POST). `openai` and every OpenAI-compatible
 * upstream registered with a base URL share the OpenAI specs; `anthropic` serves chat completions
 * through a translation (providers/anthropic) and `/v1/messages` natively.
 */
export const ENDPOINTS: ReadonlyMap<string, EndpointSpec> = new Map(
  [chatCompletions, completions, embeddings, responses, messages].map((e) => [e.path, e]),
);

/** Providers speaking their own wire format, and the endpoints they serve. */
export const NATIVE_PROVIDERS: ReadonlyMap<string, ReadonlySet<EndpointSpec['kind']>> = new Map([
  ['anthropic', new Set<EndpointSpec['kind']>(['chat', 'messages'])],
]);

/** What an Azure OpenAI deployment serves under `/openai/deployments/{deployment}/…`. */
export const AZURE_KINDS: ReadonlySet<EndpointSpec['kind']> = new Set<EndpointSpec['kind']>([
  'chat',
  'completion',
  'embedding',
]);

/** Whether `provider` can serve `endpoint`: `/v1/messages` is Anthropic's only. */
export function serves(provider: string, endpoint: EndpointSpec): boolean {
  const native = NATIVE_PROVIDERS.get(provider);
  if (native !== undefined) return native.has(endpoint.kind);
  return endpoint.kind !== 'messages';
}

/** The field written when clamping a request that set no output bound: OpenAI's newer models
 * refuse `max_tokens` on chat, other OpenAI-compatible servers may not know its successor. */
export function defaultMaxTokenField(endpoint: EndpointSpec, provider: string): string | null {
  if (endpoint.kind === 'chat')
    return provider === 'openai' ? 'max_completion_tokens' : 'max_tokens';
  return endpoint.maxTokenFields[0] ?? null;
}
