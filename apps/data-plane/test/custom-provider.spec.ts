import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';
import { type Harness, priceOverride, startHarness, subAccount } from './harness.ts';

/** An OpenAI-compatible provider registered by name (platform upstream `groq`), priced by an
 * override: called as `groq/<model>`, forwarded with its own key, capped and billed like OpenAI. */
describe('data plane: OpenAI-compatible provider by name', () => {
  let h: Harness;
  let groq: FakeUpstream;
  const MODEL = 'groq/llama-3.3-70b';
  beforeAll(async () => {
    groq = await startFakeUpstream({ promptTokens: 30 });
    h = await startHarness({
      subs: [subAccount('sa_main'), subAccount('sa_clamp', { spendCapMicros: 200 })],
      upstreams: { groq: { baseUrl: groq.url, apiKey: 'gsk-platform' } },
      prices: [priceOverride(MODEL)],
    });
  });
  afterAll(async () => {
    await h.close();
    await groq.close();
  });

  it('chat and stream reach the named upstream with its key, priced by the override', async () => {
    const { data, response } = await h
      .client('sa_main')
      .chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 4,
      })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('w0 w1 w2 w3 ');
    const got = groq.received.at(-1)!;
    expect(got.path).toBe('/v1/chat/completions');
    expect(got.body!.model).toBe('llama-3.3-70b');
    expect(got.headers.authorization).toBe('Bearer gsk-platform');
    const e = await h.eventFor(response.headers.get('x-request-id'));
    expect(e).toMatchObject({ provider: 'groq', model: MODEL, inputTokens: 30, outputTokens: 4 });
    expect(e.providerCostMicros).toBe(Math.ceil((30 * 2_000_000 + 4 * 3_000_000) / 1_000_000));

    const stream = await h.client('sa_main').chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 3,
      stream: true,
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('w0 w1 w2 ');
    expect(groq.received.at(-1)!.body!.stream_options).toEqual({ include_usage: true });
    expect(h.upstream.received.length).toBe(0); // nothing went to the openai upstream
  });

  it('the clamp applies; /v1/messages is not served for it', async () => {
    await h.client('sa_clamp').chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 1_000,
    });
    expect(groq.received.at(-1)!.body!.max_tokens).toBeLessThan(1_000);
    const res = await fetch(`${h.urls[0]}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': h.keys.sa_main!, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('unsupported_endpoint');
  });
});
