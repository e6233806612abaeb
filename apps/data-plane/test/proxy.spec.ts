import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHEAP, type Harness, startHarness, subAccount } from './harness.ts';

const MINI = 'openai/gpt-5.4-mini';
// Catalogue price of gpt-5.4-mini, micro-USD per 1M tokens.
const MINI_IN = 750_000;
const MINI_OUT = 4_500_000;

describe('data plane: OpenAI SDK against a fake upstream', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      subs: [
        subAccount('sa_main'),
        subAccount('sa_susp', { status: 'suspended' }),
        subAccount('sa_allow', { allowedModels: [CHEAP] }),
        subAccount('sa_tagged', { defaultTag: 'team-a' }),
      ],
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('chat completion (non-stream): forwarded with the provider prefix stripped, usage billed', async () => {
    const before = h.upstream.received.length;
    const r = await h.client('sa_main').chat.completions.create({
      model: MINI,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 5,
    });
    expect(r.choices[0]?.message.content).toBe('w0 w1 w2 w3 w4 ');
    expect(r.usage?.completion_tokens).toBe(5);
    const got = h.upstream.received[before]!;
    expect(got.path).toBe('/v1/chat/completions');
    expect(got.body?.model).toBe('gpt-5.4-mini');
    expect(got.headers.authorization).toBe('Bearer sk-platform-upstream');
    const id = (
      await h
        .client('sa_main')
        .chat.completions.create({
          model: MINI,
          messages: [{ role: 'user', content: 'x' }],
          max_tokens: 3,
        })
        .withResponse()
    ).response.headers.get('x-request-id');
    expect(id).toMatch(/^req_/);
    const events = await h.events();
    const e = events.find((x) => x.requestId === id)!;
    expect(e).toMatchObject({
      status: 'ok',
      workspaceId: 'ws_test',
      subAccountId: 'sa_main',
      keyId: 'key_sa_main',
      model: MINI,
      provider: 'openai',
      inputTokens: 12,
      outputTokens: 3,
      estimated: false,
      httpStatus: 200,
    });
    const cost = Math.ceil((12 * MINI_IN + 3 * MINI_OUT) / 1_000_000);
    expect(e.providerCostMicros).toBe(cost);
    expect(e.billedCostMicros).toBe(cost);
  });

  it('chat stream: include_usage injected upstream and its chunk stripped for the client', async () => {
    const before = h.upstream.received.length;
    const stream = await h.client('sa_main').chat.completions.create({
      model: MINI,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 4,
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(h.upstream.received[before]!.body?.stream_options).toEqual({ include_usage: true });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('w0 w1 w2 w3 ');
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
    // Not even the `usage: null` every chunk carries upstream because usage was asked for there.
    expect(chunks.filter((c) => 'usage' in c)).toEqual([]);
    const events = await h.events();
    const e = events.filter((x) => x.stream).at(-1)!;
    expect(e).toMatchObject({ status: 'ok', inputTokens: 12, outputTokens: 4, estimated: false });
    expect(e.ttftMs).not.toBeNull();
  });

  it('chat stream: an event re-encoded without its usage keeps its event: and id: lines', async () => {
    h.upstream.options.sseFields = true;
    try {
      const res = await fetch(`${h.urls[0]}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${h.keys.sa_main}` },
        body: JSON.stringify({
          model: MINI,
          messages: [{ role: 'user', content: 'hello' }],
          max_tokens: 3,
          stream: true,
        }),
      });
      const blocks = (await res.text()).split('\n\n').filter((b) => b !== '');
      expect(blocks.at(-1)).toBe('data: [DONE]');
      // Role chunk, 3 words, finish chunk; the usage chunk (asked for by the proxy) is gone.
      expect(blocks.slice(0, -1).map((b) => b.replace(/\ndata: .*$/s, ''))).toEqual(
        [0, 1, 2, 3, 4].map((i) => `event: chunk\nid: ${i}`),
      );
      for (const b of blocks.slice(0, -1)) expect(b).not.toContain('usage');
    } finally {
      h.upstream.options.sseFields = undefined;
    }
  });

  it('a stream is whole at its last event: a client leaving before the upstream closes is billed as served', async () => {
    // The upstream keeps its connection a while after `[DONE]` / `response.completed`; the SDK stops
    // reading at `[DONE]` and closes. Whole answers, not client disconnects: status ok, the usage
    // as reported (not the estimate from the text), and the client's answer ends at once.
    h.upstream.options.lingerMs = 1_500;
    h.upstream.options.outputTokens = 200;
    try {
      const ids: string[] = [];
      for (const include_usage of [false, true]) {
        const started = Date.now();
        const { data: stream, response } = await h
          .client('sa_main')
          .chat.completions.create({
            model: MINI,
            messages: [{ role: 'user', content: 'hello' }],
            max_tokens: 40,
            stream: true,
            stream_options: { include_usage },
          })
          .withResponse();
        let text = '';
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
        expect(text.split(' ').length).toBe(41);
        expect(Date.now() - started).toBeLessThan(1_500);
        ids.push(response.headers.get('x-request-id')!);
      }
      // Responses: a client that stops at response.completed and closes.
      const res = await fetch(`${h.urls[0]}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${h.keys.sa_main}` },
        body: JSON.stringify({ model: MINI, input: 'hello', max_output_tokens: 40, stream: true }),
      });
      ids.push(res.headers.get('x-request-id')!);
      const reader = res.body!.getReader();
      let seen = '';
      while (!seen.includes('event: response.completed')) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += Buffer.from(value).toString();
      }
      // Its answer ends right after the last event (the upstream's connection still open).
      const next = await Promise.race([
        reader.read().then((r) => (r.done ? 'ended' : 'more')),
        new Promise((r) => setTimeout(() => r('still open'), 1_000)),
      ]);
      expect(next).toBe('ended');
      const events = await h.events();
      for (const id of ids) {
        expect(events.find((e) => e.requestId === id)).toMatchObject({
          status: 'ok',
          errorClass: null,
          httpStatus: 200,
          outputTokens: 40,
          estimated: false,
        });
      }
    } finally {
      h.upstream.options.lingerMs = undefined;
      h.upstream.options.outputTokens = undefined;
    }
  });

  it('chat stream: a client asking for usage gets the usage chunk', async () => {
    const stream = await h.client('sa_main').chat.completions.create({
      model: MINI,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBe(2);
  });

  it('completions, embeddings and responses (plain and streamed) are served and billed', async () => {
    const c = h.client('sa_main');
    const comp = await c.completions.create({ model: MINI, prompt: 'hi', max_tokens: 2 });
    expect(comp.choices[0]?.text).toBe('w0 w1 ');
    const emb = await c.embeddings.create({ model: 'openai/text-embedding-3-small', input: 'hi' });
    expect(emb.data[0]?.embedding.length).toBe(3);
    const resp = await c.responses.create({ model: MINI, input: 'hi', max_output_tokens: 16 });
    expect(resp.output_text.length).toBeGreaterThan(0);
    const rs = await c.responses.create({
      model: MINI,
      input: 'hi',
      max_output_tokens: 16,
      stream: true,
    });
    let text = '';
    for await (const ev of rs) if (ev.type === 'response.output_text.delta') text += ev.delta;
    expect(text).toBe('w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 ');
    const cs = await c.completions.create({
      model: MINI,
      prompt: 'hi',
      max_tokens: 3,
      stream: true,
    });
    let ctext = '';
    let withUsageField = 0;
    for await (const ch of cs) {
      ctext += ch.choices[0]?.text ?? '';
      if ('usage' in ch) withUsageField++;
    }
    expect(ctext).toBe('w0 w1 w2 ');
    expect(withUsageField).toBe(0);
    const events = await h.events();
    const byModel = events.filter((e) => e.status === 'ok');
    expect(
      byModel.some((e) => e.model === 'openai/text-embedding-3-small' && e.inputTokens === 12),
    ).toBe(true);
    const streamedResp = byModel.filter((e) => e.stream && e.outputTokens === 10);
    expect(streamedResp.length).toBeGreaterThan(0);
    expect(streamedResp[0]!.estimated).toBe(false);
  });

  it('models list shows only what the key may use', async () => {
    const all = await h.client('sa_main').models.list();
    expect(all.data.map((m) => m.id)).toContain(MINI);
    // Only providers it can reach: this plane has an OpenAI credential and no Anthropic one.
    expect(all.data.every((m) => m.id.startsWith('openai/'))).toBe(true);
    expect(all.data.length).toBeGreaterThan(1);
    const some = await h.client('sa_allow').models.list();
    expect(some.data.map((m) => m.id)).toEqual([CHEAP]);
    // models.retrieve: one model of the same list (the slash of its id encoded or not), else 404.
    expect(await h.client('sa_allow').models.retrieve(CHEAP)).toMatchObject({
      id: CHEAP,
      object: 'model',
    });
    const plain = await fetch(`${h.urls[0]}/v1/models/${CHEAP}`, {
      headers: { authorization: `Bearer ${h.keys.sa_allow}` },
    });
    expect(await plain.json()).toMatchObject({ id: CHEAP });
    const refused = await h
      .client('sa_allow')
      .models.retrieve(MINI)
      .catch((e) => e);
    expect(refused).toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('invalid key 401, suspended 403, model not allowed 403 with allowed_models; nothing forwarded', async () => {
    const before = h.upstream.hits();
    const bad = new OpenAI({ apiKey: 'sk-tg-nope', baseURL: `${h.urls[0]}/v1`, maxRetries: 0 });
    const msg = { model: MINI, messages: [{ role: 'user' as const, content: 'x' }] };
    const e1 = await bad.chat.completions.create(msg).catch((e) => e);
    expect(e1).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(e1.code).toBe('invalid_api_key');
    expect(e1.error.message).toBe('Incorrect API key provided.');
    // An admin key where a sub-account key belongs is told so (chat and the model list alike).
    const admin = new OpenAI({
      apiKey: `sk-tg-admin-${'A'.repeat(43)}`,
      baseURL: `${h.urls[0]}/v1`,
      maxRetries: 0,
    });
    for (const call of [() => admin.chat.completions.create(msg), () => admin.models.list()]) {
      const refused = await call().catch((e) => e);
      expect(refused.status).toBe(401);
      expect(refused.code).toBe('invalid_api_key');
      expect(refused.error.message).toBe(
        'An admin key (sk-tg-admin-…) is not accepted here: the OpenAI-compatible API takes a sub-account key (sk-tg-…).',
      );
    }
    const e2 = await h
      .client('sa_susp')
      .chat.completions.create(msg)
      .catch((e) => e);
    expect(e2.status).toBe(403);
    expect(e2.code).toBe('sub_account_suspended');
    // Suspension is judged before the body (SPEC §6 order): a bad body gets the same 403.
    const e2b = await h
      .client('sa_susp')
      .chat.completions.create({ ...msg, max_tokens: -1 })
      .catch((e) => e);
    expect(e2b.status).toBe(403);
    expect(e2b.code).toBe('sub_account_suspended');
    const e3 = await h
      .client('sa_allow')
      .chat.completions.create(msg)
      .catch((e) => e);
    expect(e3.status).toBe(403);
    expect(e3.code).toBe('model_not_allowed');
    expect(e3.error.allowed_models).toEqual([CHEAP]);
    const e4 = await h
      .client('sa_main')
      .chat.completions.create({ ...msg, model: 'openai/no-such-model' })
      .catch((e) => e);
    expect(e4.status).toBe(404);
    expect(e4.code).toBe('model_not_found');
    // A bare model name (the OpenAI SDK habit) is told the naming, with the priced match if any.
    const bare = await h
      .client('sa_main')
      .chat.completions.create({ ...msg, model: CHEAP.slice('openai/'.length) })
      .catch((e) => e);
    expect(bare.status).toBe(404);
    expect(bare.error.message).toBe(
      `The model "${CHEAP.slice('openai/'.length)}" does not exist or has no price set. Models are named provider/model: did you mean "${CHEAP}"?`,
    );
    const unknown = await h
      .client('sa_main')
      .chat.completions.create({ ...msg, model: 'no-such-model' })
      .catch((e) => e);
    expect(unknown.error.message).toBe(
      'The model "no-such-model" does not exist or has no price set. Models are named provider/model (e.g. openai/gpt-5.4-mini).',
    );
    expect(h.upstream.hits()).toBe(before);
    const events = await h.events();
    expect(events.some((e) => e.status === 'blocked' && e.errorClass === 'model_not_allowed')).toBe(
      true,
    );
  });

  it('tags: header, body metadata.tags (stripped upstream), both together, the default tag', async () => {
    const before = h.upstream.received.length;
    await h
      .client('sa_main')
      .chat.completions.create(
        { model: CHEAP, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 },
        { headers: { 'x-tollgate-tag': 'feat-1,feat-2' } },
      );
    await h.client('sa_main').chat.completions.create({
      model: CHEAP,
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 1,
      metadata: { tags: ['from-body'] } as unknown as Record<string, string>,
    });
    await h.client('sa_tagged').chat.completions.create({
      model: CHEAP,
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 1,
    });
    // An SDK's default header tag and a per-call body tag: attributed to both.
    await h.client('sa_tagged').chat.completions.create(
      {
        model: CHEAP,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 1,
        metadata: { tags: ['per-call', 'app-wide'] } as unknown as Record<string, string>,
      },
      { headers: { 'x-tollgate-tag': 'app-wide' } },
    );
    expect(h.upstream.received[before + 1]!.body?.metadata).toBeUndefined();
    expect(h.upstream.received[before + 3]!.body?.metadata).toBeUndefined();
    const events = (await h.events()).filter((e) => e.model === CHEAP && e.status === 'ok');
    const tags = events.map((e) => e.tags);
    expect(tags).toContainEqual(['feat-1', 'feat-2']);
    expect(tags).toContainEqual(['from-body']);
    expect(tags).toContainEqual(['team-a']);
    expect(tags).toContainEqual(['app-wide', 'per-call']);
  });
});
