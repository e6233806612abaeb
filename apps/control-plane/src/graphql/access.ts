import { GraphQLError } from 'graphql';
import { type Action, authorize } from '../lib/authz.ts';
import {
  AuthenticationError,
  PermissionError,
  TooManyAttemptsError,
  ValidationError,
} from '../lib/errors.ts';
import type { Caller } from '../services/context.ts';
import type { GraphQLContext } from './context.ts';

/**
 * Every resolver starts here: the one `authorize()` of lib/authz.ts, with its access failures
 * turned into coded GraphQL errors (not masked, never typed results): UNAUTHENTICATED for no key,
 * a refused key or a throttled client; FORBIDDEN for a key of the wrong kind.
 */
export function callerFor(ctx: GraphQLContext, action: Action): Caller {
  try {
    return authorize(ctx.principal, action);
  } catch (err) {
    if (err instanceof AuthenticationError) {
      const failure = ctx.authFailure;
      throw new GraphQLError(failure?.message ?? err.message, {
        extensions: {
          code: 'UNAUTHENTICATED',
          ...(failure instanceof TooManyAttemptsError
            ? { retryAfterSeconds: failure.retryAfterSeconds }
            : {}),
        },
      });
    }
    if (err instanceof PermissionError) {
      throw new GraphQLError(err.message, { extensions: { code: 'FORBIDDEN' } });
    }
    throw err;
  }
}

/**
 * GraphQL arguments → a service input. GraphQL hands omitted nullable arguments over as absent or
 * `null`, while the services' strict schemas read absent as "unchanged/default" and `null` as
 * "clear". So: absent and `null` are dropped, except `null` on the fields named in `clearable`,
 * which is passed on as an explicit "clear".
 */
export function serviceInput(
  args: Record<string, unknown>,
  clearable: readonly string[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || (value === null && !clearable.includes(key))) continue;
    out[key] = value;
  }
  return out;
}

/**
 * For fields without a typed error union (lists): a service's ValidationError becomes a coded
 * BAD_USER_INPUT error naming the GraphQL argument, instead of a masked internal error.
 */
export async function withInputErrors<T>(
  work: Promise<T>,
  argumentOf: Record<string, string> = {},
): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const field = err.field === null ? null : (argumentOf[err.field] ?? err.field);
    throw new GraphQLError(err.message, { extensions: { code: 'BAD_USER_INPUT', field } });
  }
}
