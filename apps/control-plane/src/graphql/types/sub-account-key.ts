import * as keys from '../../services/keys.ts';
import { callerFor, serviceInput } from '../access.ts';
import { builder } from '../builder.ts';
import { MUTATION_ERRORS } from './errors.ts';

export const SubAccountKey = builder.prismaObject('SubAccountKey', {
  description: 'An API key of a sub-account (`sk-tg-…`); only its prefix is ever shown again.',
  fields: (t) => ({
    id: t.exposeID('id'),
    subAccountId: t.exposeID('subAccountId'),
    prefix: t.exposeString('prefix'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

/** As REST's `POST /v1/sub-accounts/{id}/keys` (SPEC §4–5: same names): the key's fields and
 * `key`, the secret itself. */
const CreateSubAccountKeyPayload = builder
  .objectRef<{ key: typeof SubAccountKey.$inferType; plaintext: string }>(
    'CreateSubAccountKeyPayload',
  )
  .implement({
    fields: (t) => ({
      id: t.id({ resolve: (p) => p.key.id }),
      subAccountId: t.id({ resolve: (p) => p.key.subAccountId }),
      prefix: t.string({ resolve: (p) => p.key.prefix }),
      createdAt: t.field({ type: 'DateTime', resolve: (p) => p.key.createdAt }),
      expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.key.expiresAt }),
      key: t.exposeString('plaintext', {
        description: 'The key (`sk-tg-…`), shown this once.',
      }),
    }),
  });

builder.mutationFields((t) => ({
  createSubAccountKey: t.field({
    type: CreateSubAccountKeyPayload,
    description: 'A new key for rotation with overlap: older keys keep working until revoked.',
    errors: { types: MUTATION_ERRORS },
    args: {
      subAccountId: t.arg.id({ required: true }),
      expiresInSeconds: t.arg.int(),
    },
    resolve: (_root, { subAccountId, ...rest }, ctx) =>
      keys.createKey(ctx.deps, callerFor(ctx, 'workspace.write'), subAccountId, serviceInput(rest)),
  }),
  revokeSubAccountKey: t.field({
    type: SubAccountKey,
    description: 'Stops the key on every data plane within 1 s; revoking twice is harmless.',
    errors: { types: MUTATION_ERRORS },
    args: {
      subAccountId: t.arg.id({ required: true }),
      keyId: t.arg.id({ required: true }),
    },
    resolve: (_root, { subAccountId, keyId }, ctx) =>
      keys.revokeKey(ctx.deps, callerFor(ctx, 'workspace.write'), subAccountId, keyId),
  }),
}));
