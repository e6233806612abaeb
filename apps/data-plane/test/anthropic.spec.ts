import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeAnthropic, startFakeAnthropic } from './fake-anthropic.ts';
import { type Harness, startHarness, subAccount } from './harness.ts';

const SONNET = 'anthropic/claude-sonnet-4.6';
// Catalogue prices of claude-sonnet-4.6, micro-USD per 1M tokens.
const IN = 3_000_000;
const OUT = 15_000_000;
const CACHE_READ = 300_000;
const CACHE_WRITE = 3_750_000;
const cost = (input: number, output: number, read = 0, write = 0) =>
  Math.ceil((input * IN + output * OUT + read * CACHE_READ + write * CACHE_WRITE) / 1_000_000);

describe('data plane: Anthropic provider (chat translation and /v1/messages)', () => {
  let h: Harness;
  let fake: FakeAnthropic;
  const last = () => fake.received.at(-1)!;
  const client = (sub = 'sa_main') => h.client(sub);
  const requestId = async <T>(p: { withResponse(): Promise<{ data: T; response: Response }> }) => {
    const { data, response } = await p.withResponse();
    return { data, id: response.headers.get('x-request-id') };
  };
  const messagesFetch = (body: unknown, headers: Record<string, string> = {}, sub = 'sa_main') =>
    fetch(`${h.urls[0]}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': h.keys[sub]!,
        'anthropic-version': '2023-06-01',
        ...headers,
      },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    h = await startHarness({
      subs: [
        subAccount('sa_main'),
        subAccount('sa_clamp', { spendCapMicros: 3_000 }),
        subAccount('sa_guard', { spendCapMicros: 3_000 }),
        subAccount('sa_mclamp', { spendCapMicros: 3_000 }),
        subAccount('sa_guard_u', { spendCapMicros: 3_000 }),
        subAccount('sa_mguard', { spendCapMicros: 3_000 }),
      ],
      upstreams: { anthropic: { baseUrl: fake.url, apiKey: 'sk-ant-platform' } },
    });
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });
  beforeEach(() => {
    for (const k of Object.keys(fake.options)) delete fake.options[k as keyof typeof fake.options];
  });

  it('chat → Messages: system, roles, bound, stop, sampling, headers; answer and usage back', async () => {
    fake.options.cacheReadTokens = 100;
    fake.options.cacheCreationTokens = 40;
    const { data: r, id } = await requestId(
      client().chat.completions.create({
        model: SONNET,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'developer', content: [{ type: 'text', text: 'and kind' }] },
          { role: 'user', content: 'hello' },
          { role: 'assistant', content: 'hi' },
          { role: 'user', content: [{ type: 'text', text: 'again' }] },
        ],
        max_tokens: 50,
        stop: 'END',
        temperature: 0.5,
        top_p: 0.9,
        user: 'end-user-1',
      }),
    );
    const got = last();
    expect(got.path).toBe('/v1/messages');
    expect(got.headers['x-api-key']).toBe('sk-ant-platform');
    expect(got.headers['anthropic-version']).toBe('2023-06-01');
    expect(got.headers.authorization).toBeUndefined();
    expect(got.body).toEqual({
      model: 'claude-sonnet-4-6',
      system: 'be brief\n\nand kind',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hello' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'hi' }] },
        { role: 'user', content: [{ type: 'text', text: 'again' }] },
      ],
      max_tokens: 50,
      stop_sequences: ['END'],
      temperature: 0.5,
      top_p: 0.9,
      metadata: { user_id: 'end-user-1' },
    });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]!.message).toMatchObject({
      role: 'assistant',
      content: 'w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 ',
    });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({
      prompt_tokens: 160,
      completion_tokens: 10,
      total_tokens: 170,
      prompt_tokens_details: { cached_tokens: 100 },
    });
    const e = await h.eventFor(id);
    expect(e).toMatchObject({
      status: 'ok',
      provider: 'anthropic',
      model: SONNET,
      servedModel: 'claude-sonnet-4-6',
      inputTokens: 20,
      cachedInputTokens: 100,
      cacheWriteTokens: 40,
      outputTokens: 10,
      estimated: false,
    });
    expect(e.providerCostMicros).toBe(cost(20, 10, 100, 40));
    expect(e.billedCostMicros).toBe(cost(20, 10, 100, 40));
  });

  it('max_tokens is required upstream: the model maximum when the client sets none; stop reasons map', async () => {
    fake.options.outputTokens = 3;
    const r = await client().chat.completions.create({
      model: SONNET,
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(last().body!.max_tokens).toBe(64_000);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    fake.options.outputTokens = 30;
    const cut = await client().chat.completions.create({
      model: SONNET,
      messages: [{ role: 'user', content: 'x' }],
      max_completion_tokens: 4,
    });
    expect(last().body!.max_tokens).toBe(4);
    expect(cut.choices[0]!.finish_reason).toBe('length');
    fake.options.outputTokens = 2;
    fake.options.hitStopSequence = true;
    const stopped = await client().chat.completions.create({
      model: SONNET,
      messages: [{ role: 'user', content: 'x' }],
      stop: ['###'],
    });
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
  });

  it('tools: definitions, tool_choice, tool calls and results translated both ways', async () => {
    fake.options.callTool = true;
    fake.options.outputTokens = 1;
    const r = await client().chat.completions.create({
      model: SONNET,
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'weather', arguments: '{"city":"Rome"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        {
          role: 'user',
          content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }],
        },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'weather',
            description: 'Weather of a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
    const sent = last().body!;
    expect(sent.tools).toEqual([
      {
        name: 'weather',
        description: 'Weather of a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
      },
    ]);
    expect(sent.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(sent.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Rome' } }],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
        ],
      },
    ]);
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    expect(r.choices[0]!.message.tool_calls).toEqual([
      {
        id: 'toolu_fake1',
        type: 'function',
        function: { name: 'weather', arguments: '{"city":"Paris"}' },
      },
    ]);
  });

  it('stream without include_usage: text chunk by chunk, finish_reason, no usage chunk; usage still billed', async () => {
    fake.options.outputTokens = 5;
    fake.options.cacheReadTokens = 7;
    const { data: stream, id } = await requestId(
      client().chat.completions.create({
        model: SONNET,
        messages: [{ role: 'user', content: 'hello' }],
        max_tokens: 100,
        stream: true,
      }),
    );
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(last().body!.stream).toBe(true);
    expect(last().body!.stream_options).toBeUndefined();
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('w0 w1 w2 w3 w4 ');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage)).toBe(false);
    const e = await h.eventFor(id);
    expect(e).toMatchObject({
      status: 'ok',
      inputTokens: 20,
      cachedInputTokens: 7,
      outputTokens: 5,
      stream: true,
      estimated: false,
    });
    expect(e.providerCostMicros).toBe(cost(20, 5, 7));
  });

  it('stream with include_usage: a final usage chunk with prompt tokens including the cache', async () => {
    fake.options.outputTokens = 3;
    fake.options.cacheCreationTokens = 10;
    const stream = await client().chat.completions.create({
      model: SONNET,
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const tail = chunks.at(-1)!;
    expect(tail.choices).toEqual([]);
    expect(tail.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 3, total_tokens: 33 });
  });

  it('stream tool calls arrive as tool_calls deltas', async () => {
    fake.options.callTool = true;
    fake.options.outputTokens = 1;
    const stream = await client().chat.completions.create({
      model: SONNET,
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
      stream: true,
    });
    const calls: { id?: string; name?: string; args: string } = { args: '' };
    let finish: string | null = null;
    for await (const c of stream) {
      for (const t of c.choices[0]?.delta.tool_calls ?? []) {
        expect(t.index).toBe(0);
        if (t.id) calls.id = t.id;
        if (t.function?.name) calls.name = t.function.name;
        calls.args += t.function?.arguments ?? '';
      }
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(calls).toEqual({ id: 'toolu_fake1', name: 'weather', args: '{"city": "Paris"}' });
    expect(finish).toBe('tool_calls');
  });

  it('provider errors: 5xx/529 → 502 upstream_error with provider_status; 400 and 429 keep status and message', async () => {
    fake.options.failWith = 529;
    const res = await fetch(`${h.urls[0]}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: SONNET, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(502);
    expect((await res.json()).error).toMatchObject({
      type: 'upstream_error',
      code: 'upstream_error',
      provider_status: 529,
      message: 'failure 529',
      param: null,
    });
    fake.options.failWith = 400;
    const bad = client().chat.completions.create({
      model: SONNET,
      messages: [{ role: 'user', content: 'x' }],
    });
    await expect(bad).rejects.toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      code: 'invalid_request_error',
    });
    fake.options.failWith = 429;
    const limited = await client()
      .chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    expect(limited).toMatchObject({ status: 429 });
    // SPEC §6: every 429 says when to come back.
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('an error event inside the stream reaches the client as an error and is recorded as one', async () => {
    fake.options.outputTokens = 5;
    fake.options.streamErrorAfter = 2;
    fake.options.cacheReadTokens = 300;
    const { data: stream, id } = await requestId(
      client().chat.completions.create({
        model: SONNET,
        messages: [{ role: 'user', content: 'hello' }],
        stream: true,
      }),
    );
    const read = async () => {
      for await (const _ of stream) {
      }
    };
    await expect(read()).rejects.toThrow(/Overloaded/);
    const e = await h.eventFor(id);
    // No final usage (message_delta never came): the prompt as message_start reported it (its
    // cache reads at the cached price), the output estimated from what was streamed.
    expect(e).toMatchObject({
      status: 'error',
      errorClass: 'upstream_error',
      estimated: true,
      inputTokens: 20,
      cachedInputTokens: 300,
    });
    expect(e.outputTokens).toBeGreaterThanOrEqual(2);
  });

  it('a stream cut before message_delta bills the prompt message_start reported and the output streamed, never the placeholder', async () => {
    fake.options.outputTokens = 50;
    fake.options.cutAfterDeltas = 20;
    fake.options.inputTokens = 1_234;
    fake.options.cacheReadTokens = 4_000;
    fake.options.cacheCreationTokens = 500;
    const { data: stream, id } = await requestId(
      client().chat.completions.create({
        model: SONNET,
        messages: [{ role: 'user', content: 'hello' }],
        stream: true,
      }),
    );
    let text = '';
    let failure: unknown = null;
    try {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    } catch (err) {
      failure = err;
    }
    expect(text.startsWith('w0 w1 ')).toBe(true);
    // Cut as Anthropic cut it: the SDK raises rather than reading a finished answer.
    expect(String(failure)).toMatch(/terminated/);
    const e = await h.eventFor(id);
    expect(e).toMatchObject({ status: 'error', errorClass: 'upstream_cut', estimated: true });
    expect(e.outputTokens).toBeGreaterThanOrEqual(20);
    // The prompt as Anthropic counted it (and bills it), not the estimate from 'hello'.
    expect(e).toMatchObject({
      inputTokens: 1_234,
      cachedInputTokens: 4_000,
      cacheWriteTokens: 500,
    });
  });

  it('a stream is whole at message_stop: a client leaving before the upstream closes is billed as served', async () => {
    fake.options.lingerMs = 1_500;
    fake.options.outputTokens = 30;
    const { data: stream, id } = await requestId(
      client().chat.completions.create({
        model: SONNET,
        messages: [{ role: 'user', content: 'hello' }],
        stream: true,
      }),
    );
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text.startsWith('w0 w1 ')).toBe(true);
    const e = await h.eventFor(id);
    expect(e).toMatchObject({ status: 'ok', httpStatus: 200, outputTokens: 30, estimated: false });
  });

  it('a client leaving a stream before message_delta is billed the prompt message_start reported', async () => {
    fake.options.outputTokens = 400;
    fake.options.delayMs = 20;
    fake.options.inputTokens = 2_345;
    fake.options.cacheReadTokens = 100;
    const controller = new AbortController();
    const { data: stream, id } = await requestId(
      client().chat.completions.create(
        { model: SONNET, messages: [{ role: 'user', content: 'hello' }], stream: true },
        { signal: controller.signal },
      ),
    );
    let chunks = 0;
    try {
      for await (const c of stream) {
        if ((c.choices[0]?.delta.content ?? '') !== '' && ++chunks === 5) controller.abort();
      }
    } catch {}
    const e = await h.eventFor(id);
    expect(e).toMatchObject({ estimated: true, inputTokens: 2_345, cachedInputTokens: 100 });
    expect(e.outputTokens).toBeGreaterThanOrEqual(5);
    expect(e.billedCostMicros).toBeGreaterThan(0);
  });

  it('bad input: parameters Anthropic cannot honour are refused with a 400, never sent', async () => {
    const before = fake.received.length;
    const cases: [Record<string, unknown>, string][] = [
      [{ n: 2 }, 'n'],
      [{ temperature: 1.5 }, 'temperature'],
      [{ response_format: { type: 'json_object' } }, 'response_format'],
      [{ logprobs: true }, 'logprobs'],
      [{ frequency_penalty: 0.5 }, 'frequency_penalty'],
    ];
    for (const [extra, param] of cases) {
      const res = await fetch(`${h.urls[0]}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: SONNET,
          messages: [{ role: 'user', content: 'x' }],
          ...extra,
        }),
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatchObject({ type: 'invalid_request_error', param });
    }
    const embed = await fetch(`${h.urls[0]}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: SONNET, input: 'x' }),
    });
    expect(embed.status).toBe(400);
    expect(fake.received.length).toBe(before);
  });

  it('cap: the bound sent to Anthropic is lowered so the worst case fits, settlement within the cap', async () => {
    const { data: r, id } = await requestId(
      client('sa_clamp').chat.completions.create({
        model: SONNET,
        messages: [{ role: 'user', content: 'x' }],
      }),
    );
    const sent = last().body!.max_tokens as number;
    expect(sent).toBeGreaterThanOrEqual(16);
    expect(sent).toBeLessThan(200);
    expect(r.choices[0]!.message.content).toBeTruthy();
    const e = await h.eventFor(id);
    expect(e.reservationMicros).toBeLessThanOrEqual(3_000);
    expect(e.billedCostMicros).toBe(cost(20, 10));
  });

  it('cap: a translated stream whose upstream ignores the bound is ended with finish_reason length', async () => {
    fake.options.ignoreBound = true;
    fake.options.outputTokens = 2_000;
    const { data: stream, id } = await requestId(
      client('sa_guard').chat.completions.create({
        model: SONNET,
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      }),
    );
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.length).toBeLessThan(400);
    const e = await h.eventFor(id);
    expect(e.billedCostMicros).toBeLessThanOrEqual(3_000);
  });

  it('cap: a translated stream cut at the reservation gives a client that asked for usage the usage it is billed', async () => {
    fake.options.ignoreBound = true;
    fake.options.outputTokens = 2_000;
    const { data: stream, id } = await requestId(
      client('sa_guard_u').chat.completions.create({
        model: SONNET,
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.choices).toEqual([]);
    const e = await h.eventFor(id);
    expect(e.estimated).toBe(true);
    expect(e.outputTokens).toBeGreaterThan(1);
    expect(chunks.at(-1)!.usage).toMatchObject({
      prompt_tokens: e.inputTokens,
      completion_tokens: e.outputTokens,
      total_tokens: e.inputTokens + e.outputTokens,
    });
  });

  it('/v1/messages: x-api-key, bare model name, body passed through, Anthropic JSON back, billed', async () => {
    fake.options.cacheReadTokens = 50;
    const res = await messagesFetch(
      {
        model: 'claude-sonnet-4-6',
        max_tokens: 64,
        system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'hi' }],
        metadata: { tags: ['team-x'], user_id: 'u1' },
      },
      { 'anthropic-beta': 'prompt-caching-2024-07-31' },
    );
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id');
    const json = await res.json();
    expect(json).toMatchObject({
      type: 'message',
      model: 'claude-sonnet-4-6',
      stop_reason: 'end_turn',
    });
    expect(json.usage).toEqual({
      input_tokens: 20,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 50,
      output_tokens: 10,
    });
    const got = last();
    expect(got.headers['x-api-key']).toBe('sk-ant-platform');
    expect(got.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
    expect(got.body).toEqual({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'hi' }],
      metadata: { user_id: 'u1' },
    });
    const e = await h.eventFor(id);
    expect(e).toMatchObject({
      model: SONNET,
      provider: 'anthropic',
      tags: ['team-x'],
      inputTokens: 20,
      cachedInputTokens: 50,
      outputTokens: 10,
    });
    expect(e.providerCostMicros).toBe(cost(20, 10, 50));
  });

  it('/v1/messages: Authorization bearer and a prefixed model work too', async () => {
    const res = await fetch(`${h.urls[0]}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'anthropic/claude-haiku-4.5',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(res.status).toBe(200);
    expect(last().body!.model).toBe('claude-haiku-4-5');
    expect(last().headers['anthropic-version']).toBe('2023-06-01');
  });

  it('/v1/messages stream: events passed through as sent; usage from message_start and message_delta', async () => {
    fake.options.outputTokens = 4;
    fake.options.cacheCreationTokens = 9;
    const res = await messagesFetch({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const id = res.headers.get('x-request-id');
    const text = await res.text();
    const types = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      ...Array(4).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const e = await h.eventFor(id);
    expect(e).toMatchObject({
      stream: true,
      inputTokens: 20,
      cacheWriteTokens: 9,
      outputTokens: 4,
      estimated: false,
    });
    expect(e.providerCostMicros).toBe(cost(20, 4, 0, 9));
  });

  it('/v1/messages cap: max_tokens lowered; a stream past the reservation ends with max_tokens', async () => {
    const res = await messagesFetch(
      {
        model: 'claude-sonnet-4-6',
        max_tokens: 10_000,
        messages: [{ role: 'user', content: 'hi' }],
      },
      {},
      'sa_mclamp',
    );
    expect(res.status).toBe(200);
    expect(last().body!.max_tokens).toBeLessThan(200);
    fake.options.ignoreBound = true;
    fake.options.outputTokens = 2_000;
    const s = await messagesFetch(
      {
        model: 'claude-sonnet-4-6',
        max_tokens: 10_000,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      },
      {},
      'sa_mclamp',
    );
    const text = await s.text();
    expect(text).toContain('"stop_reason":"max_tokens"');
    expect(text.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true);
    const events = (await h.events()).filter((e) => e.subAccountId === 'sa_mclamp');
    const spent = events.reduce((n, e) => n + e.billedCostMicros, 0);
    expect(spent).toBeLessThanOrEqual(3_000);
  });

  it('/v1/messages cap: the closing message_delta reports the output billed, not the placeholder', async () => {
    fake.options.ignoreBound = true;
    fake.options.outputTokens = 2_000;
    const sdk = new Anthropic({ apiKey: h.keys.sa_mguard!, baseURL: h.urls[0], maxRetries: 0 });
    const stream = sdk.messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 10_000,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('max_tokens');
    expect(text).toMatch(/^w0 w1 /);
    expect(final.content).toEqual([{ type: 'text', text }]);
    const [e] = (await h.events()).filter((x) => x.subAccountId === 'sa_mguard');
    expect(e!.estimated).toBe(true);
    expect(e!.outputTokens).toBeGreaterThan(1);
    expect(final.usage.output_tokens).toBe(e!.outputTokens);
  });

  it('/v1/messages bad input: no key 401, missing max_tokens 400, non-Anthropic model 400', async () => {
    const noKey = await fetch(`${h.urls[0]}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [] }),
    });
    expect(noKey.status).toBe(401);
    const before = fake.received.length;
    const noMax = await messagesFetch({
      model: 'claude-sonnet-4-6',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(noMax.status).toBe(400);
    expect((await noMax.json()).error.param).toBe('max_tokens');
    const openai = await messagesFetch({
      model: 'openai/gpt-5.4-mini',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(openai.status).toBe(400);
    expect(fake.received.length).toBe(before);
  });

  it('the official Anthropic SDK against /v1/messages: create, stream, errors', async () => {
    const sdk = new Anthropic({ apiKey: h.keys.sa_main!, baseURL: h.urls[0], maxRetries: 0 });
    fake.options.outputTokens = 3;
    const {
      data: msg,
      response,
      request_id: sdkRequestId,
    } = await sdk.messages
      .create({
        model: 'claude-sonnet-4-6',
        max_tokens: 32,
        system: 'be brief',
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    expect(msg.content).toEqual([{ type: 'text', text: 'w0 w1 w2 ' }]);
    expect(msg.usage.output_tokens).toBe(3);
    // The SDK's own request id (from `request-id`) is Tollgate's.
    expect(sdkRequestId).toBe(response.headers.get('x-request-id'));
    expect(sdkRequestId).toMatch(/^req_/);
    expect(last().headers['x-api-key']).toBe('sk-ant-platform');
    const e = await h.eventFor(response.headers.get('x-request-id'));
    expect(e).toMatchObject({ model: SONNET, outputTokens: 3, inputTokens: 20 });
    expect(e.providerCostMicros).toBe(cost(20, 3));

    fake.options.callTool = true;
    const stream = sdk.messages.stream({
      model: 'anthropic/claude-sonnet-4.6',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ name: 'weather', input_schema: { type: 'object' } }],
    });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const final = await stream.finalMessage();
    expect(text).toBe('w0 w1 w2 ');
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content[1]).toMatchObject({
      type: 'tool_use',
      name: 'weather',
      input: { city: 'Paris' },
    });
    expect(final.usage.output_tokens).toBe(3);

    fake.options.failWith = 529;
    await expect(
      sdk.messages.create({
        model: 'claude-sonnet-4-6',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 502 });
    const bad = new Anthropic({ apiKey: 'sk-wrong', baseURL: h.urls[0], maxRetries: 0 });
    const refused = await bad.messages
      .create({
        model: 'claude-sonnet-4-6',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'x' }],
      })
      .catch((err: unknown) => err);
    expect(refused).toMatchObject({ status: 401 });
    expect((refused as { requestID?: string }).requestID).toMatch(/^req_/);
  });
});
