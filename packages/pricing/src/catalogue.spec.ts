import { describe, expect, it } from 'vitest';
import { CATALOGUE } from './catalogue.ts';

const REQUIRED = [
  'openai/gpt-5.4',
  'openai/gpt-5.4-mini',
  'openai/gpt-5.4-nano',
  'openai/gpt-5',
  'openai/gpt-5-mini',
  'openai/gpt-4.1',
  'openai/gpt-4.1-mini',
  'openai/gpt-4o',
  'openai/gpt-4o-mini',
  'openai/o3',
  'openai/o4-mini',
  'openai/text-embedding-3-small',
  'openai/text-embedding-3-large',
  'openai/gpt-3.5-turbo-instruct',
  'anthropic/claude-opus-4.5',
  'anthropic/claude-sonnet-4.6',
  'anthropic/claude-sonnet-4.5',
  'anthropic/claude-haiku-4.5',
  'google/gemini-2.5-pro',
  'google/gemini-2.5-flash',
  'meta/llama-4-maverick',
  'meta/llama-4-scout',
  'mistral/mistral-large',
  'mistral/mistral-small',
  'deepseek/deepseek-chat',
  'deepseek/deepseek-reasoner',
  'moonshot/kimi-k2',
];

const isPositiveInteger = (n: number) => Number.isSafeInteger(n) && n > 0;

describe('CATALOGUE', () => {
  it('holds every required model exactly once', () => {
    const models = CATALOGUE.map((entry) => entry.model);
    expect(new Set(models).size).toBe(models.length);
    for (const model of REQUIRED) expect(models).toContain(model);
  });

  it.each(CATALOGUE.map((entry) => [entry.model, entry] as const))('%s is sane', (_, entry) => {
    expect(entry.model.startsWith(`${entry.provider}/`)).toBe(true);
    expect(entry.model.length).toBeGreaterThan(entry.provider.length + 1);
    expect(isPositiveInteger(entry.inputPerMTok)).toBe(true);
    expect(isPositiveInteger(entry.cachedInputPerMTok)).toBe(true);
    expect(isPositiveInteger(entry.cacheWritePerMTok)).toBe(true);
    // a cache read is never dearer than input, a cache write never cheaper
    expect(entry.cachedInputPerMTok).toBeLessThanOrEqual(entry.inputPerMTok);
    expect(entry.cacheWritePerMTok).toBeGreaterThanOrEqual(entry.inputPerMTok);
    expect(isPositiveInteger(entry.contextWindow)).toBe(true);
    expect(entry.maxOutputTokens).toBeLessThanOrEqual(entry.contextWindow);
    if (entry.kind === 'embedding') {
      // embeddings produce no output tokens
      expect([entry.outputPerMTok, entry.maxOutputTokens]).toEqual([0, 0]);
    } else {
      expect(isPositiveInteger(entry.outputPerMTok)).toBe(true);
      expect(isPositiveInteger(entry.maxOutputTokens)).toBe(true);
    }
    expect(entry.source.length).toBeGreaterThan(0);
    expect(entry.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // a real calendar date, not just the right shape
    expect(new Date(`${entry.asOf}T00:00:00Z`).toISOString().slice(0, 10)).toBe(entry.asOf);
  });

  it('prices Anthropic cache reads at 10% and writes at 125% of input', () => {
    const anthropic = CATALOGUE.filter((entry) => entry.provider === 'anthropic');
    expect(anthropic.length).toBeGreaterThanOrEqual(4);
    for (const entry of anthropic) {
      expect(entry.cachedInputPerMTok * 10).toBe(entry.inputPerMTok);
      expect(entry.cacheWritePerMTok * 4).toBe(entry.inputPerMTok * 5);
    }
  });

  it('keeps known list prices (spot checks)', () => {
    const price = (model: string) => CATALOGUE.find((entry) => entry.model === model);
    // $2.50 / $15 per MTok, $0.25 cached
    expect(price('openai/gpt-5.4')).toMatchObject({
      inputPerMTok: 2_500_000,
      outputPerMTok: 15_000_000,
      cachedInputPerMTok: 250_000,
    });
    // $3 / $15 per MTok, $0.30 read, $3.75 write
    expect(price('anthropic/claude-sonnet-4.6')).toMatchObject({
      inputPerMTok: 3_000_000,
      outputPerMTok: 15_000_000,
      cachedInputPerMTok: 300_000,
      cacheWritePerMTok: 3_750_000,
    });
    expect(price('openai/gpt-3.5-turbo-instruct')?.kind).toBe('completion');
    expect(price('openai/text-embedding-3-small')?.inputPerMTok).toBe(20_000); // $0.02
  });
});
