import { describe, expect, it } from 'vitest';
import { MAX_TAGS, parseRequestTags, resolveTags, TagError } from '../src/index.ts';

const withDefault = { defaultTag: 'default-tag' };
const noDefault = { defaultTag: null };

function tagError(fn: () => unknown): TagError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TagError) return error;
    throw error;
  }
  throw new Error('expected a TagError');
}

describe('request tags', () => {
  it("takes the header's tags and the body's together, header first, each once", () => {
    expect(resolveTags(withDefault, ['a, b', 'c,a'], [])).toEqual(['a', 'b', 'c']);
    expect(resolveTags(withDefault, ['a, b', 'c,a'], ['body', 'b'])).toEqual([
      'a',
      'b',
      'c',
      'body',
    ]);
  });

  it('falls back to the body, then to the default tag', () => {
    expect(resolveTags(withDefault, [], ['x', 'y'])).toEqual(['x', 'y']);
    expect(resolveTags(withDefault, [' , '], ['x'])).toEqual(['x']);
    expect(resolveTags(withDefault, [], [])).toEqual(['default-tag']);
    expect(resolveTags(noDefault, [], [])).toEqual([]);
  });

  it('accepts the tag alphabet and up to 64 characters', () => {
    expect(parseRequestTags(['team:search_v2.1-beta'], [])).toEqual(['team:search_v2.1-beta']);
    expect(parseRequestTags(['t'.repeat(64)], [])).toHaveLength(1);
  });

  it('refuses bad characters, over-long tags and non-strings', () => {
    const space = tagError(() => parseRequestTags(['has space'], []));
    expect(space.code).toBe('invalid_tag');
    expect(space.source).toBe('header');
    expect(tagError(() => parseRequestTags([], ['semi;colon'])).source).toBe('body');
    expect(tagError(() => parseRequestTags(['t'.repeat(65)], [])).code).toBe('invalid_tag');
    expect(tagError(() => parseRequestTags([], [42])).code).toBe('invalid_tag');
    expect(tagError(() => parseRequestTags(['é'], [])).code).toBe('invalid_tag');
  });

  it('allows MAX_TAGS distinct tags, and refuses one more', () => {
    const tags = Array.from({ length: MAX_TAGS }, (_, i) => `t${i}`);
    expect(parseRequestTags([], [...tags, ...tags])).toEqual(tags);
    const error = tagError(() => parseRequestTags([], [...tags, 'extra']));
    expect(error.code).toBe('too_many_tags');
  });

  it('counts MAX_TAGS over header and body together', () => {
    const half = MAX_TAGS / 2;
    const head = Array.from({ length: half }, (_, i) => `h${i}`);
    const body = Array.from({ length: half }, (_, i) => `b${i}`);
    expect(parseRequestTags([head.join(',')], [...body, 'h0'])).toEqual([...head, ...body]);
    const error = tagError(() => parseRequestTags([head.join(',')], [...body, 'one-more']));
    expect(error.code).toBe('too_many_tags');
    expect(error.source).toBe('body');
  });

  it('refuses a huge tag list quickly', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => `t${i}`);
    expect(tagError(() => parseRequestTags([], many)).code).toBe('too_many_tags');
  });
});
