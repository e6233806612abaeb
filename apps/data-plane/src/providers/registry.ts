import { chatCompletions } from './openai/chat-completions.ts';
import { completions } from './openai/completions.ts';
import { embeddings } from './openai/embeddings.ts';
import { responses } from './openai/responses.ts';
import type { EndpointSpec } from './types.ts';

/**
 * The one list of endpoints the data plane serves (POST). `openai` and every OpenAI-compatible
 * upstream registered with a base URL share these specs.
 * TODO: `anthropic` (Messages API translation) is not implemented yet.
 */
export const ENDPOINTS: ReadonlyMap<string, EndpointSpec> = new Map(
  [chatCompletions, completions, embeddings, responses].map((e) => [e.path, e]),
);

/** The field written when clamping a request that set no output bound: OpenAI's newer models
 * refuse `max_tokens` on chat, other OpenAI-compatible servers may not know its successor. */
export function defaultMaxTokenField(endpoint: EndpointSpec, provider: string): string | null {
  if (endpoint.kind === 'chat')
    return provider === 'openai' ? 'max_completion_tokens' : 'max_tokens';
  return endpoint.maxTokenFields[0] ?? null;
}
