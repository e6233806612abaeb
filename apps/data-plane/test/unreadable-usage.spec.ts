import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHEAP, type Harness, startHarness, subAccount } from './harness.ts';

/** SPEC §6: "Nothing is ever recorded at zero cost because usage was missing" — nor because the
 * provider's usage could not be read. */
describe('usage a provider reports that cannot be counted', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ subs: [subAccount('sa_u')] });
  });
  afterAll(async () => {
    await h.close();
  });

  const ask = async () => {
    const res = await h
      .client('sa_u')
      .chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user', content: 'hello there' }],
        max_tokens: 4,
      })
      .withResponse();
    return h.eventFor(res.response.headers.get('x-request-id'));
  };

  it('negative counts: estimated, never zero', async () => {
    h.upstream.options.promptTokens = -5;
    const e = await ask();
    expect(e.estimated).toBe(true);
    expect(e.inputTokens).toBeGreaterThan(0);
    expect(e.billedCostMicros).toBeGreaterThan(0);
  });

  it('fractional counts: rounded up, as reported otherwise', async () => {
    h.upstream.options.promptTokens = 10.2;
    const e = await ask();
    expect(e).toMatchObject({ estimated: false, inputTokens: 11, outputTokens: 4 });
    expect(e.billedCostMicros).toBe(15);
  });

  it('a Responses function call without usage: its arguments are the output estimated', async () => {
    h.upstream.options.promptTokens = undefined;
    h.upstream.options.omitUsage = true;
    h.upstream.options.functionCall = true;
    try {
      for (const stream of [false, true]) {
        const call = h.client('sa_u').responses.create({
          model: CHEAP,
          input: 'hi',
          max_output_tokens: 20,
          stream,
        });
        const { response } = await call.withResponse();
        if (stream) for await (const _ of (await call) as AsyncIterable<unknown>);
        else await call;
        const e = await h.eventFor(response.headers.get('x-request-id'));
        expect(e.estimated).toBe(true);
        expect(e.outputTokens).toBeGreaterThan(0);
      }
    } finally {
      h.upstream.options.omitUsage = undefined;
      h.upstream.options.functionCall = undefined;
    }
  });
});
