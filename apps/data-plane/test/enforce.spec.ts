import { clearOfMinuteEdge } from '@tollgate/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCapBurst } from './cap-burst.ts';
import { CHEAP, type Harness, startHarness, subAccount, WS } from './harness.ts';

describe('data plane: caps, clamps and rate limits (in-process bus)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      subs: [
        subAccount('sa_cap', { spendCapMicros: 1_000 }),
        subAccount('sa_clamp', { spendCapMicros: 60 }),
        subAccount('sa_prompts', { spendCapMicros: 200 }),
        subAccount('sa_guard', { spendCapMicros: 60 }),
        subAccount('sa_guard_c', { spendCapMicros: 60 }),
        subAccount('sa_guard_n', { spendCapMicros: 120 }),
        subAccount('sa_guard_u', { spendCapMicros: 60 }),
        subAccount('sa_guard_r', { spendCapMicros: 60 }),
        subAccount('sa_guard_rs', { spendCapMicros: 60 }),
        subAccount('sa_guard_rf', { spendCapMicros: 60 }),
        subAccount('sa_rpm', { rateLimitRpm: 2 }),
        subAccount('sa_broke', { rateLimitRpm: 50, rateLimitTpm: 100_000, spendCapMicros: 1 }),
        subAccount('sa_picky', { rateLimitRpm: 7, allowedModels: [CHEAP] }),
        subAccount('sa_tag'),
        subAccount('sa_tpm_small', { rateLimitTpm: 100 }),
      ],
      tagBudgets: [
        { id: 'bud_feat', workspaceId: WS, tag: 'feat', capMicros: 300, budgetPeriod: 'monthly' },
      ],
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('cap guarantee: 60 concurrent requests against a small cap; blocked ones never reach upstream', async () => {
    const r = await runCapBurst(h, { sub: 'sa_cap', requests: 60 });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.refused).toBeGreaterThan(0);
    expect(r.ok + r.refused).toBe(60);
    expect(r.upstreamHits).toBe(r.ok);
    const [balance] = await h.bus.limiter.spent(WS, [
      { scope: 'sa:sa_cap', capMicros: 1_000, periodKey: r.periodKey },
    ]);
    expect(balance!.spentMicros).toBeLessThanOrEqual(1_000);
    expect(balance!.reservedMicros).toBe(0);
    const events = (await h.events()).filter((e) => e.subAccountId === 'sa_cap');
    expect(events.length).toBe(60);
    const billed = events.reduce((s, e) => s + e.billedCostMicros, 0);
    expect(billed).toBe(balance!.spentMicros);
    expect(events.filter((e) => e.status === 'blocked').length).toBe(r.refused);
    const body = r.refusals[0]!;
    expect(body.error).toMatchObject({
      type: 'budget_exceeded',
      code: 'spend_cap_reached',
      scope: 'sub_account',
      cap_cents: 0.1,
    });
    expect(typeof body.error.spent_cents).toBe('number');
    expect(typeof body.error.reserved_cents).toBe('number');
    expect(body.error.resets_at).toMatch(/^\d{4}-\d{2}-01T00:00:00.000Z$/);
    // Refusals said what is left: "reached" only when nothing is.
    for (const refusal of r.refusals) {
      const { cap_cents, spent_cents, reserved_cents } = refusal.error as Record<string, number>;
      const left = Math.round((cap_cents! - spent_cents! - reserved_cents!) * 10_000);
      expect(refusal.error.message).toBe(
        left > 0
          ? `The sub-account spend cap has ${left / 10_000} cents left for this period, less than the smallest possible cost of this request.`
          : 'The sub-account spend cap is reached for this period.',
      );
    }
  });

  it('clamp: a worst case that only partly fits is admitted with max_tokens lowered', async () => {
    const before = h.upstream.received.length;
    const r = await h.client('sa_clamp').chat.completions.create({
      model: CHEAP,
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 100,
    });
    expect(r.choices[0]?.message.content).toBeTruthy();
    const sent = h.upstream.received[before]!.body!.max_tokens as number;
    expect(sent).toBeGreaterThanOrEqual(16);
    expect(sent).toBeLessThan(100);
    const events = (await h.events()).filter((e) => e.subAccountId === 'sa_clamp');
    expect(events[0]!.billedCostMicros).toBeLessThanOrEqual(60);
    expect(events[0]!.reservationMicros).toBeLessThanOrEqual(60);
  });

  it('clamp: a completions prompt list is as many worst cases as prompts', async () => {
    const before = h.upstream.received.length;
    // One prompt's worst case (~20 prompt + 100 output tokens at 1 µ$) fits 200 µ$; three do not.
    await h.client('sa_prompts').completions.create({
      model: CHEAP,
      prompt: ['a', 'b', 'c'],
      max_tokens: 100,
    });
    const sent = h.upstream.received[before]!.body!.max_tokens as number;
    expect(sent).toBeGreaterThanOrEqual(16);
    expect(sent * 3).toBeLessThanOrEqual(200);
  });

  it('a stream whose upstream ignores the lowered bound is ended at the reservation', async () => {
    h.upstream.options.ignoreBound = true;
    h.upstream.options.outputTokens = 300;
    try {
      const stream = await h.client('sa_guard').chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 100,
        stream: true,
      });
      const chunks = [];
      for await (const c of stream) chunks.push(c);
      expect(chunks.length).toBeLessThan(100);
      expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
    } finally {
      h.upstream.options.ignoreBound = false;
      h.upstream.options.outputTokens = 10;
    }
    const events = (await h.events()).filter((e) => e.subAccountId === 'sa_guard');
    expect(events[0]!.billedCostMicros).toBeGreaterThan(0);
    expect(events[0]!.billedCostMicros).toBeLessThanOrEqual(60);
    expect(events[0]!.estimated).toBe(true);
  });

  it('a client that asked for usage gets the usage it is billed when its stream is cut', async () => {
    h.upstream.options.ignoreBound = true;
    h.upstream.options.outputTokens = 300;
    try {
      const { data: stream, response } = await h
        .client('sa_guard_u')
        .chat.completions.create({
          model: CHEAP,
          messages: [{ role: 'user', content: 'x' }],
          max_tokens: 100,
          stream: true,
          stream_options: { include_usage: true },
        })
        .withResponse();
      const chunks = [];
      for await (const c of stream) chunks.push(c);
      const usage = chunks.at(-1)!.usage;
      expect(chunks.at(-1)!.choices).toEqual([]);
      expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
      const e = await h.eventFor(response.headers.get('x-request-id'));
      expect(e.estimated).toBe(true);
      expect(usage).toEqual({
        prompt_tokens: e.inputTokens,
        completion_tokens: e.outputTokens,
        total_tokens: e.inputTokens + e.outputTokens,
      });
    } finally {
      h.upstream.options.ignoreBound = false;
      h.upstream.options.outputTokens = 10;
    }
  });

  it('a stream of several choices (n = 2) cut at the reservation ends every one of them', async () => {
    h.upstream.options.ignoreBound = true;
    h.upstream.options.outputTokens = 300;
    try {
      const stream = await h.client('sa_guard_n').chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 100,
        n: 2,
        stream: true,
      });
      const finished = new Map<number, string>();
      for await (const c of stream) {
        for (const choice of c.choices) {
          if (choice.finish_reason) finished.set(choice.index, choice.finish_reason);
        }
      }
      expect([...finished.entries()].sort()).toEqual([
        [0, 'length'],
        [1, 'length'],
      ]);
    } finally {
      h.upstream.options.ignoreBound = false;
      h.upstream.options.outputTokens = 10;
    }
  });

  it('completions and Responses streams cut at the reservation end as a max-tokens stop', async () => {
    h.upstream.options.ignoreBound = true;
    h.upstream.options.outputTokens = 300;
    try {
      const completion = await h.client('sa_guard_c').completions.create({
        model: CHEAP,
        prompt: 'x',
        max_tokens: 100,
        stream: true,
      });
      const chunks = [];
      for await (const c of completion) chunks.push(c);
      expect(chunks.length).toBeLessThan(100);
      expect(chunks.at(-1)).toMatchObject({
        object: 'text_completion',
        choices: [{ index: 0, text: '', finish_reason: 'length' }],
      });
      expect(chunks.at(-1)!.id).toBe(chunks[0]!.id);

      const response = await h.client('sa_guard_r').responses.create({
        model: CHEAP,
        input: 'x',
        max_output_tokens: 100,
        stream: true,
      });
      const events = [];
      for await (const e of response) events.push(e);
      expect(events.length).toBeLessThan(100);
      const end = events.at(-1)!;
      expect(end.type).toBe('response.incomplete');
      if (end.type !== 'response.incomplete') return;
      expect(end.response).toMatchObject({
        status: 'incomplete',
        incomplete_details: { reason: 'max_output_tokens' },
      });
      expect(end.response.id).toBe(
        events[0]!.type === 'response.created' ? events[0].response.id : '',
      );
      expect(end.sequence_number).toBe(events.at(-2)!.sequence_number + 1);
    } finally {
      h.upstream.options.ignoreBound = false;
      h.upstream.options.outputTokens = 10;
    }
    for (const sub of ['sa_guard_c', 'sa_guard_r']) {
      const [e] = (await h.events()).filter((x) => x.subAccountId === sub);
      expect(e!.billedCostMicros).toBeGreaterThan(0);
      expect(e!.billedCostMicros).toBeLessThanOrEqual(60);
    }
  });

  it('a Responses stream cut at the reservation: the SDK gets the text streamed as the output, and the usage billed', async () => {
    h.upstream.options.ignoreBound = true;
    h.upstream.options.outputTokens = 300;
    try {
      const stream = h.client('sa_guard_rs').responses.stream({
        model: CHEAP,
        input: 'x',
        max_output_tokens: 100,
      });
      let streamed = '';
      stream.on('response.output_text.delta', (e) => {
        streamed += e.delta;
      });
      const ended: unknown[] = [];
      stream.on('response.output_item.done', (e) => ended.push(e.item));
      stream.on('response.incomplete', (e) => ended.push(e.response));
      const final = await stream.finalResponse();
      expect(streamed).toMatch(/^w0 w1 /);
      expect(streamed.length).toBeLessThan(300 * 3);
      const item = {
        id: 'msg_fake',
        type: 'message',
        status: 'incomplete',
        role: 'assistant',
        content: [{ type: 'output_text', annotations: [], logprobs: [], text: streamed }],
      };
      expect(final).toMatchObject({
        status: 'incomplete',
        incomplete_details: { reason: 'max_output_tokens' },
        output: [item],
        output_text: streamed,
      });
      // The open item closed before the response, as OpenAI does at max_output_tokens.
      expect(ended).toEqual([item, expect.objectContaining({ output: [item] })]);
      const [e] = (await h.events()).filter((x) => x.subAccountId === 'sa_guard_rs');
      expect(e!.estimated).toBe(true);
      expect(e!.outputTokens).toBeGreaterThan(1);
      expect(final.usage).toEqual({
        input_tokens: e!.inputTokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: e!.outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: e!.inputTokens + e!.outputTokens,
      });
    } finally {
      h.upstream.options.ignoreBound = false;
      h.upstream.options.outputTokens = 10;
    }
  });

  it('a Responses function call cut at the reservation: response.incomplete carries its arguments as streamed', async () => {
    h.upstream.options.ignoreBound = true;
    h.upstream.options.outputTokens = 300;
    h.upstream.options.functionCall = true;
    try {
      const stream = await h.client('sa_guard_rf').responses.create({
        model: CHEAP,
        input: 'x',
        max_output_tokens: 100,
        stream: true,
      });
      const events = [];
      for await (const e of stream) events.push(e);
      let args = '';
      for (const e of events)
        if (e.type === 'response.function_call_arguments.delta') args += e.delta;
      expect(args.length).toBeGreaterThan(0);
      const end = events.at(-1)!;
      expect(end.type).toBe('response.incomplete');
      if (end.type !== 'response.incomplete') return;
      expect(end.response.output).toEqual([
        {
          type: 'function_call',
          id: 'fc_fake',
          call_id: 'call_fake',
          name: 'lookup',
          arguments: args,
          status: 'incomplete',
        },
      ]);
      expect(events.at(-2)).toMatchObject({
        type: 'response.output_item.done',
        item: end.response.output[0],
      });
      const [e] = (await h.events()).filter((x) => x.subAccountId === 'sa_guard_rf');
      expect(end.response.usage).toMatchObject({
        input_tokens: e!.inputTokens,
        output_tokens: e!.outputTokens,
      });
    } finally {
      h.upstream.options.ignoreBound = false;
      h.upstream.options.outputTokens = 10;
      h.upstream.options.functionCall = undefined;
    }
  });

  it('RPM: the third request in a minute answers 429 with Retry-After and x-ratelimit-* headers', async () => {
    await clearOfMinuteEdge();
    const c = h.client('sa_rpm');
    const req = {
      model: CHEAP,
      messages: [{ role: 'user' as const, content: 'x' }],
      max_tokens: 1,
    };
    const first = await c.chat.completions.create(req).withResponse();
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect(first.response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+m)?\d+s$/);
    await c.chat.completions.create(req);
    const before = h.upstream.hits();
    const err = await c.chat.completions.create(req).catch((e) => e);
    expect(err.status).toBe(429);
    expect(err.code).toBe('rpm');
    expect(err.type).toBe('rate_limit_exceeded');
    expect(Number(err.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(err.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(h.upstream.hits()).toBe(before);
  });

  it('TPM: a request larger than the whole limit says so, without Retry-After, and the SDK does not retry it', async () => {
    await clearOfMinuteEdge();
    // The SDK's default: up to 2 retries of a 429 — unless told not to.
    const sdk = new OpenAI({
      apiKey: h.keys.sa_tpm_small!,
      baseURL: `${h.urls[0]}/v1`,
      maxRetries: 2,
    });
    const before = h.upstream.hits();
    const err = await sdk.chat.completions
      .create({ model: CHEAP, messages: [{ role: 'user', content: 'hi' }], max_tokens: 500 })
      .catch((e) => e);
    expect(err.status).toBe(429);
    expect(err.code).toBe('tpm');
    expect(err.message).toContain('Request too large for the tokens-per-minute limit');
    expect(err.message).toContain('the limit is 100 per minute');
    expect(err.headers.get('retry-after')).toBeNull();
    expect(err.headers.get('x-should-retry')).toBe('false');
    expect(h.upstream.hits()).toBe(before);
    const refused = (await h.events()).filter((e) => e.subAccountId === 'sa_tpm_small');
    expect(refused).toHaveLength(1); // not retried
    expect(refused[0]).toMatchObject({ status: 'blocked', errorClass: 'tpm', httpStatus: 429 });
    // One that fits the limit is served, and counts against it as before.
    const ok = await sdk.chat.completions.create({
      model: CHEAP,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 20,
    });
    expect(ok.choices[0]).toBeDefined();
  });

  it('a 402 carries the x-ratelimit-* headers too, the refused request not counted', async () => {
    await clearOfMinuteEdge();
    const err = await h
      .client('sa_broke')
      .chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user' as const, content: 'x' }],
        max_tokens: 10,
      })
      .catch((e) => e);
    expect(err.status).toBe(402);
    // Nothing spent: refused because the 1 µ$ left cannot pay for the smallest answer — said so,
    // not "reached".
    expect(err.error.message).toBe(
      'The sub-account spend cap has 0.0001 cents left for this period, less than the smallest possible cost of this request.',
    );
    expect(err.headers.get('x-request-id')).toMatch(/^req_/);
    expect(err.headers.get('x-ratelimit-limit-requests')).toBe('50');
    expect(err.headers.get('x-ratelimit-remaining-requests')).toBe('50');
    expect(err.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+m)?\d+s$/);
    expect(err.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    expect(err.headers.get('x-ratelimit-remaining-tokens')).toBe('100000');
  });

  it('answers refused before admission (403, 400) and the model list carry the x-ratelimit-* headers, counting nothing', async () => {
    await clearOfMinuteEdge();
    const c = h.client('sa_picky');
    const before = h.upstream.hits();
    const notAllowed = await c.chat.completions
      .create({ model: 'openai/other-model', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    expect(notAllowed.status).toBe(403);
    const models = await fetch(`${h.urls[0]}/v1/models`, {
      headers: { authorization: `Bearer ${h.keys.sa_picky}` },
    });
    expect(models.status).toBe(200);
    const badBody = await c.chat.completions
      .create({ model: CHEAP, messages: [{ role: 'user', content: 'x' }], max_tokens: -5 })
      .catch((e) => e);
    expect(badBody.status).toBe(400);
    // The model list too (SPEC §6: on every answer).
    for (const err of [notAllowed, badBody, models]) {
      expect(err.headers.get('x-request-id')).toMatch(/^req_/);
      expect(err.headers.get('x-ratelimit-limit-requests')).toBe('7');
      expect(err.headers.get('x-ratelimit-remaining-requests')).toBe('7');
      expect(err.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+m)?\d+s$/);
      expect(err.headers.get('x-ratelimit-limit-tokens')).toBeNull();
    }
    // Counted nothing: the first served request still sees 6 left after it.
    const ok = await c.chat.completions
      .create({ model: CHEAP, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 })
      .withResponse();
    expect(ok.response.headers.get('x-ratelimit-remaining-requests')).toBe('6');
    expect(h.upstream.hits()).toBe(before + 1);
  });

  it('tag budget: concurrent tagged requests across sub-accounts stay within the tag cap', async () => {
    const r = await runCapBurst(h, { sub: 'sa_tag', requests: 30, tag: 'feat' });
    expect(r.refused).toBeGreaterThan(0);
    expect(r.upstreamHits).toBe(r.ok);
    const [balance] = await h.bus.limiter.spent(WS, [
      { scope: 'tag:feat', capMicros: 300, periodKey: r.periodKey },
    ]);
    expect(balance!.spentMicros).toBeLessThanOrEqual(300);
    expect(r.refusals[0]!.error).toMatchObject({ code: 'tag_budget_reached', scope: 'tag:feat' });
    // The usage record names the budget that refused (budget events attribute `exhausted` by it).
    const blocked = (await h.events()).filter(
      (e) => e.subAccountId === 'sa_tag' && e.status === 'blocked',
    );
    expect(blocked.length).toBe(r.refused);
    expect(blocked.every((e) => e.blockedScope === 'tag:feat')).toBe(true);
    const served = (await h.events()).filter(
      (e) => e.subAccountId === 'sa_tag' && e.status === 'ok',
    );
    expect(served.every((e) => (e.blockedScope ?? null) === null)).toBe(true);
  });
});
