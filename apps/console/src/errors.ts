// Turning what can go wrong into one plain sentence for the alert region.

export interface ErrorLike {
  networkError?: { message?: string } | undefined;
  graphQLErrors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
  response?: { status?: number } | undefined;
  message?: string;
}

export type Problem = { kind: 'auth' | 'network' | 'input' | 'server'; message: string };

/** A refused key, a lost connection, a validation message or a server failure, said plainly. */
export function describeError(err: ErrorLike | null | undefined): Problem | null {
  if (!err) return null;
  const gql = err.graphQLErrors ?? [];
  const code = (e: { extensions?: Record<string, unknown> }) => e.extensions?.code;
  const auth = gql.find((e) => code(e) === 'UNAUTHENTICATED' || code(e) === 'FORBIDDEN');
  if (auth || err.response?.status === 401 || err.response?.status === 403) {
    return {
      kind: 'auth',
      message: `The admin key was refused${auth ? `: ${auth.message}` : ''}. Sign in again with a valid admin key.`,
    };
  }
  const bad = gql.find(
    (e) => code(e) === 'BAD_USER_INPUT' || code(e) === 'GRAPHQL_VALIDATION_FAILED',
  );
  if (bad) return { kind: 'input', message: bad.message };
  if (err.networkError) {
    return {
      kind: 'network',
      message:
        'Cannot reach the Tollgate control plane — the connection was lost or the server is down. Retrying when you act again.',
    };
  }
  if (gql.length > 0) return { kind: 'server', message: gql.map((e) => e.message).join('; ') };
  return { kind: 'server', message: err.message ?? 'Something went wrong.' };
}

/** A typed mutation result (`… | ValidationError | NotFoundError | ConflictError`) → its message. */
export function resultError(
  result: { __typename: string; message?: string; field?: string | null } | null | undefined,
): string | null {
  if (!result) return null;
  if (!result.__typename.endsWith('Error')) return null;
  const field = result.field ? ` (${result.field})` : '';
  return `${result.message ?? result.__typename}${field}`;
}
