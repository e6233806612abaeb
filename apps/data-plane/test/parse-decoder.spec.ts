import { describe, expect, it } from 'vitest';
import { isError, parseRequest } from '../src/http/parse.ts';
import { ENDPOINTS } from '../src/providers/registry.ts';

// parseRequest shares one fatal UTF-8 decoder between requests: a refused body must not leave
// state behind that changes how the next body is read.
describe('request body decoding', () => {
  const chat = ENDPOINTS.get('/v1/chat/completions')!;
  const body = (text: string) =>
    Buffer.from(
      JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: text }] }),
    );

  it('refuses invalid UTF-8, then reads the next valid body exactly', () => {
    const bad = Buffer.concat([
      Buffer.from('{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"'),
      Buffer.from([0xc3, 0x28, 0xe2, 0x82]),
    ]);
    const refused = parseRequest(bad, chat);
    expect(isError(refused) && refused.status).toBe(400);
    // A truncated multi-byte sequence at the end of the previous body must not be completed by
    // the start of this one.
    const ok = parseRequest(body('héllo ✓'), chat);
    expect(isError(ok)).toBe(false);
    if (!isError(ok)) {
      expect(ok.model).toBe('openai/gpt-4o-mini');
      expect((ok.body.messages as { content: string }[])[0]!.content).toBe('héllo ✓');
    }
    const truncated = Buffer.from([0xe2, 0x82]);
    expect(isError(parseRequest(truncated, chat))).toBe(true);
    expect(isError(parseRequest(Buffer.from([0xac]), chat))).toBe(true);
  });
});
