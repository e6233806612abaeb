import type { Principal } from '../lib/authz.ts';
import type { AuthenticationError, TooManyAttemptsError } from '../lib/errors.ts';
import type { RestDeps } from '../rest/router.ts';

/** Per-request GraphQL context: the shared dependencies and who is calling. */
export interface GraphQLContext {
  deps: RestDeps;
  /** `anonymous` when no key was sent *or* the key was refused (then `authFailure` says why). */
  principal: Principal;
  /** Why a presented key was refused; resolvers turn it into an UNAUTHENTICATED error. */
  authFailure?: AuthenticationError | TooManyAttemptsError;
}
