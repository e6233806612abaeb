import type { SubAccountPolicy } from './entities.ts';

/**
 * Cost-attribution tags of a request (SPEC §6: "usage is attributed to every tag on the request"):
 * the header's tags and the body's `metadata.tags` together (header first, duplicates once), else
 * the sub-account's default tag. A client whose SDK sends a header tag on every call (default
 * headers) and a per-call body tag is charged to both — and to both tags' budgets: taking one
 * source only would let a header tag hide a body tag from its budget. Tags decide which budgets a
 * request is charged to, so an invalid tag is refused (400) rather than dropped: a silently dropped
 * tag would let a request escape its tag budget.
 */

/** At most this many distinct tags per request (each is one more budget counter to reserve on). */
export const MAX_TAGS = 10;
/** Longest tag, in characters. */
export const MAX_TAG_LENGTH = 64;
const TAG_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/** Where the refused tags came from; the HTTP layer reports it as the error's `param`. */
export type TagSource = 'header' | 'body';

/** A request's tags cannot be accepted; the HTTP layer answers 400 invalid_request_error. */
export class TagError extends Error {
  override readonly name = 'TagError';
  constructor(
    /** `invalid_tag`: bad characters, too long, or not a string. `too_many_tags`: > MAX_TAGS. */
    readonly code: 'invalid_tag' | 'too_many_tags',
    /** Header (`x-tollgate-tag` / `x-aig-tag`) or body (`metadata.tags`). */
    readonly source: TagSource,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Trim, drop empties, dedupe (first occurrence wins), validate. The count is checked as tags are
 * collected, so a body carrying 100k tags is refused after MAX_TAGS + 1 of them instead of costing
 * a quadratic dedupe first.
 */
function normalise(raw: readonly unknown[], source: TagSource, tags: string[] = []): string[] {
  for (const value of raw) {
    if (typeof value !== 'string') {
      throw new TagError('invalid_tag', source, `tags must be strings, got ${typeof value}`);
    }
    const tag = value.trim();
    if (tag === '' || tags.includes(tag)) continue;
    if (tag.length > MAX_TAG_LENGTH || !TAG_PATTERN.test(tag)) {
      const shown = JSON.stringify(tag.slice(0, MAX_TAG_LENGTH + 1));
      throw new TagError(
        'invalid_tag',
        source,
        `tag ${shown} must be 1-${MAX_TAG_LENGTH} characters of A-Z a-z 0-9 _ . : -`,
      );
    }
    if (tags.length === MAX_TAGS) {
      throw new TagError('too_many_tags', source, `at most ${MAX_TAGS} tags per request`);
    }
    tags.push(tag);
  }
  return tags;
}

/**
 * The tags the request itself carries (header's, then body's), validated; empty when it carries
 * none. Header values may each hold a comma-separated list (a client may send the header once or
 * several times). MAX_TAGS counts the union. Needs no policy, so the data plane can refuse bad
 * tags before authenticating.
 */
export function parseRequestTags(
  headerTags: readonly string[],
  bodyTags: readonly unknown[],
): string[] {
  const fromHeader = normalise(
    headerTags.flatMap((value) => value.split(',')),
    'header',
  );
  return normalise(bodyTags, 'body', fromHeader);
}

/** The request's own tags, or the sub-account's default tag when it carries none. */
export function withDefaultTag(
  requestTags: readonly string[],
  subAccount: Pick<SubAccountPolicy, 'defaultTag'>,
): string[] {
  if (requestTags.length > 0) return [...requestTags];
  return subAccount.defaultTag === null ? [] : [subAccount.defaultTag];
}

/** The tags usage is attributed to: header and body, else the default tag. Throws TagError. */
export function resolveTags(
  subAccount: Pick<SubAccountPolicy, 'defaultTag'>,
  headerTags: readonly string[],
  bodyTags: readonly unknown[],
): string[] {
  return withDefaultTag(parseRequestTags(headerTags, bodyTags), subAccount);
}
