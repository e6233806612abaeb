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
 * A service's ValidationError re-thrown naming the GraphQL argument instead of the service's input
 * field (`limit` → `first`), for the field's typed error union: every field using this must list
 * `ValidationError` in its `errors`, else the failure would be masked.
 */
export async function withInputErrors<T>(
  work: Promise<T>,
  argumentOf: Record<string, string> = {},
): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!(err instanceof ValidationError) || err.field === null) throw err;
    const field = argumentOf[err.field];
    throw field === undefined ? err : new ValidationError(err.message, field);
  }
}
