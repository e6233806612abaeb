import type { ModelPrice } from '@tollgate/pricing';
import { ValidationError } from '../../lib/errors.ts';
import { centsOf } from '../../lib/money.ts';
import * as prices from '../../services/prices.ts';
import { callerFor, serviceInput } from '../access.ts';
import { builder } from '../builder.ts';
import { pageArgs, paginate } from '../connections.ts';
import { MUTATION_ERRORS } from './errors.ts';

/** Prices are cents per million tokens (≤ 4 decimals), as this workspace sees them. */
const Price = builder.objectRef<ModelPrice>('Price').implement({
  fields: (t) => ({
    model: t.exposeString('model', { description: '`provider/model`' }),
    provider: t.exposeString('provider'),
    kind: t.exposeString('kind', { description: '`chat`, `embedding` or `completion`.' }),
    inputPerMtokCents: t.float({ resolve: (p) => centsOf(p.inputPerMTok)! }),
    outputPerMtokCents: t.float({ resolve: (p) => centsOf(p.outputPerMTok)! }),
    cachedInputPerMtokCents: t.float({ resolve: (p) => centsOf(p.cachedInputPerMTok)! }),
    cacheWritePerMtokCents: t.float({
      description:
        "Writing the provider's prompt cache (Anthropic); the input price where there is no surcharge. An override sets it, or moves it with its input price at the catalogue's ratio.",
      resolve: (p) => centsOf(p.cacheWritePerMTok)!,
    }),
    contextWindow: t.exposeInt('contextWindow'),
    maxOutputTokens: t.exposeInt('maxOutputTokens'),
    source: t.exposeString('source', {
      description: 'The provider pricing page, or `workspace override`.',
    }),
    asOf: t.exposeString('asOf', {
      description: '`YYYY-MM-DD`; empty when an override did not say.',
    }),
  }),
});

const PriceConnection = builder.connectionObject({ type: Price, name: 'PriceConnection' });

/** By model name in code-unit order, the order `>` compares cursors in. */
const byModel = (a: ModelPrice, b: ModelPrice) =>
  a.model < b.model ? -1 : a.model > b.model ? 1 : 0;

builder.queryFields((t) => ({
  prices: t.field({
    type: PriceConnection,
    description:
      'The built-in catalogue with this workspace’s overrides applied, by model (`provider/model`, ascending).',
    errors: { types: [ValidationError] },
    args: pageArgs(),
    resolve: async (_root, args, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      const keyset = {
        scope: { list: 'prices', workspaceId: caller.workspaceId },
        shape: ['string'] as const,
        position: (p: ModelPrice) => [p.model],
      };
      // Computed (catalogue + overrides), not a table: the page is a slice of the sorted list.
      return paginate(ctx, keyset, args, async (after, take) => {
        const all = [...(await prices.listPrices(ctx.deps, caller))].sort(byModel);
        const from = after ? all.filter((p) => p.model > String(after[0])) : all;
        return from.slice(0, take);
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  setPrice: t.field({
    type: Price,
    description: "Sets this workspace's price for a model, overriding the built-in catalogue.",
    errors: { types: MUTATION_ERRORS },
    args: {
      model: t.arg.string({ required: true }),
      inputPerMtokCents: t.arg.float({ required: true }),
      outputPerMtokCents: t.arg.float({ required: true }),
      cachedInputPerMtokCents: t.arg.float(),
      cacheWritePerMtokCents: t.arg.float({
        description:
          "Writing the provider's prompt cache; absent: the input price at the catalogue's ratio.",
      }),
    },
    resolve: (_root, args, ctx) =>
      prices.setPrice(ctx.deps, callerFor(ctx, 'workspace.write'), serviceInput(args)),
  }),
  deletePrice: t.field({
    type: Price,
    nullable: true,
    description:
      "Removes this workspace's override of a model's price (NotFoundError when it has none). Answers the price billed from then on — the catalogue's — or null for a model the catalogue does not know (no price any more).",
    errors: { types: MUTATION_ERRORS },
    args: { model: t.arg.string({ required: true, description: '`provider/model`' }) },
    resolve: (_root, { model }, ctx) =>
      prices.deletePrice(ctx.deps, callerFor(ctx, 'workspace.write'), model),
  }),
}));
