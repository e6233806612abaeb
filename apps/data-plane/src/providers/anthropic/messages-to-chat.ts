import type { TokenUsage } from '@tollgate/pricing';
import type { ErrorSpec } from '../../http/errors.ts';
import { isRecord, type StreamReader } from '../types.ts';
import { finishReason } from './chat-to-messages.ts';
import { type AnthropicUsage, blocksText, mergeUsage, messageUsage, tokenUsage } from './wire.ts';

/** Anthropic Messages answers (JSON, event stream, errors) → Chat Completions. */

function chatUsage(u: TokenUsage) {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens ?? 0 },
  };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

export interface Translated {
  body: unknown;
  usage: TokenUsage | null;
  text: string;
  model: string | null;
}

/** A whole Messages answer as a `chat.completion`. */
export function messageToChat(json: unknown): Translated {
  if (!isRecord(json)) return { body: json, usage: null, text: '', model: null };
  const content = Array.isArray(json.content) ? json.content : [];
  let text: string | null = null;
  const toolCalls: Record<string, unknown>[] = [];
  for (const b of content) {
    if (!isRecord(b)) continue;
    if (b.type === 'text' && typeof b.text === 'string') text = (text ?? '') + b.text;
    if (b.type === 'tool_use') {
      toolCalls.push({
        id: b.id,
        type: 'function',
        function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
      });
    }
  }
  const usage = messageUsage(json);
  const model = typeof json.model === 'string' ? json.model : null;
  const message: Record<string, unknown> = { role: 'assistant', content: text, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const body = {
    id: typeof json.id === 'string' ? json.id : 'msg',
    object: 'chat.completion',
    created: nowSeconds(),
    model,
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: finishReason(json.stop_reason) ?? 'stop',
      },
    ],
    ...(usage === null ? {} : { usage: chatUsage(usage) }),
  };
  return { body, usage, text: blocksText(content), model };
}

/**
 * Anthropic stream events → `chat.completion.chunk` events, one upstream event at a time. The
 * usage chunk (`choices: []`) is sent only when the client asked for it; usage is read from
 * message_start and message_delta (cumulative) either way.
 */
export function chatStreamReader(clientWantsUsage: boolean): StreamReader {
  const usage: AnthropicUsage = {};
  let id = 'msg';
  let model: string | null = null;
  const created = nowSeconds();
  /** Content block index → tool call index. */
  const tools = new Map<number, number>();
  let finished = false;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
  const delta = (d: Record<string, unknown>, finish: string | null = null) =>
    chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);
  const current = () => tokenUsage(usage) ?? undefined;

  return {
    event(data) {
      if (!isRecord(data)) return { replace: '' };
      switch (data.type) {
        case 'message_start': {
          const message = isRecord(data.message) ? data.message : {};
          if (typeof message.id === 'string') id = message.id;
          if (typeof message.model === 'string') model = message.model;
          // Usage counts from message_delta on (message_start's output_tokens is a placeholder);
          // its prompt bills a stream that ends before that.
          mergeUsage(usage, message.usage);
          return {
            replace: delta({ role: 'assistant', content: '' }),
            model: model ?? undefined,
            partialUsage: tokenUsage(usage) ?? undefined,
          };
        }
        case 'content_block_start': {
          const block = isRecord(data.content_block) ? data.content_block : {};
          if (block.type !== 'tool_use' || typeof data.index !== 'number') return { replace: '' };
          const index = tools.size;
          tools.set(data.index, index);
          const call = {
            index,
            id: block.id,
            type: 'function',
            function: { name: block.name, arguments: '' },
          };
          return { replace: delta({ tool_calls: [call] }), text: String(block.name ?? '') };
        }
        case 'content_block_delta': {
          const d = isRecord(data.delta) ? data.delta : {};
          if (d.type === 'text_delta' && typeof d.text === 'string') {
            return { replace: delta({ content: d.text }), text: d.text };
          }
          if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') {
            const index = tools.get(Number(data.index)) ?? 0;
            const call = { index, function: { arguments: d.partial_json } };
            return { replace: delta({ tool_calls: [call] }), text: d.partial_json };
          }
          // Thinking and signatures have no chat equivalent; they are billed all the same.
          if (d.type === 'thinking_delta' && typeof d.thinking === 'string') {
            return { replace: '', text: d.thinking };
          }
          return { replace: '' };
        }
        case 'message_delta': {
          mergeUsage(usage, data.usage);
          const d = isRecord(data.delta) ? data.delta : {};
          const finish = finishReason(d.stop_reason);
          if (finish === null) return { replace: '', usage: current() };
          finished = true;
          return { replace: delta({}, finish), usage: current() };
        }
        case 'message_stop': {
          const u = finished ? current() : undefined;
          let out = finished ? '' : delta({}, 'stop');
          if (clientWantsUsage && u !== undefined) out += chunk([], { usage: chatUsage(u) });
          return { replace: `${out}data: [DONE]\n\n`, final: true };
        }
        case 'error': {
          const e = isRecord(data.error) ? data.error : {};
          const error = {
            message: typeof e.message === 'string' ? e.message : 'The provider failed.',
            type: 'upstream_error',
            code: typeof e.type === 'string' ? e.type : 'upstream_error',
            param: null,
          };
          // What message_start reported (its prompt, cache reads included) stands; the output is
          // the larger of its count and what was streamed (see flight.finish).
          return {
            replace: `data: ${JSON.stringify({ error })}\n\n`,
            failed: true,
            usage: current(),
          };
        }
        default:
          return { replace: '' }; // ping and unknown events
      }
    },
    capEnd(billed) {
      // A client that asked for usage gets it here too: what its record bills (estimated).
      const usageChunk = clientWantsUsage ? chunk([], { usage: chatUsage(billed) }) : '';
      return `${delta({}, 'length')}${usageChunk}data: [DONE]\n\n`;
    },
  };
}

/** Anthropic error types → the status and envelope the client sees (SPEC §6). */
const CLIENT_ERRORS: Record<number, string> = {
  400: 'invalid_request_error',
  404: 'invalid_request_error',
  413: 'invalid_request_error',
  429: 'rate_limit_exceeded',
};

export function anthropicErrorToChat(status: number, body: Buffer | null): ErrorSpec {
  let message = `The provider answered ${status}.`;
  let code: string | null = null;
  try {
    const json: unknown = body === null ? null : JSON.parse(body.toString('utf8'));
    if (isRecord(json) && isRecord(json.error)) {
      if (typeof json.error.message === 'string') message = json.error.message;
      if (typeof json.error.type === 'string') code = json.error.type;
    }
  } catch {}
  const type = CLIENT_ERRORS[status];
  if (type !== undefined) return { status, type, code, message };
  return {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_error',
    message,
    extra: { provider_status: status },
  };
}
