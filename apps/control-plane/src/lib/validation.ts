import { centsToMicros } from '@tollgate/pricing';
import { z } from 'zod';
import { ValidationError } from './errors.ts';

/** Deepest nesting of objects and arrays accepted in any input (metadata included). */
export const MAX_INPUT_DEPTH = 32;

/**
 * Refuses what no field may hold, before any schema runs: nesting deeper than MAX_INPUT_DEPTH
 * (bounded recursion everywhere after) and NUL characters (PostgreSQL text and jsonb cannot store
 * them). Names the offending field.
 */
function checkShape(value: unknown, path: string[], depth: number): void {
  const where = () => path.join('.') || null;
  if (typeof value === 'string') {
    if (value.includes('\u0000'))
      throw new ValidationError(`${where() ?? 'input'}: NUL characters are not allowed`, where());
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth >= MAX_INPUT_DEPTH) {
    throw new ValidationError(
      `${where() ?? 'input'}: nested deeper than ${MAX_INPUT_DEPTH} levels`,
      where(),
    );
  }
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000') && !k.endsWith('\u0000'))
      throw new ValidationError('NUL characters are not allowed in keys', where());
    checkShape(v, [...path, k], depth + 1);
  }
}

/** Parses `input` with `schema`; the first problem becomes a ValidationError naming its field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  checkShape(input, [], 0);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const path = [...issue.path, key].join('.');
    throw new ValidationError(`unknown field '${path}'`, path);
  }
  const path = issue.path.join('.');
  throw new ValidationError(path ? `${path}: ${issue.message}` : issue.message, path || null);
}

/** Money in: cents with up to 4 decimals, ≥ 0, converted exactly to integer micro-USD. */
export const centsField = z.number().transform((cents, ctx) => {
  try {
    return centsToMicros(cents);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

export const limitField = z.number().int().min(1).max(1_000_000_000);

export const TAG_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const tagField = z
  .string()
  .regex(TAG_PATTERN, 'tags are 1–64 characters of A-Z a-z 0-9 _ . : -');

export const MODEL_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/;
export const modelField = z.string().regex(MODEL_PATTERN, "models are named 'provider/model'");

export const budgetPeriodField = z.enum(['monthly', 'daily', 'weekly', 'total']);

/** Operator metadata: a JSON object of bounded size. */
export const metadataField = z
  .record(z.string(), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 16_384, 'metadata must be at most 16 KiB of JSON');

/** Markup percent with at most 2 decimals, stored as basis points of a percent. */
export const markupField = z
  .number()
  .min(0)
  .max(1000)
  .refine(
    (p) => Number.isInteger(Math.round(p * 100)) && Math.abs(p * 100 - Math.round(p * 100)) < 1e-9,
    'at most 2 decimals',
  )
  .transform((p) => Math.round(p * 100));

/** The same fields, each optional (absent = unchanged): the shape of an update from a create's. */
export function optionalFields<T extends Record<string, z.ZodType>>(
  shape: T,
): { [K in keyof T]: z.ZodOptional<T[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as never;
}
