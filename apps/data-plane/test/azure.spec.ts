import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AZURE_DEFAULT_API_VERSION } from '../src/upstreams.ts';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';
import {
  type Harness,
  priceOverride,
  sealForTest,
  startHarness,
  subAccount,
  WS,
} from './harness.ts';

/** A 4-token chat of `sub` on `model` (deployment `gpt-4o-prod`) through the harness: checks the
 * answer and the Azure wire shape (deployment path, `query`, the key in `api-key`, no bearer, no
 * `model` field); answers what the provider received and the request's usage event. */
async function deploymentChat(
  h: Harness,
  az: FakeUpstream,
  sub: string,
  model: string,
  want: { query: string; apiKey: string },
) {
  const { data, response } = await h
    .client(sub)
    .chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 4,
    })
    .withResponse();
  expect(data.choices[0]!.message.content).toBe('w0 w1 w2 w3 ');
  const got = az.received.at(-1)!;
  expect(got.path).toBe('/openai/deployments/gpt-4o-prod/chat/completions');
  expect(got.query).toBe(want.query);
  expect(got.headers['api-key']).toBe(want.apiKey);
  expect(got.headers.authorization).toBeUndefined();
  expect(got.body!.model).toBeUndefined();
  return { got, event: () => h.eventFor(response.headers.get('x-request-id')) };
}

/** Azure OpenAI (kind `azure`): `<name>/<deployment>` → `{base}/openai/deployments/{deployment}/…`
 * with `?api-version=`, the key in `api-key`, no `model` in the body. */
describe('data plane: Azure OpenAI provider', () => {
  let h: Harness;
  let az: FakeUpstream;
  beforeAll(async () => {
    az = await startFakeUpstream({ promptTokens: 20 });
    // The resource endpoint is the host (`https://<res>.openai.azure.com`), without `/v1`.
    const host = az.url.replace(/\/v1$/, '');
    h = await startHarness({
      subs: [subAccount('sa_main'), subAccount('sa_clamp', { spendCapMicros: 400 })],
      upstreams: {
        azure: { baseUrl: `${host}/`, apiKey: 'az-key', kind: 'azure', apiVersion: '2024-06-01' },
        'azure-eu': { baseUrl: `${host}/openai`, apiKey: 'az-eu-key', kind: 'azure' },
      },
      prices: [
        priceOverride('azure/gpt-4o-prod'),
        priceOverride('azure/text-embedding-3-small'),
        priceOverride('azure-eu/gpt-4o'),
      ],
    });
  });
  afterAll(async () => {
    await h.close();
    await az.close();
  });

  it('chat: deployment path, api-version, api-key header, no model field; priced', async () => {
    const { got, event } = await deploymentChat(h, az, 'sa_main', 'azure/gpt-4o-prod', {
      query: 'api-version=2024-06-01',
      apiKey: 'az-key',
    });
    expect(got.body!.max_tokens).toBe(4);
    const e = await event();
    expect(e).toMatchObject({ provider: 'azure', model: 'azure/gpt-4o-prod', inputTokens: 20 });
    expect(e.providerCostMicros).toBe(Math.ceil((20 * 2_000_000 + 4 * 3_000_000) / 1_000_000));
    expect(h.upstream.received.length).toBe(0);
  });

  it('streams with usage asked for; the default api-version when none is set', async () => {
    const stream = await h.client('sa_main').chat.completions.create({
      model: 'azure-eu/gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 3,
      stream: true,
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('w0 w1 w2 ');
    const got = az.received.at(-1)!;
    expect(got.path).toBe('/openai/deployments/gpt-4o/chat/completions');
    expect(got.query).toBe(`api-version=${AZURE_DEFAULT_API_VERSION}`);
    expect(got.headers['api-key']).toBe('az-eu-key');
    expect(got.body!.stream_options).toEqual({ include_usage: true });
    expect(got.body!.model).toBeUndefined();
  });

  it('embeddings reach the deployment; /v1/responses is refused with a clear 400', async () => {
    const { response } = await h
      .client('sa_main')
      .embeddings.create({ model: 'azure/text-embedding-3-small', input: 'hello' })
      .withResponse();
    const got = az.received.at(-1)!;
    expect(got.path).toBe('/openai/deployments/text-embedding-3-small/embeddings');
    expect(got.query).toBe('api-version=2024-06-01');
    expect(got.body).toMatchObject({ input: 'hello' });
    expect(got.body!.model).toBeUndefined();
    expect(got.headers['api-key']).toBe('az-key');
    const e = await h.eventFor(response.headers.get('x-request-id'));
    expect(e).toMatchObject({ provider: 'azure', inputTokens: 20, outputTokens: 0 });

    const before = az.received.length;
    const res = await fetch(`${h.urls[0]}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'azure/gpt-4o-prod', input: 'x' }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('unsupported_endpoint');
    expect(az.received.length).toBe(before);
  });

  it('a clamp without a bound writes max_completion_tokens (the models are OpenAI’s)', async () => {
    await h.client('sa_clamp').chat.completions.create({
      model: 'azure/gpt-4o-prod',
      messages: [{ role: 'user', content: 'x' }],
    });
    const body = az.received.at(-1)!.body!;
    expect(body.max_completion_tokens).toBeGreaterThan(0);
    expect(body.max_completion_tokens).toBeLessThan(400);
    expect(body.max_tokens).toBeUndefined();
  });
});

/** A workspace's own Azure OpenAI resource registered through BYOK (route kind `azure`), for a
 * provider name the platform does not configure at all. */
describe('data plane: BYOK Azure OpenAI route', () => {
  const secret = Buffer.alloc(32, 7);
  let h: Harness;
  let az: FakeUpstream;
  beforeAll(async () => {
    az = await startFakeUpstream({ promptTokens: 20 });
    const host = az.url.replace(/\/v1$/, '');
    h = await startHarness({
      subs: [subAccount('sa_byok')],
      secretKey: secret,
      routes: [
        {
          workspaceId: WS,
          provider: 'myazure',
          baseUrl: host,
          kind: 'azure',
          apiVersion: '2025-01-01-preview',
          sealedApiKey: sealForTest(secret, 'ws-azure-key'),
        },
        {
          workspaceId: WS,
          provider: 'myazure-default',
          baseUrl: `${host}/openai`,
          kind: 'azure',
          sealedApiKey: sealForTest(secret, 'ws-azure-key-2'),
        },
      ],
      prices: [priceOverride('myazure/gpt-4o-prod'), priceOverride('myazure-default/gpt-4o')],
    });
  });
  afterAll(async () => {
    await h.close();
    await az.close();
  });

  it('chat goes to the deployment with the route api-version and api-key, no model field', async () => {
    const { event } = await deploymentChat(h, az, 'sa_byok', 'myazure/gpt-4o-prod', {
      query: 'api-version=2025-01-01-preview',
      apiKey: 'ws-azure-key',
    });
    const e = await event();
    expect(e).toMatchObject({ provider: 'myazure', byok: true, inputTokens: 20 });
    expect(h.upstream.received.length).toBe(0);
  });

  it('a route without an api-version uses the platform default', async () => {
    await h.client('sa_byok').chat.completions.create({
      model: 'myazure-default/gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
    });
    const got = az.received.at(-1)!;
    expect(got.path).toBe('/openai/deployments/gpt-4o/chat/completions');
    expect(got.query).toBe(`api-version=${AZURE_DEFAULT_API_VERSION}`);
    expect(got.headers['api-key']).toBe('ws-azure-key-2');
    expect(got.body!.model).toBeUndefined();
  });
});
