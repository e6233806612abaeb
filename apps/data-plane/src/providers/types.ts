import type { TokenUsage } from '@tollgate/pricing';

/**
 * One OpenAI-compatible endpoint, as data (DESIGN: providers are folders, endpoints are files):
 * where it is forwarded, which body fields bound its output, whether it streams, and how usage and
 * text are read from its answers.
 */
export interface EndpointSpec {
  /** Path on the data plane, e.g. `/v1/chat/completions`. */
  path: string;
  /** Path appended to the provider base URL (which ends in `/v1`). */
  upstreamPath: string;
  kind: 'chat' | 'completion' | 'embedding' | 'responses' | 'messages';
  /** Body fields bounding output tokens; all present ones are lowered on a clamp. */
  maxTokenFields: readonly string[];
  /** Whether `stream: true` is allowed. */
  canStream: boolean;
  /** Whether the upstream reports usage on streams only when asked (`stream_options.include_usage`). */
  streamUsageOption: boolean;
  /** Endpoint-specific body checks; the message and param of a 400, or null when fine. */
  validate(body: Record<string, unknown>): { message: string; param: string } | null;
  /** Usage from a non-streaming JSON answer; null when the answer carries none. */
  usageOf(json: unknown): TokenUsage | null;
  /** Generated text of a non-streaming answer (for estimating when usage is missing). */
  textOf(json: unknown): string;
  /** Reads one parsed SSE `data:` payload. */
  streamEvent(data: unknown): StreamEventInfo;
  /** A reader with state for one stream (usage reported across several events); replaces
   * `streamEvent` when present. */
  streamReader?(): StreamReader;
}

/** Reads (and, for a translating provider, rewrites) the events of one stream. */
export interface StreamReader {
  event(data: unknown): StreamEventInfo;
  /** Events closing the client's stream when the cap guard ends it; the default is the
   * endpoint's (a `length` chunk and `[DONE]` for chat). */
  capEnd?(billed: CapEndUsage): string;
}

/** What the record of a stream the cap guard ended bills (the prompt as the provider reported it
 * so far, else as estimated at admission; the output estimated from what was streamed), for the
 * closing events to report the same. */
export interface CapEndUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface StreamEventInfo {
  /** Generated text this event carries. */
  text?: string;
  /** Usage this event reports. */
  usage?: TokenUsage;
  /** Usage reported before the answer's end (Anthropic's message_start): its prompt is the
   * provider's count, its output a placeholder. Bills a stream that ends without `usage`. */
  partialUsage?: TokenUsage;
  /** The event exists only to report usage (chat/completions usage chunk: `choices: []`). */
  usageOnly?: boolean;
  /** The event carries a usage field that must be removed when the client did not ask for it. */
  hasUsageField?: boolean;
  /** What the client receives instead of the upstream event (translation; '' drops it). */
  replace?: string;
  /** Model the upstream reports serving. */
  model?: string;
  /** The upstream reported an error inside the stream. */
  failed?: boolean;
  /** The stream's last event (Responses' response.completed/.incomplete/.failed, Messages'
   * message_stop; chat's `[DONE]` is told by the relay): the answer is whole once it is relayed. */
  final?: boolean;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(value: unknown): number {
  return tokenCount(value) ?? 0;
}

/** A token count as a provider reported it: a non-negative number (a fraction rounded up, never
 * under-billed); null when it is not one (negative, not a number, absurdly large). */
function tokenCount(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1e12)
    return null;
  return Math.ceil(value);
}

/** Input and output counts, or null when either is unreadable: the caller then estimates the usage
 * (SPEC §6: never recorded at zero because usage could not be read). An absent output is 0. */
function readUsage(input: unknown, output: unknown, cached: unknown): TokenUsage | null {
  const inputTokens = tokenCount(input);
  const outputTokens = output === undefined || output === null ? 0 : tokenCount(output);
  if (inputTokens === null || outputTokens === null) return null;
  return { inputTokens, outputTokens, cachedInputTokens: Math.min(count(cached), inputTokens) };
}

/** Chat/completions/embeddings usage: `prompt_tokens`, `completion_tokens`, cached details. */
export function promptCompletionUsage(usage: unknown): TokenUsage | null {
  if (!isRecord(usage)) return null;
  const details = isRecord(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
  return readUsage(usage.prompt_tokens, usage.completion_tokens, details.cached_tokens);
}

/** Responses usage: `input_tokens`, `output_tokens`, cached details. */
export function inputOutputUsage(usage: unknown): TokenUsage | null {
  if (!isRecord(usage)) return null;
  const details = isRecord(usage.input_tokens_details) ? usage.input_tokens_details : {};
  return readUsage(usage.input_tokens, usage.output_tokens, details.cached_tokens);
}
