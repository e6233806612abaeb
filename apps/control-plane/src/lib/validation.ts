import { centsToMicros, microsToCents } from '@tollgate/pricing';
import { z } from 'zod';
import { ValidationError } from './errors.ts';

/** Deepest nesting of objects and arrays accepted in any input (metadata included). */
export const MAX_INPUT_DEPTH = 32;

/** The largest `*_cents` amount: its micro-dollars are Number.MAX_SAFE_INTEGER (900719925474.0991). */
export const MAX_CENTS = microsToCents(Number.MAX_SAFE_INTEGER);

const UNICODE_TEXT = 'valid Unicode text (no unpaired surrogates such as \\ud800)';
/** Half of a UTF-16 surrogate pair without its other half: a `\ud800` escape, no character. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Marks, at its end, a top-level key the REST façade passes on as the client sent it instead of
 * camelCasing it (see camelizeKeys in rest/http.ts): a key no schema has, refused as unknown.
 */
export const AS_SENT = '\u0000';

/**
 * Refuses what no field may hold, before any schema runs: nesting deeper than MAX_INPUT_DEPTH
 * (bounded recursion everywhere after), NUL characters (PostgreSQL text and jsonb cannot store
 * them) and unpaired surrogates (not Unicode text: PostgreSQL would store U+FFFD instead). Names
 * the offending field. The AS_SENT mark exempts a key from the NUL check only where it can be, at
 * the top level: what it marks is refused there as an unknown field, whatever NULs it holds.
 */
function checkShape(value: unknown, path: string[], depth: number): void {
  const where = () => path.join('.') || null;
  const refuse = (predicate: string, field = where()) => {
    throw new ValidationError(`${field ?? 'the input'} ${predicate}`, field);
  };
  if (typeof value === 'string') {
    if (value.includes('\u0000')) refuse('must not contain NUL characters');
    if (LONE_SURROGATE.test(value)) refuse(`must be ${UNICODE_TEXT}`);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  // Named by its top-level field: the path down to the limit says nothing more.
  if (depth >= MAX_INPUT_DEPTH)
    refuse(`is nested deeper than ${MAX_INPUT_DEPTH} levels`, path[0] ?? null);
  for (const [k, v] of Object.entries(value)) {
    const marked = depth === 0 && k.endsWith(AS_SENT);
    if (!marked && k.includes('\u0000')) refuse('must not contain NUL characters in its keys');
    if (LONE_SURROGATE.test(k)) refuse(`must have keys that are ${UNICODE_TEXT}`);
    checkShape(v, [...path, k], depth + 1);
  }
}

/** What zod's types are called in a message. */
const TYPE_WORDS: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  record: 'an object',
};

/** zod's own bound of `.int()` (the safe integers), which a schema's real bound makes moot. */
const isSafeIntegerBound = (issue: z.core.$ZodIssue | z.core.$ZodRawIssue) =>
  (issue.code === 'too_big' || issue.code === 'too_small') &&
  issue.origin === 'int' &&
  Math.abs(Number(issue.code === 'too_big' ? issue.maximum : issue.minimum)) ===
    Number.MAX_SAFE_INTEGER;

/**
 * What is wrong, said after the field's name: "must be at most 1000", "is required". The one
 * error map of every parse; a schema's own message (a regex's, a refinement's) comes first.
 */
function predicate(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required';
      const whole = issue.expected === 'int' || (issue.inst as z.ZodNumber | undefined)?.isInt;
      const type = whole === true ? 'int' : issue.expected;
      return `must be ${TYPE_WORDS[type] ?? type}`;
    }
    case 'too_big': {
      const bound = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${bound} characters long`;
      if (issue.origin === 'array') return `must have at most ${bound} items`;
      const inclusive = issue.inclusive !== false || isSafeIntegerBound(issue);
      return `must be ${inclusive ? 'at most' : 'less than'} ${bound}`;
    }
    case 'too_small': {
      const bound = Number(issue.minimum);
      if (issue.origin === 'string' || issue.origin === 'array') {
        if (bound <= 1) return 'must not be empty';
        return issue.origin === 'string'
          ? `must be at least ${bound} characters long`
          : `must have at least ${bound} items`;
      }
      const inclusive = issue.inclusive !== false || isSafeIntegerBound(issue);
      if (bound === 0) return inclusive ? 'must not be negative' : 'must be more than 0';
      return `must be ${inclusive ? 'at least' : 'more than'} ${bound}`;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${String(issue.values[0])}`
        : `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      if (issue.format === 'url') return 'must be a valid URL';
      if (issue.format === 'datetime') return 'must be a date and time like 2026-04-01T00:00:00Z';
      return 'is not in the accepted format';
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return undefined;
  }
}

const PREDICATE = /^(must|may|is|has|cannot) /;

/**
 * The message naming its field: "<field> <predicate>" ("spendCapCents must be at most …"), a
 * message that names the field itself as it is, else "<field>: <message>" ("allowedModels.1:
 * models are named 'provider/model'").
 */
function sentence(path: string, message: string): string {
  if (!path) return PREDICATE.test(message) ? `the input ${message}` : message;
  if (message.startsWith(`${path} `)) return message;
  return PREDICATE.test(message) ? `${path} ${message}` : `${path}: ${message}`;
}

const unknownFieldMessage = (path: string) => `unknown field '${path}'`;

/** The ValidationError of an input field the schema does not have (`field` names it). */
export const isUnknownField = (err: unknown): err is ValidationError & { field: string } =>
  err instanceof ValidationError &&
  err.field !== null &&
  err.message === unknownFieldMessage(err.field);

/** Parses `input` with `schema`; the first problem becomes a ValidationError naming its field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  checkShape(input, [], 0);
  const result = schema.safeParse(input, { error: predicate });
  if (result.success) return result.data;
  const [first, ...others] = result.error.issues;
  const samePath = (i: z.core.$ZodIssue) => i.path.join('.') === first!.path.join('.');
  // 1e30 for `limitField`: its own maximum, not zod's safe-integer one.
  const issue = (isSafeIntegerBound(first!) && others.find(samePath)) || first!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const path = [...issue.path, key].join('.');
    throw new ValidationError(unknownFieldMessage(path), path);
  }
  const path = issue.path.join('.');
  throw new ValidationError(sentence(path, issue.message), path || null);
}

/** Money in: cents with up to 4 decimals, ≥ 0, converted exactly to integer micro-USD. */
export const centsField = z
  .number()
  .min(0)
  .max(MAX_CENTS)
  .transform((cents, ctx) => {
    // In range, centsToMicros refuses only what has more than 4 decimals (1.23456, 1e-7).
    try {
      return centsToMicros(cents);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'may have at most 4 decimals' });
      return z.NEVER;
    }
  });

export const limitField = z.number().int().min(1).max(1_000_000_000);

/** Lifetime of a key that expires (`expires_in_seconds`): a minute to ten years; absent or null =
 * until revoked. */
export const keyLifetimeField = z
  .number()
  .int()
  .min(60)
  .max(10 * 365 * 86_400)
  .nullable()
  .optional();

const DECIMAL_DIGITS = /^[0-9]+$/;

/**
 * A page size (`limit`) of 1 to `max`: a query string's decimal digits (`?limit=20`), never what
 * else Number() reads as a number (`0x10`, `1e1`, `+16`, ` 16`, `16.0`, `Infinity`, an empty
 * value), or a number as is (GraphQL's `first`).
 */
export function pageSizeField(max: number) {
  return z
    .unknown()
    .transform((value, ctx) => {
      if (typeof value !== 'string') return value;
      if (DECIMAL_DIGITS.test(value)) {
        // Beyond the safe integers is beyond `max` too (and 400 nines are not Infinity).
        return Math.min(Number(value), Number.MAX_SAFE_INTEGER);
      }
      ctx.addIssue({
        code: 'custom',
        message: 'must be a whole number written in decimal digits (like 20)',
      });
      return z.NEVER;
    })
    .pipe(z.number().int().min(1).max(max));
}

export const TAG_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const tagField = z
  .string()
  .regex(TAG_PATTERN, 'tags are 1–64 characters of A-Z a-z 0-9 _ . : -');

export const MODEL_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/;
export const modelField = z.string().regex(MODEL_PATTERN, "models are named 'provider/model'");

export const budgetPeriodField = z.enum(['monthly', 'daily', 'weekly', 'total']);

/**
 * Operator metadata: a JSON object of bounded size, stored as sent. It is passed on as parsed (by
 * JSON.parse, or GraphQL's JSON scalar), never rebuilt key by key, so keys such as `__proto__` and
 * `constructor` are kept as the object's own keys and no prototype is touched (`z.record` dropped
 * `__proto__` and refused `constructor`).
 */
export const metadataField = z
  .custom<Record<string, unknown>>(
    (m) => typeof m === 'object' && m !== null && !Array.isArray(m),
    'must be an object',
  )
  .refine((m) => JSON.stringify(m).length <= 16_384, 'metadata must be at most 16 KiB of JSON');

/** Markup percent with at most 2 decimals, stored as basis points of a percent. */
export const markupField = z
  .number()
  .min(0)
  .max(1000)
  .refine(
    (p) => Number.isInteger(Math.round(p * 100)) && Math.abs(p * 100 - Math.round(p * 100)) < 1e-9,
    'may have at most 2 decimals',
  )
  .transform((p) => Math.round(p * 100));

/** The same fields, each optional (absent = unchanged): the shape of an update from a create's. */
export function optionalFields<T extends Record<string, z.ZodType>>(
  shape: T,
): { [K in keyof T]: z.ZodOptional<T[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as never;
}
