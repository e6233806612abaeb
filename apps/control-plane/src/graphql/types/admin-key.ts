import { ValidationError } from '../../lib/errors.ts';
import * as adminKeys from '../../services/admin-keys.ts';
import { callerFor, serviceInput } from '../access.ts';
import { builder } from '../builder.ts';
import { BY_CREATION, createdPosition, pageArgs, paginate } from '../connections.ts';
import { MUTATION_ERRORS } from './errors.ts';

export const AdminKey = builder.prismaObject('AdminKey', {
  description:
    'An admin key of the workspace (`sk-tg-admin-…`); only its prefix is ever shown again.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name', {
      nullable: true,
      description: 'What the operator calls it; null when not named.',
    }),
    prefix: t.exposeString('prefix'),
    current: t.boolean({
      description: 'Whether this is the key the request was made with.',
      resolve: (k, _args, ctx) => ctx.principal.kind === 'admin' && ctx.principal.keyId === k.id,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it stops working by itself; null = until revoked.',
    }),
  }),
});

const AdminKeyConnection = builder.connectionObject({
  type: AdminKey,
  name: 'AdminKeyConnection',
});

/** As REST's `POST /v1/admin-keys`: the key's fields and `key`, the secret itself. */
const CreateAdminKeyPayload = builder
  .objectRef<{ key: typeof AdminKey.$inferType; plaintext: string }>('CreateAdminKeyPayload')
  .implement({
    fields: (t) => ({
      id: t.id({ resolve: (p) => p.key.id }),
      name: t.string({ nullable: true, resolve: (p) => p.key.name }),
      prefix: t.string({ resolve: (p) => p.key.prefix }),
      createdAt: t.field({ type: 'DateTime', resolve: (p) => p.key.createdAt }),
      expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.key.expiresAt }),
      key: t.exposeString('plaintext', {
        description: 'The key (`sk-tg-admin-…`), shown this once.',
      }),
    }),
  });

builder.queryFields((t) => ({
  adminKeys: t.field({
    type: AdminKeyConnection,
    description:
      "The caller's workspace's admin keys, revoked ones included, oldest first (creation time, then id).",
    errors: { types: [ValidationError] },
    args: pageArgs(),
    resolve: (_root, args, ctx) => {
      const caller = callerFor(ctx, 'workspace.write');
      const keyset = {
        scope: { list: 'adminKeys', workspaceId: caller.workspaceId },
        shape: BY_CREATION,
        position: createdPosition,
      };
      return paginate(ctx, keyset, args, (after, take) =>
        adminKeys.listAdminKeys(ctx.deps, caller, { after, take }),
      );
    },
  }),
}));

builder.mutationFields((t) => ({
  createAdminKey: t.field({
    type: CreateAdminKeyPayload,
    description:
      'A new admin key for rotation with overlap: the others keep working until revoked.',
    errors: { types: MUTATION_ERRORS },
    args: {
      name: t.arg.string({ description: 'What to call it (`ci`, `console-alice`).' }),
      expiresInSeconds: t.arg.int({
        description:
          'A temporary key: it stops working this many seconds from now (60 s to 10 years); absent = until revoked.',
      }),
    },
    resolve: (_root, args, ctx) =>
      adminKeys.createAdminKey(ctx.deps, callerFor(ctx, 'workspace.write'), serviceInput(args)),
  }),
  revokeAdminKey: t.field({
    type: AdminKey,
    description:
      "Stops the admin key at once (the caller's own included); the workspace's last working key without an expiry cannot be revoked (ConflictError). Revoking twice is harmless.",
    errors: { types: MUTATION_ERRORS },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      adminKeys.revokeAdminKey(ctx.deps, callerFor(ctx, 'workspace.write'), id),
  }),
}));
