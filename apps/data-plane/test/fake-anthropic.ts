import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Received } from './fake-upstream.ts';
import { listenFake } from './listen.ts';

/**
 * A fake Anthropic Messages API (`POST /v1/messages`) speaking the wire format: the JSON message
 * object, the event stream (message_start, content_block_start/delta/stop, ping, message_delta
 * with cumulative usage, message_stop, error events), and the error envelope
 * `{ type: 'error', error: { type, message } }`. Every request is recorded. Output: one word per
 * token (`w0 `, `w1 ` …), never more than `max_tokens` unless `ignoreBound`.
 */
export interface FakeAnthropicOptions {
  /** Uncached input tokens reported. Default 20. */
  inputTokens?: number;
  cacheReadTokens?: number;
  cacheCreationTokens?: number;
  /** Output tokens produced when max_tokens allows. Default 10. */
  outputTokens?: number;
  /** Answer this status with the Anthropic error envelope. */
  failWith?: number;
  /** Stop as if the first stop sequence was generated (after the output). */
  hitStopSequence?: boolean;
  /** Answer with a tool_use block calling the first tool, when the request has tools. */
  callTool?: boolean;
  /** Send an `error` event after this many text deltas (stream). */
  streamErrorAfter?: number;
  ignoreBound?: boolean;
  /** Destroy the connection after this many text deltas (stream). */
  cutAfterDeltas?: number;
  /** Wait this long between text deltas (stream), as a model generating. */
  delayMs?: number;
  /** A stream's response stays open this long after message_stop before it ends. */
  lingerMs?: number;
}

export interface FakeAnthropic {
  /** Base URL as configured in the gateway (with `/v1`). */
  url: string;
  received: Received[];
  options: FakeAnthropicOptions;
  close(): Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export async function startFakeAnthropic(
  options: FakeAnthropicOptions = {},
): Promise<FakeAnthropic> {
  const received: Received[] = [];

  function send(res: ServerResponse, status: number, value: unknown) {
    const text = JSON.stringify(value);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'request-id': 'req_fake',
    });
    res.end(text);
  }
  const error = (res: ServerResponse, status: number, message: string) =>
    send(res, status, {
      type: 'error',
      error: { type: ERROR_TYPES[status] ?? 'api_error', message },
      request_id: 'req_fake',
    });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> | null = null;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      body = null;
    }
    const [path = '', query = ''] = (req.url ?? '').split('?');
    received.push({ method: req.method ?? '', path, query, headers: req.headers, body });
    if (path !== '/v1/messages' || req.method !== 'POST') return error(res, 404, 'Not found');
    if (typeof req.headers['x-api-key'] !== 'string')
      return error(res, 401, 'x-api-key header is required');
    if (typeof req.headers['anthropic-version'] !== 'string')
      return error(res, 400, 'anthropic-version header is required');
    if (options.failWith) return error(res, options.failWith, `failure ${options.failWith}`);
    if (body === null) return error(res, 400, 'invalid JSON');
    if (typeof body.max_tokens !== 'number') return error(res, 400, 'max_tokens: Field required');
    if (!Array.isArray(body.messages)) return error(res, 400, 'messages: Field required');
    const wanted = options.outputTokens ?? 10;
    const n = options.ignoreBound ? wanted : Math.min(wanted, body.max_tokens);
    const words = Array.from({ length: n }, (_, i) => `w${i} `);
    const tools = Array.isArray(body.tools) ? (body.tools as { name: string }[]) : [];
    const tool = options.callTool && tools.length > 0 ? tools[0] : undefined;
    const stops = Array.isArray(body.stop_sequences) ? (body.stop_sequences as string[]) : [];
    let stopReason = n < wanted ? 'max_tokens' : 'end_turn';
    let stopSequence: string | null = null;
    if (tool !== undefined && stopReason === 'end_turn') stopReason = 'tool_use';
    if (options.hitStopSequence && stops[0] !== undefined && stopReason === 'end_turn') {
      stopReason = 'stop_sequence';
      stopSequence = stops[0];
    }
    const usage = {
      input_tokens: options.inputTokens ?? 20,
      cache_creation_input_tokens: options.cacheCreationTokens ?? 0,
      cache_read_input_tokens: options.cacheReadTokens ?? 0,
      output_tokens: n,
    };
    const toolBlock =
      tool === undefined
        ? null
        : { type: 'tool_use', id: 'toolu_fake1', name: tool.name, input: { city: 'Paris' } };
    const message = {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model: String(body.model),
      content: [{ type: 'text', text: words.join('') }, ...(toolBlock ? [toolBlock] : [])],
      stop_reason: stopReason,
      stop_sequence: stopSequence,
      usage,
    };
    if (body.stream !== true) return send(res, 200, message);

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const ev = (type: string, data: Record<string, unknown>) => {
      if (!res.destroyed)
        res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    };
    ev('message_start', {
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    });
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    ev('ping', {});
    for (const [i, w] of words.entries()) {
      if (res.destroyed) return;
      if (options.streamErrorAfter !== undefined && i === options.streamErrorAfter) {
        ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
        res.end();
        return;
      }
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: w } });
      if (options.cutAfterDeltas !== undefined && i + 1 >= options.cutAfterDeltas) {
        await new Promise((r) => setTimeout(r, 30));
        res.socket?.destroy();
        return;
      }
      if (options.delayMs !== undefined) await new Promise((r) => setTimeout(r, options.delayMs));
      else if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    if (res.destroyed) return;
    ev('content_block_stop', { index: 0 });
    if (toolBlock !== null) {
      ev('content_block_start', { index: 1, content_block: { ...toolBlock, input: {} } });
      for (const part of ['{"city"', ': "Paris"}']) {
        ev('content_block_delta', {
          index: 1,
          delta: { type: 'input_json_delta', partial_json: part },
        });
      }
      ev('content_block_stop', { index: 1 });
    }
    ev('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: stopSequence },
      usage: { output_tokens: n },
    });
    ev('message_stop', {});
    if (options.lingerMs) await new Promise((r) => setTimeout(r, options.lingerMs));
    res.end();
  }

  const { url, close } = await listenFake(handle);
  return {
    url,
    received,
    options,
    close,
  };
}
