import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import * as providerKeys from '../../services/provider-keys.ts';
import { findSubAccount } from '../../services/sub-account-reads.ts';
import { callerFor, serviceInput } from '../access.ts';
import { builder } from '../builder.ts';
import { pageArgs, paginate } from '../connections.ts';
import { MUTATION_ERRORS } from './errors.ts';

/** A BYOK credential. The key itself is sealed at rest and never leaves: only its last four characters. */
const ProviderKey = builder.prismaObject('ProviderCredential', {
  name: 'ProviderKey',
  fields: (t) => ({
    id: t.exposeID('id'),
    provider: t.exposeString('provider'),
    baseUrl: t.exposeString('baseUrl', { nullable: true }),
    kind: t.string({
      description:
        '`openai` (OpenAI-compatible), `azure` (Azure OpenAI) or `anthropic` (the Messages API of the `anthropic` provider).',
      resolve: (k) => providerKeys.keyKind(k),
    }),
    apiVersion: t.exposeString('apiVersion', {
      nullable: true,
      description: 'Azure OpenAI `api-version`; null = the platform default.',
    }),
    subAccountId: t.string({
      nullable: true,
      description: "The sub-account whose own key this is; null = the workspace's key.",
      resolve: (k) => (k.subAccountId === '' ? null : k.subAccountId),
    }),
    keyHint: t.string({ resolve: (k) => `…${k.keyHint}` }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const ProviderKeyConnection = builder.connectionObject({
  type: ProviderKey,
  name: 'ProviderKeyConnection',
});

builder.queryFields((t) => ({
  providerKeys: t.field({
    type: ProviderKeyConnection,
    description: 'BYOK keys, by provider (ascending; one key per provider).',
    errors: { types: [ValidationError, NotFoundError] },
    args: {
      ...pageArgs(),
      subAccountId: t.arg.id({
        description:
          "That sub-account's own keys instead (NotFoundError unless it is the workspace's).",
      }),
    },
    resolve: async (_root, { subAccountId, ...args }, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      // As REST's GET /v1/sub-accounts/{id}/provider-keys: a sub-account that is not the
      // caller's (unknown, another workspace's) is not found, not a sub-account without keys.
      const owner =
        subAccountId == null ? '' : (await findSubAccount(ctx.deps, caller, subAccountId)).id;
      const keyset = {
        scope: { list: 'providerKeys', workspaceId: caller.workspaceId, parentId: owner },
        shape: ['string'] as const,
        position: (k: { provider: string }) => [k.provider],
      };
      return paginate(ctx, keyset, args, (after, take) =>
        providerKeys.listProviderKeys(ctx.deps, caller, owner, {
          after: after ? { provider: { gt: String(after[0]) } } : undefined,
          take,
        }),
      );
    },
  }),
}));

builder.mutationFields((t) => ({
  createProviderKey: t.field({
    type: ProviderKey,
    description:
      "Stores (or replaces) the workspace's key for `provider`; it is never returned again.",
    errors: { types: MUTATION_ERRORS },
    args: {
      provider: t.arg.string({ required: true }),
      apiKey: t.arg.string({ required: true }),
      baseUrl: t.arg.string(),
      kind: t.arg.string({
        description:
          '`openai` (default) or `azure`; not for `anthropic`, which speaks its own API.',
      }),
      apiVersion: t.arg.string({
        description: 'Azure OpenAI `api-version` (kind `azure` only), e.g. `2024-10-21`.',
      }),
      subAccountId: t.arg.id({
        description:
          "Attach the key to this sub-account only: it takes precedence over the workspace's key.",
      }),
    },
    resolve: (_root, { subAccountId, ...args }, ctx) =>
      providerKeys.setProviderKey(
        ctx.deps,
        callerFor(ctx, 'workspace.write'),
        serviceInput(args),
        subAccountId ?? '',
      ),
  }),
  deleteProviderKey: t.field({
    type: ProviderKey,
    errors: { types: MUTATION_ERRORS },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      providerKeys.deleteProviderKey(ctx.deps, callerFor(ctx, 'workspace.write'), id),
  }),
}));
