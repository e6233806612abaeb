import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { builder } from '../builder.ts';

/**
 * Expected failures as typed results (@pothos/plugin-errors): the services' own error classes,
 * registered as object types behind one `Error` interface so clients can always select
 * `... on Error { message }`. Access failures are coded GraphQL errors instead (see access.ts);
 * anything else is masked by yoga.
 */
const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'An expected failure of a query or mutation.',
  fields: (t) => ({ message: t.exposeString('message') }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'The input was refused; nothing changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    field: t.exposeString('field', {
      nullable: true,
      description: 'The offending input field (camelCase), when one is to blame.',
    }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: "The object does not exist in the caller's workspace.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    resource: t.exposeString('resource'),
    id: t.exposeString('id'),
  }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'The change conflicts with existing data (e.g. a duplicate name or tag).',
  interfaces: [ErrorInterface],
});

/** Listed by every mutation: one shape for clients, whatever a service may refuse. */
export const MUTATION_ERRORS = [ValidationError, NotFoundError, ConflictError];
