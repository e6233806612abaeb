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

const secret = Buffer.alloc(32, 9);

/**
 * SSRF at connect time: a workspace's own base URL (a BYOK route) that is, or resolves to, a
 * loopback/private address — registered while the control plane allowed it, or re-pointed by DNS
 * after registration — is never connected to unless TOLLGATE_ALLOW_PRIVATE_UPSTREAMS is set on the
 * data plane. The operator's upstreams (OPENAI_BASE_URL, …) stay unrestricted.
 */
describe('data plane: BYOK base URLs on private addresses', () => {
  let own: FakeUpstream;
  let guarded: Harness;
  let open: Harness;
  const routes = (url: string) => [
    { provider: 'intern-ip', baseUrl: url },
    { provider: 'intern-name', baseUrl: url.replace('127.0.0.1', 'localhost') },
    { provider: 'intern-mapped', baseUrl: url.replace('127.0.0.1', '[::ffff:127.0.0.1]') },
    // A workspace key without a base URL goes to the operator's OpenAI upstream (127.0.0.1 here).
    { provider: 'openai', baseUrl: null },
  ];
  const start = (allowPrivateUpstreams: boolean) =>
    startHarness({
      subs: [subAccount('sa_x')],
      secretKey: secret,
      allowPrivateUpstreams,
      routes: routes(own.url).map((r) => ({
        workspaceId: WS,
        ...r,
        sealedApiKey: sealForTest(secret, 'sk-intern-key'),
      })),
      prices: ['intern-ip/x', 'intern-name/x', 'intern-mapped/x'].map((m) => priceOverride(m)),
    });
  beforeAll(async () => {
    own = await startFakeUpstream();
    guarded = await start(false);
    open = await start(true);
  });
  afterAll(async () => {
    await guarded?.close();
    await open?.close();
    await own?.close();
  });

  const chat = (h: Harness, model: string) =>
    h
      .client('sa_x')
      .chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 4,
      })
      .then(
        (r) => ({ status: 200, error: null, requestId: null, model: r.model }),
        // biome-ignore lint/suspicious/noExplicitAny: the SDK's APIError, checked field by field
        (e: any) => ({
          status: e.status as number,
          error: e.error,
          requestId: e.headers?.get('x-request-id') as string | null,
          model: null,
        }),
      );

  it.each(['intern-ip/x', 'intern-name/x', 'intern-mapped/x'])(
    '%s: 502 upstream_error, nothing reaches the address, recorded as an upstream error',
    async (model) => {
      const hits = own.hits();
      const res = await chat(guarded, model);
      expect(res.status).toBe(502);
      expect(res.error).toMatchObject({ type: 'upstream_error', code: 'upstream_error' });
      expect(own.hits()).toBe(hits);
      const e = await guarded.eventFor(res.requestId);
      expect(e).toMatchObject({ errorClass: 'upstream_error', httpStatus: 502, byok: true });
      expect(e.billedCostMicros).toBe(0);
    },
  );

  it('a BYOK key without a base URL still reaches the operator’s upstream (trusted)', async () => {
    const hits = guarded.upstream.hits();
    const res = await chat(guarded, CHEAP);
    expect(res.status).toBe(200);
    expect(guarded.upstream.hits()).toBe(hits + 1);
    expect(guarded.upstream.received.at(-1)!.headers.authorization).toBe('Bearer sk-intern-key');
  });

  it('with TOLLGATE_ALLOW_PRIVATE_UPSTREAMS the same routes are served', async () => {
    for (const model of ['intern-ip/x', 'intern-name/x']) {
      const hits = own.hits();
      const res = await chat(open, model);
      expect(res.status, model).toBe(200);
      expect(own.hits()).toBe(hits + 1);
    }
  });
});
