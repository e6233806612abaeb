import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';
import {
  CHEAP,
  type Harness,
  priceOverride,
  sealForTest,
  startHarness,
  subAccount,
  WS,
} from './harness.ts';

const secret = Buffer.alloc(32, 3);
const TINY = 'openai/tiny-model';
const FRACTIONAL = 'openai/fractional-model';
const req = { model: CHEAP, messages: [{ role: 'user' as const, content: 'x' }], max_tokens: 5 };

describe('data plane: markup and BYOK routes', () => {
  let platform: Harness;
  let byok: Harness;
  let own: FakeUpstream;
  beforeAll(async () => {
    own = await startFakeUpstream();
    platform = await startHarness({
      subs: [subAccount('sa_m')],
      markupPercent: 10,
      // 0.02 µ$ and 2.4 µ$ per token: costs that are not whole micro-dollars.
      prices: [
        priceOverride(TINY, 20_000, 20_000),
        priceOverride(FRACTIONAL, 2_400_000, 2_400_000),
      ],
    });
    byok = await startHarness({
      subs: [subAccount('sa_b'), subAccount('sa_b_broke', { spendCapMicros: 1 })],
      markupPercent: 10,
      secretKey: secret,
      routes: [
        {
          workspaceId: WS,
          provider: 'openai',
          baseUrl: own.url,
          sealedApiKey: sealForTest(secret, 'sk-byok-123'),
        },
        {
          workspaceId: WS,
          provider: 'anthropic',
          baseUrl: own.url,
          sealedApiKey: sealForTest(secret, 'sk-ant-byok'),
        },
      ],
    });
  });

  it('GET /v1/models offers a provider reached only through a provider key of the workspace', async () => {
    const ids = (client: Harness) =>
      client === byok ? byok.client('sa_b').models.list() : platform.client('sa_m').models.list();
    const withKey = (await ids(byok)).data.map((m) => m.id);
    const without = (await ids(platform)).data.map((m) => m.id);
    expect(withKey.some((id) => id.startsWith('anthropic/'))).toBe(true);
    expect(without.some((id) => id.startsWith('anthropic/'))).toBe(false);
    expect(without.some((id) => id.startsWith('openai/'))).toBe(true);
  });
  afterAll(async () => {
    await platform.close();
    await byok.close();
    await own.close();
  });

  it('platform traffic is billed with the workspace markup, rounded up', async () => {
    const r = await platform.client('sa_m').chat.completions.create(req);
    const e = (await platform.events()).at(-1)!;
    const cost = 12 + 5; // 1 micro per token
    expect(r.usage?.total_tokens).toBe(cost);
    expect(e.providerCostMicros).toBe(cost);
    expect(e.billedCostMicros).toBe(Math.ceil(cost * 1.1));
    expect(e.byok).toBe(false);
  });

  it('the markup applies to the exact provider cost: each figure is rounded up once', async () => {
    const billedFor = async (model: string) => {
      await platform.client('sa_m').chat.completions.create({ ...req, model });
      const e = (await platform.events()).at(-1)!;
      return [e.providerCostMicros, e.billedCostMicros];
    };
    // 17 tokens at 0.02 µ$ = 0.34 µ$: provider 1; billed ceil(0.374) = 1, not ceil(1 × 1.1) = 2.
    expect(await billedFor(TINY)).toEqual([1, 1]);
    // 17 tokens at 2.4 µ$ = 40.8 µ$: provider 41; billed ceil(44.88) = 45, not ceil(41 × 1.1) = 46.
    expect(await billedFor(FRACTIONAL)).toEqual([41, 45]);
  });

  it('BYOK traffic goes to the workspace upstream with its own key, markup waived', async () => {
    await byok.client('sa_b').chat.completions.create(req);
    expect(byok.upstream.hits()).toBe(0);
    expect(own.received.at(-1)!.headers.authorization).toBe('Bearer sk-byok-123');
    const e = (await byok.events()).at(-1)!;
    expect(e.byok).toBe(true);
    expect(e.billedCostMicros).toBe(e.providerCostMicros);
  });

  it('a request refused at admission on a BYOK route is recorded as BYOK', async () => {
    const err = await byok
      .client('sa_b_broke')
      .chat.completions.create(req)
      .catch((e) => e);
    expect(err.status).toBe(402);
    const e = await byok.eventFor(err.headers.get('x-request-id'));
    expect(e).toMatchObject({ status: 'blocked', byok: true, provider: 'openai' });
  });

  it('a data plane whose TOLLGATE_SECRET_KEY cannot open the policy’s provider keys refuses to start', async () => {
    const started = startHarness({
      subs: [subAccount('sa_x')],
      secretKey: Buffer.alloc(32, 9),
      routes: [
        {
          workspaceId: WS,
          provider: 'openai',
          baseUrl: own.url,
          sealedApiKey: sealForTest(secret, 'sk-byok-123'),
        },
      ],
    });
    await expect(started).rejects.toThrow(
      /^TOLLGATE_SECRET_KEY: not the key the control plane sealed the provider keys of the policy with/,
    );
  });
});
