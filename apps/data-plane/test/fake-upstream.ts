import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenFake } from './listen.ts';

/**
 * A fake OpenAI-compatible upstream speaking the wire format exactly (chat completions, streaming
 * with the usage chunk when `stream_options.include_usage` is set and `usage: null` on every other
 * chunk, completions, embeddings, responses with its event stream, models). Every request it
 * receives is recorded. Output length: `outputTokens` words, never more than the request's bound;
 * each word is one token and one stream chunk.
 */
export interface Received {
  method: string;
  path: string;
  /** The query string, without `?` ('' when none). */
  query: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | null;
}

export interface FakeUpstreamOptions {
  /** Prompt tokens reported. Default 12. */
  promptTokens?: number;
  /** Output tokens produced when the request sets no lower bound. Default 10. */
  outputTokens?: number;
  /** Answer this status with an OpenAI error envelope instead. */
  failWith?: number;
  /** With `failWith`: this body (and content type) instead of the envelope. */
  failBody?: { contentType: string; text: string };
  /** Fail the first `times` model requests (then answer normally): with `status` and its
   * `retry-after` header, or by resetting the connection when `status` is 'reset'. */
  failFirst?: { times: number; status: number | 'reset'; retryAfter?: string };
  /** Wait this long before answering. */
  delayMs?: number;
  /** Report no usage at all (non-stream) / send no usage chunk (stream). */
  omitUsage?: boolean;
  /** Close the connection after this many streamed content chunks. */
  cutAfterChunks?: number;
  /** Ms between streamed chunks. */
  chunkDelayMs?: number;
  /** A stream's response stays open this long after its last event (`[DONE]`,
   * `response.completed`) before it ends, as over a real network. */
  lingerMs?: number;
  /** Produce `outputTokens` whatever bound the request sets (a misbehaving upstream). */
  ignoreBound?: boolean;
  /** The `model` it says it served (default: the one asked for). */
  servedModel?: string;
  /** Chat and completions stream events carry `event:` and `id:` lines too (as some
   * OpenAI-compatible servers send them). */
  sseFields?: boolean;
  /** Responses answers a function call (its arguments, streamed as argument deltas) instead of
   * text. */
  functionCall?: boolean;
}

export interface FakeUpstream {
  url: string;
  received: Received[];
  options: FakeUpstreamOptions;
  /** Requests to model endpoints (what would have cost money). */
  hits(): number;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bound(body: Record<string, unknown>, fields: string[], fallback: number): number {
  let n = fallback;
  for (const f of fields) if (typeof body[f] === 'number') n = Math.min(n, body[f] as number);
  return n;
}

export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const received: Received[] = [];
  // Counted per `failFirst` object: a test setting a new one starts again from zero.
  let failing: FakeUpstreamOptions['failFirst'];
  let failures = 0;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | null = null;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
    } catch {
      body = null;
    }
    const [rawPath = '', query = ''] = (req.url ?? '').split('?');
    received.push({ method: req.method ?? '', path: rawPath, query, headers: req.headers, body });
    // Azure OpenAI: `/openai/deployments/{deployment}/<endpoint>` serves `/v1/<endpoint>`, the
    // deployment standing for the model.
    const azure = /^\/openai\/deployments\/([^/]+)(\/.*)$/.exec(rawPath);
    const path = azure === null ? rawPath : `/v1${azure[2]}`;
    if (azure !== null && body !== null && body.model === undefined)
      body = { ...body, model: decodeURIComponent(azure[1]!) };
    if (options.delayMs) await sleep(options.delayMs);
    const failFirst = options.failFirst;
    if (failFirst !== failing) {
      failing = failFirst;
      failures = 0;
    }
    if (failFirst !== undefined && failures < failFirst.times && path !== '/v1/models') {
      failures += 1;
      if (failFirst.status === 'reset') {
        req.socket.destroy();
        return;
      }
      const payload = JSON.stringify({
        error: { message: 'try again', type: 'server_error', code: null, param: null },
      });
      res.writeHead(failFirst.status, {
        'content-type': 'application/json',
        ...(failFirst.retryAfter === undefined ? {} : { 'retry-after': failFirst.retryAfter }),
      });
      res.end(payload);
      return;
    }
    if (options.failWith) {
      const payload =
        options.failBody?.text ??
        JSON.stringify({
          error: { message: 'upstream failure', type: 'server_error', code: null, param: null },
        });
      const type = options.failBody?.contentType ?? 'application/json';
      res.writeHead(options.failWith, { 'content-type': type });
      res.end(payload);
      return;
    }
    if (path === '/v1/models' && req.method === 'GET') {
      return json(res, {
        object: 'list',
        data: [{ id: 'gpt-5.4-mini', object: 'model', created: 1, owned_by: 'openai' }],
      });
    }
    if (body === null)
      return json(res, { error: { message: 'bad json', type: 'invalid_request_error' } }, 400);
    const prompt = options.promptTokens ?? 12;
    const model = options.servedModel ?? String(body.model);
    if (path === '/v1/embeddings') {
      return json(res, {
        object: 'list',
        data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }],
        model,
        usage: options.omitUsage ? undefined : { prompt_tokens: prompt, total_tokens: prompt },
      });
    }
    const fields =
      path === '/v1/responses' ? ['max_output_tokens'] : ['max_tokens', 'max_completion_tokens'];
    const out = options.ignoreBound
      ? (options.outputTokens ?? 10)
      : bound(body, fields, options.outputTokens ?? 10);
    const words = Array.from({ length: out }, (_, i) => `w${i} `);
    const finish = out < (options.outputTokens ?? 10) ? 'length' : 'stop';
    const usage = { prompt_tokens: prompt, completion_tokens: out, total_tokens: prompt + out };
    if (path === '/v1/chat/completions' && body.stream === true)
      return streamChat(res, body, words, finish, usage);
    if (path === '/v1/completions' && body.stream === true)
      return streamCompletion(res, body, words, usage);
    if (path === '/v1/responses' && body.stream === true)
      return streamResponses(res, model, words, prompt);
    if (path === '/v1/chat/completions') {
      return json(res, {
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        created: 1_700_000_000,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: words.join(''), refusal: null },
            logprobs: null,
            finish_reason: finish,
          },
        ],
        usage: options.omitUsage
          ? undefined
          : { ...usage, prompt_tokens_details: { cached_tokens: 0 } },
      });
    }
    if (path === '/v1/completions') {
      return json(res, {
        id: 'cmpl-fake',
        object: 'text_completion',
        created: 1_700_000_000,
        model,
        choices: [{ index: 0, text: words.join(''), logprobs: null, finish_reason: finish }],
        usage: options.omitUsage ? undefined : usage,
      });
    }
    if (path === '/v1/responses') {
      return json(res, responseObject(model, words, prompt, 'completed'));
    }
    json(res, { error: { message: 'not found', type: 'invalid_request_error' } }, 404);
  }

  function responseObject(model: string, words: string[], prompt: number, status: string) {
    return {
      id: 'resp_fake',
      object: 'response',
      created_at: 1_700_000_000,
      status,
      model,
      output: [
        options.functionCall
          ? {
              type: 'function_call',
              id: 'fc_fake',
              call_id: 'call_fake',
              name: 'lookup',
              arguments: words.join(''),
              status: 'completed',
            }
          : {
              type: 'message',
              id: 'msg_fake',
              status: 'completed',
              role: 'assistant',
              content: [{ type: 'output_text', text: words.join(''), annotations: [] }],
            },
      ],
      usage: options.omitUsage
        ? null
        : {
            input_tokens: prompt,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: words.length,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: prompt + words.length,
          },
    };
  }

  function json(res: ServerResponse, value: unknown, status = 200) {
    const text = JSON.stringify(value);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  async function sse(res: ServerResponse, events: string[]) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let content = 0;
    for (const [i, e] of events.entries()) {
      if (res.destroyed) return;
      res.write(`${options.sseFields ? `event: chunk\nid: ${i}\n` : ''}data: ${e}\n\n`);
      if (e.includes('"content":"w') || e.includes('"text":"w') || e.includes('output_text.delta'))
        content += 1;
      if (options.cutAfterChunks !== undefined && content >= options.cutAfterChunks) {
        await sleep(30); // let what was written reach the proxy before the cut
        res.socket?.destroy();
        return;
      }
      if (options.chunkDelayMs) await sleep(options.chunkDelayMs);
    }
    res.write('data: [DONE]\n\n');
    if (options.lingerMs) await sleep(options.lingerMs);
    res.end();
  }

  function streamChat(
    res: ServerResponse,
    body: Record<string, unknown>,
    words: string[],
    finish: string,
    usage: Record<string, number>,
  ) {
    const withUsage =
      (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const base = {
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: body.model,
    };
    const extra = withUsage ? { usage: null } : {};
    // `n` choices, interleaved chunk by chunk as OpenAI sends them.
    const indices = Array.from({ length: typeof body.n === 'number' ? body.n : 1 }, (_, i) => i);
    const each = (choice: (index: number) => Record<string, unknown>) =>
      indices.map((index) => JSON.stringify({ ...base, choices: [choice(index)], ...extra }));
    const events = [
      ...each((index) => ({
        index,
        delta: { role: 'assistant', content: '' },
        logprobs: null,
        finish_reason: null,
      })),
      ...words.flatMap((w) =>
        each((index) => ({ index, delta: { content: w }, logprobs: null, finish_reason: null })),
      ),
      ...each((index) => ({ index, delta: {}, logprobs: null, finish_reason: finish })),
    ];
    if (withUsage && !options.omitUsage)
      events.push(JSON.stringify({ ...base, choices: [], usage }));
    void sse(res, events);
  }

  function streamCompletion(
    res: ServerResponse,
    body: Record<string, unknown>,
    words: string[],
    usage: Record<string, number>,
  ) {
    const withUsage =
      (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const base = {
      id: 'cmpl-fake',
      object: 'text_completion',
      created: 1_700_000_000,
      model: body.model,
    };
    const events = words.map((w) =>
      JSON.stringify({
        ...base,
        choices: [{ index: 0, text: w, logprobs: null, finish_reason: null }],
        ...(withUsage ? { usage: null } : {}),
      }),
    );
    if (withUsage && !options.omitUsage)
      events.push(JSON.stringify({ ...base, choices: [], usage }));
    void sse(res, events);
  }

  /** As OpenAI streams a response: created and in_progress with no output yet, the item announced
   * (and its content part), the deltas, then the part and item closed and the response completed. */
  function streamResponses(res: ServerResponse, model: string, words: string[], prompt: number) {
    let seq = 0;
    const ev = (type: string, rest: Record<string, unknown>) =>
      JSON.stringify({ type, sequence_number: seq++, ...rest });
    const start = { ...responseObject(model, [], prompt, 'in_progress'), output: [], usage: null };
    const done = responseObject(model, words, prompt, 'completed');
    const item = done.output[0]!;
    const text = words.join('');
    const part = { type: 'output_text', annotations: [], logprobs: [], text };
    const ids = { item_id: item.id, output_index: 0 };
    const events = [
      ev('response.created', { response: start }),
      ev('response.in_progress', { response: start }),
      ev('response.output_item.added', {
        output_index: 0,
        item: options.functionCall
          ? { ...item, status: 'in_progress', arguments: '' }
          : { ...item, status: 'in_progress', content: [] },
      }),
      ...(options.functionCall
        ? []
        : [
            ev('response.content_part.added', {
              ...ids,
              content_index: 0,
              part: { ...part, text: '' },
            }),
          ]),
      ...words.map((w) =>
        options.functionCall
          ? ev('response.function_call_arguments.delta', { ...ids, delta: w })
          : ev('response.output_text.delta', { ...ids, content_index: 0, delta: w, logprobs: [] }),
      ),
      ...(options.functionCall
        ? [ev('response.function_call_arguments.done', { ...ids, arguments: text })]
        : [
            ev('response.output_text.done', { ...ids, content_index: 0, text, logprobs: [] }),
            ev('response.content_part.done', { ...ids, content_index: 0, part }),
          ]),
      ev('response.output_item.done', { output_index: 0, item }),
      ev('response.completed', { response: done }),
    ];
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const e of events) res.write(`event: ${JSON.parse(e).type}\ndata: ${e}\n\n`);
    if (options.lingerMs) setTimeout(() => res.end(), options.lingerMs);
    else res.end();
  }

  const { url, close } = await listenFake(handle);
  return {
    url,
    received,
    options,
    hits: () => received.filter((r) => r.path !== '/v1/models').length,
    close,
  };
}
