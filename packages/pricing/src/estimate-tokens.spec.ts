import { describe, expect, it } from 'vitest';
import { estimateInputTokens, estimateTokensFromText } from './estimate-tokens.ts';

describe('estimateTokensFromText', () => {
  it.each([
    ['', 0],
    ['a', 1], // 1 byte
    ['abcd', 1], // 4 bytes
    ['abcde', 2], // 5 bytes
    ['é', 1], // 2 bytes
    ['日本語', 3], // 3 x 3 bytes = 9
    ['😀', 1], // one code point above U+FFFF: 4 bytes
    ['😀😀a', 3], // 4 + 4 + 1 = 9
    ['\ud800', 1], // lone surrogate: 3 bytes (encoded as U+FFFD)
  ])('estimateTokensFromText(%j) = %d', (text, tokens) => {
    expect(estimateTokensFromText(text)).toBe(tokens);
  });

  it('counts UTF-8 bytes like TextEncoder (property)', () => {
    const encoder = new TextEncoder();
    const alphabet = ['a', ' ', 'é', 'ß', '€', '日', '😀', '\ud83d', '\ude00', '\n'];
    let seed = 7;
    for (let i = 0; i < 2_000; i++) {
      let text = '';
      const length = i % 40;
      for (let j = 0; j < length; j++) {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        text += alphabet[seed % alphabet.length];
      }
      expect(estimateTokensFromText(text)).toBe(Math.ceil(encoder.encode(text).length / 4));
    }
  });
});

describe('estimateInputTokens', () => {
  it('estimates chat messages with per-message overhead', () => {
    const body = {
      model: 'openai/gpt-5.4-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello there!' },
      ],
    };
    // 'system' 6B -> 2, 'You are terse.' 14B -> 4, 'user' 4B -> 1, 'Hello there!' 12B -> 3
    // = 10, + 2 messages * 4 = 18
    expect(estimateInputTokens(body)).toBe(18);
  });

  it('charges a fixed 1000 per image part and ignores its payload', () => {
    const body = {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            {
              type: 'image_url',
              image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` },
            },
          ],
        },
      ],
    };
    // 'user' 1 + 'text' 1 + 'What is this?' 13B -> 4 + image 1000 + overhead 4 = 1010
    expect(estimateInputTokens(body)).toBe(1010);
  });

  it('counts the text of tool calls and tool results', () => {
    const body = {
      messages: [
        {
          role: 'assistant',
          tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      ],
    };
    // 'assistant' 9B -> 3, 'c1' 1, 'f' 1, '{"city":"Paris"}' 16B -> 4,
    // 'tool' 1, 'c1' 1, 'sunny' 5B -> 2; = 13, + 2 * 4 = 21
    expect(estimateInputTokens(body)).toBe(21);
  });

  it('estimates tool definitions from their JSON serialisation', () => {
    const body = {
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
    };
    // 'user' 1 + 'hi' 1 + overhead 4 + tools JSON 61B -> 16 = 22
    expect(estimateInputTokens(body)).toBe(22);
  });

  it('estimates completion prompts: string, strings and token ids', () => {
    expect(estimateInputTokens({ prompt: 'Say hi' })).toBe(2); // 6B
    expect(estimateInputTokens({ prompt: ['ab', 'cdefg'] })).toBe(3); // 1 + 2
    expect(estimateInputTokens({ prompt: [101, 102, 103] })).toBe(3); // one per token id
    // 'Say hi' 2 + suffix 'end' 1
    expect(estimateInputTokens({ prompt: 'Say hi', suffix: 'end' })).toBe(3);
  });

  it('estimates embeddings input: strings and token arrays, no message overhead', () => {
    expect(estimateInputTokens({ input: 'hello' })).toBe(2); // 5B
    expect(estimateInputTokens({ input: ['hello', 'world!'] })).toBe(4); // 2 + 2
    expect(estimateInputTokens({ input: [[1, 2], [3]] })).toBe(3);
  });

  it('estimates responses input items and instructions', () => {
    const body = {
      instructions: 'Be brief.',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'Hi' },
            { type: 'input_image', image_url: 'https://example.com/cat.png' },
          ],
        },
      ],
      text: { format: { type: 'text' } },
    };
    // 'Be brief.' 9B -> 3; 'user' 1, 'input_text' 10B -> 3, 'Hi' 1, image 1000, overhead 4;
    // text JSON '{"format":{"type":"text"}}' 26B -> 7. = 3 + 1009 + 7 = 1019
    expect(estimateInputTokens(body)).toBe(1019);
  });

  it('is never less than 1', () => {
    expect(estimateInputTokens(undefined)).toBe(1);
    expect(estimateInputTokens(null)).toBe(1);
    expect(estimateInputTokens('a string body')).toBe(1);
    expect(estimateInputTokens([])).toBe(1);
    expect(estimateInputTokens({})).toBe(1);
    expect(estimateInputTokens({ prompt: '' })).toBe(1);
  });

  it('never estimates below the text estimate of the content', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(50);
    const body = { messages: [{ role: 'user', content: text }] };
    expect(estimateInputTokens(body)).toBeGreaterThan(estimateTokensFromText(text));
  });

  it('survives deeply nested content without overflowing the stack', () => {
    let nested: unknown = 'leaf';
    for (let i = 0; i < 200_000; i++) nested = [nested];
    // 'user' 1 + 'leaf' 1 + overhead 4
    expect(estimateInputTokens({ messages: [{ role: 'user', content: nested }] })).toBe(6);
  });
});
