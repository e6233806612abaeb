import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepTail, usageFromTail } from '../src/forward/usage-tail.ts';
import { CHEAP, type Harness, startHarness, subAccount } from './harness.ts';

describe('an answer too large to read whole', () => {
  let h: Harness;
  beforeAll(async () => {
    // 4 KiB here stands for the default 64 MiB (2048 embeddings of a large model pass 100 MB).
    h = await startHarness({ subs: [subAccount('sa_big')], maxJsonAnswerBytes: 4096 });
  });
  afterAll(async () => {
    await h.close();
  });

  it('is relayed whole as it comes, and billed from the usage at its end', async () => {
    h.upstream.options.outputTokens = 2_000;
    try {
      const res = await fetch(`${h.urls[0]}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.sa_big}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: CHEAP, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.length).toBeGreaterThan(4096);
      const body = JSON.parse(text) as { choices: { message: { content: string } }[] };
      expect(body.choices[0]!.message.content.split(' ').filter(Boolean)).toHaveLength(2_000);
      const e = await h.eventFor(res.headers.get('x-request-id'));
      expect(e).toMatchObject({
        status: 'ok',
        estimated: false,
        inputTokens: 12,
        outputTokens: 2_000,
      });
    } finally {
      h.upstream.options.outputTokens = undefined;
    }
  });

  it('finds the last usage object in the end of an answer, braces in strings skipped', () => {
    const tail = (s: string) => keepTail(Buffer.alloc(0), Buffer.from(s));
    expect(usageFromTail(tail('{"a":"}{","usage":{"prompt_tokens":3,"x":{"y":"}"}}}'))).toEqual({
      prompt_tokens: 3,
      x: { y: '}' },
    });
    expect(usageFromTail(tail('{"content":"no usage here"}'))).toBeNull();
    expect(usageFromTail(tail('{"usage":{"prompt_tokens":'))).toBeNull();
    // Only the last 16 KiB are kept.
    const long = keepTail(Buffer.from('x'.repeat(20_000)), Buffer.from('{"usage":{"a":1}}'));
    expect(long.length).toBe(16 * 1024);
    expect(usageFromTail(long)).toEqual({ a: 1 });
  });
});
