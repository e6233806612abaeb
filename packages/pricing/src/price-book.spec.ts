import { describe, expect, it } from 'vitest';
import { CATALOGUE } from './catalogue.ts';
import type { ModelPrice } from './model-price.ts';
import { createPriceBook, type PriceOverride } from './price-book.ts';

const GPT_4O = CATALOGUE.find((entry) => entry.model === 'openai/gpt-4o')!;

describe('createPriceBook', () => {
  it('serves the catalogue when there are no overrides', () => {
    const book = createPriceBook();
    expect(book.get('openai/gpt-4o')).toEqual(GPT_4O);
    expect(book.list()).toHaveLength(CATALOGUE.length);
    expect(book.get('openai/no-such-model')).toBeUndefined();
    expect(book.get('gpt-4o')).toBeUndefined(); // names are exact provider/model
  });

  it('lists prices sorted by model', () => {
    const models = createPriceBook([{ model: 'aaa/first', inputPerMTok: 1, outputPerMTok: 1 }])
      .list()
      .map((entry) => entry.model);
    expect(models[0]).toBe('aaa/first');
    expect(models).toEqual([...models].sort());
  });

  it('lets an override win over the catalogue, keeping catalogue values it omits', () => {
    const book = createPriceBook([
      { model: 'openai/gpt-4o', inputPerMTok: 2_000_000, outputPerMTok: 8_000_000 },
    ]);
    expect(book.get('openai/gpt-4o')).toEqual({
      ...GPT_4O,
      inputPerMTok: 2_000_000,
      outputPerMTok: 8_000_000,
      cachedInputPerMTok: 1_250_000, // from the catalogue
      cacheWritePerMTok: 2_500_000, // from the catalogue
      source: 'workspace override',
      asOf: '',
    });
    expect(book.list()).toHaveLength(CATALOGUE.length);
  });

  it('applies every field an override sets', () => {
    const override: PriceOverride = {
      model: 'anthropic/claude-haiku-4.5',
      inputPerMTok: 900_000,
      outputPerMTok: 4_500_000,
      cachedInputPerMTok: 90_000,
      cacheWritePerMTok: 1_125_000,
      contextWindow: 100_000,
      maxOutputTokens: 8_000,
      asOf: '2026-11-20',
    };
    expect(createPriceBook([override]).get('anthropic/claude-haiku-4.5')).toEqual({
      model: 'anthropic/claude-haiku-4.5',
      provider: 'anthropic',
      inputPerMTok: 900_000,
      outputPerMTok: 4_500_000,
      cachedInputPerMTok: 90_000,
      cacheWritePerMTok: 1_125_000,
      contextWindow: 100_000,
      maxOutputTokens: 8_000,
      kind: 'chat',
      source: 'workspace override',
      asOf: '2026-11-20',
    });
  });

  it('adds a model the catalogue lacks, with defaults', () => {
    const book = createPriceBook([
      { model: 'ollama/llama3.3:70b', inputPerMTok: 0, outputPerMTok: 100 },
    ]);
    expect(book.get('ollama/llama3.3:70b')).toEqual({
      model: 'ollama/llama3.3:70b',
      provider: 'ollama',
      inputPerMTok: 0,
      outputPerMTok: 100,
      cachedInputPerMTok: 0, // no discount: same as input
      cacheWritePerMTok: 0, // no surcharge: same as input
      contextWindow: 128_000,
      maxOutputTokens: 16_384,
      kind: 'chat',
      source: 'workspace override',
      asOf: '',
    });
    expect(book.list()).toHaveLength(CATALOGUE.length + 1);
  });

  it('takes the provider from before the first slash', () => {
    const book = createPriceBook([
      { model: 'together/meta-llama/Llama-4-Scout', inputPerMTok: 1, outputPerMTok: 2 },
    ]);
    expect(book.get('together/meta-llama/Llama-4-Scout')?.provider).toBe('together');
  });

  it('lets the last override of a model win whole', () => {
    const book = createPriceBook([
      { model: 'openai/gpt-4o', inputPerMTok: 1, outputPerMTok: 2, cachedInputPerMTok: 3 },
      { model: 'openai/gpt-4o', inputPerMTok: 4, outputPerMTok: 5 },
    ]);
    const price = book.get('openai/gpt-4o')!;
    expect([price.inputPerMTok, price.outputPerMTok]).toEqual([4, 5]);
    // the omitted cached price comes from the catalogue, not from the earlier override
    expect(price.cachedInputPerMTok).toBe(1_250_000);
  });

  it('uses the catalogue it is given', () => {
    const own: ModelPrice = { ...GPT_4O, model: 'acme/one', provider: 'acme' };
    const book = createPriceBook([], [own]);
    expect(book.list()).toEqual([own]);
    expect(book.get('openai/gpt-4o')).toBeUndefined();
  });

  it('hands out prices nobody can alter', () => {
    const book = createPriceBook([{ model: 'openai/gpt-4o', inputPerMTok: 1, outputPerMTok: 1 }]);
    const price = book.get('openai/gpt-4o')!;
    expect(Object.isFrozen(price)).toBe(true);
    expect(Object.isFrozen(book.get('openai/o3'))).toBe(true);
    book.list().length = 0; // a caller's copy
    expect(book.list()).toHaveLength(CATALOGUE.length);
    expect(GPT_4O.inputPerMTok).toBe(2_500_000); // the catalogue itself is untouched
  });

  it.each<[string, PriceOverride]>([
    ['a model without provider', { model: 'gpt-4o', inputPerMTok: 1, outputPerMTok: 1 }],
    ['an empty provider', { model: '/gpt-4o', inputPerMTok: 1, outputPerMTok: 1 }],
    ['an empty model part', { model: 'openai/', inputPerMTok: 1, outputPerMTok: 1 }],
    ['a negative price', { model: 'a/b', inputPerMTok: -1, outputPerMTok: 1 }],
    ['a fractional price', { model: 'a/b', inputPerMTok: 1, outputPerMTok: 2.5 }],
    [
      'a NaN cached price',
      { model: 'a/b', inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: Number.NaN },
    ],
    [
      'a negative cache-write price',
      { model: 'a/b', inputPerMTok: 1, outputPerMTok: 1, cacheWritePerMTok: -3 },
    ],
    [
      'a fractional window',
      { model: 'a/b', inputPerMTok: 1, outputPerMTok: 1, contextWindow: 1.5 },
    ],
    [
      'a negative max output',
      { model: 'a/b', inputPerMTok: 1, outputPerMTok: 1, maxOutputTokens: -1 },
    ],
    ['a malformed date', { model: 'a/b', inputPerMTok: 1, outputPerMTok: 1, asOf: '20/11/2026' }],
  ])('refuses %s', (_case, override) => {
    expect(() => createPriceBook([override])).toThrow(RangeError);
  });
});
