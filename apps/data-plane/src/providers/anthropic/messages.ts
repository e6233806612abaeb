import { type EndpointSpec, isRecord, type StreamReader } from '../types.ts';
import {
  type AnthropicUsage,
  blocksText,
  deltaText,
  mergeUsage,
  messageUsage,
  tokenUsage,
} from './wire.ts';

/** Reads usage from message_start and message_delta (cumulative), and closes a stream the cap
 * guard ends the way Anthropic ends one at `max_tokens`. */
function messagesReader(): StreamReader {
  const usage: AnthropicUsage = {};
  let open: number | null = null;
  return {
    event(data) {
      if (!isRecord(data)) return {};
      switch (data.type) {
        case 'message_start': {
          const message = isRecord(data.message) ? data.message : {};
          // Its output_tokens is a placeholder: usage counts once message_delta reports it. A
          // stream that ends before that bills this prompt, its output estimated from what was
          // streamed (SPEC §6).
          mergeUsage(usage, message.usage);
          const model = typeof message.model === 'string' ? message.model : undefined;
          return { model, partialUsage: tokenUsage(usage) ?? undefined };
        }
        case 'content_block_start':
          open = typeof data.index === 'number' ? data.index : null;
          return {};
        case 'content_block_stop':
          open = null;
          return {};
        case 'content_block_delta':
          return { text: deltaText(data.delta) };
        case 'message_delta':
          mergeUsage(usage, data.usage);
          return { usage: tokenUsage(usage) ?? undefined };
        case 'message_stop':
          return { final: true };
        case 'error':
          // What message_start reported (its prompt, cache reads included) stands; the output is
          // the larger of its count and what was streamed (see flight.finish).
          return { failed: true, usage: tokenUsage(usage) ?? undefined };
        default:
          return {};
      }
    },
    capEnd(billed) {
      let out = '';
      if (open !== null) {
        const stop = { type: 'content_block_stop', index: open };
        out += `event: content_block_stop\ndata: ${JSON.stringify(stop)}\n\n`;
      }
      // The output as its record bills it (estimated from what was streamed), not message_start's
      // placeholder: message_delta's count is cumulative, the client's final usage.
      const delta = {
        type: 'message_delta',
        delta: { stop_reason: 'max_tokens', stop_sequence: null },
        usage: { output_tokens: billed.outputTokens },
      };
      out += `event: message_delta\ndata: ${JSON.stringify(delta)}\n\n`;
      out += `event: message_stop\ndata: ${JSON.stringify({ type: 'message_stop' })}\n\n`;
      return out;
    },
  };
}

/** `POST /v1/messages`: Anthropic SDK clients, passed through to Anthropic. */
export const messages: EndpointSpec = {
  path: '/v1/messages',
  upstreamPath: '/messages',
  kind: 'messages',
  maxTokenFields: ['max_tokens'],
  canStream: true,
  streamUsageOption: false,
  validate(body) {
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return { message: "'messages' must be a non-empty array", param: 'messages' };
    }
    if (!body.messages.every(isRecord)) {
      return { message: "every item of 'messages' must be an object", param: 'messages' };
    }
    if (body.max_tokens === undefined || body.max_tokens === null) {
      return { message: "'max_tokens' is required", param: 'max_tokens' };
    }
    return null;
  },
  usageOf: messageUsage,
  textOf: (json) => (isRecord(json) ? blocksText(json.content) : ''),
  streamEvent: (data) => messagesReader().event(data),
  streamReader: messagesReader,
};
