import type { TokenUsage } from '@tollgate/pricing';
import { isRecord } from '../types.ts';

/**
 * Anthropic Messages API basics shared by the passthrough endpoint and the chat translation:
 * headers, model names and usage. Anthropic reports `input_tokens` WITHOUT the cache tokens;
 * TokenUsage counts them in (OpenAI's convention), so they are added here.
 */

export const ANTHROPIC_VERSION = '2023-06-01';

export function anthropicHeaders(apiKey: string | null, version?: string): Record<string, string> {
  const headers: Record<string, string> = { 'anthropic-version': version ?? ANTHROPIC_VERSION };
  if (apiKey !== null) headers['x-api-key'] = apiKey;
  return headers;
}

/**
 * Catalogue names write versions with a dot (`claude-sonnet-4.6`), Anthropic's ids with a dash
 * (`claude-sonnet-4-6`). Only a `<major>.<minor>` at the end of the name (or before a dated
 * snapshot suffix) is rewritten.
 */
export function upstreamModelId(name: string): string {
  return name.replace(/-(\d+)\.(\d+)(?=$|-\d{8}$)/, '-$1-$2');
}

/** The catalogue name of an Anthropic id given bare to `/v1/messages`: `claude-sonnet-4-6` →
 * `anthropic/claude-sonnet-4.6` (a dated snapshot keeps its date and needs its own price). */
export function catalogueModel(bare: string): string {
  return `anthropic/${bare.replace(/-(\d+)-(\d)(?=$|-\d{8}$)/, '-$1.$2')}`;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** Raw Anthropic usage fields, as last reported (message_delta's usage is cumulative). */
export interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

const FIELDS = [
  'input_tokens',
  'output_tokens',
  'cache_read_input_tokens',
  'cache_creation_input_tokens',
] as const;

/** Merges the numeric usage fields of `usage` into `into` (later reports win). */
export function mergeUsage(into: AnthropicUsage, usage: unknown): boolean {
  if (!isRecord(usage)) return false;
  let any = false;
  for (const f of FIELDS) {
    const n = count(usage[f]);
    if (n !== undefined) {
      into[f] = n;
      any = true;
    }
  }
  return any;
}

export function tokenUsage(u: AnthropicUsage): TokenUsage | null {
  if (u.input_tokens === undefined && u.output_tokens === undefined) return null;
  const cached = u.cache_read_input_tokens ?? 0;
  const cacheWrite = u.cache_creation_input_tokens ?? 0;
  return {
    inputTokens: (u.input_tokens ?? 0) + cached + cacheWrite,
    outputTokens: u.output_tokens ?? 0,
    cachedInputTokens: cached,
    cacheWriteTokens: cacheWrite,
  };
}

/** Usage of a whole (non-streaming) Messages answer. */
export function messageUsage(json: unknown): TokenUsage | null {
  if (!isRecord(json)) return null;
  const u: AnthropicUsage = {};
  return mergeUsage(u, json.usage) ? tokenUsage(u) : null;
}

/** Generated text of a Messages answer's content blocks (for estimates). */
export function blocksText(content: unknown): string {
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const b of content) {
    if (!isRecord(b)) continue;
    if (typeof b.text === 'string') text += b.text;
    if (typeof b.thinking === 'string') text += b.thinking;
    if (b.type === 'tool_use') text += JSON.stringify(b.input ?? {});
  }
  return text;
}

/** Text a content_block_delta carries (text, tool input JSON, thinking). */
export function deltaText(delta: unknown): string {
  if (!isRecord(delta)) return '';
  if (typeof delta.text === 'string') return delta.text;
  if (typeof delta.partial_json === 'string') return delta.partial_json;
  if (typeof delta.thinking === 'string') return delta.thinking;
  return '';
}
