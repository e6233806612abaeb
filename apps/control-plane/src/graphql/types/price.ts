import type { ModelPrice } from '@tollgate/pricing';
import { centsOf } from '../../lib/money.ts';
import * as prices from '../../services/prices.ts';
import { callerFor, serviceInput } from '../access.ts';
import { builder } from '../builder.ts';
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

builder.queryFields((t) => ({
  prices: t.field({
    type: [Price],
    description: 'The built-in catalogue with this workspace’s overrides applied.',
    resolve: (_root, _args, ctx) => prices.listPrices(ctx.deps, callerFor(ctx, 'workspace.read')),
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
    },
    resolve: (_root, args, ctx) =>
      prices.setPrice(ctx.deps, callerFor(ctx, 'workspace.write'), serviceInput(args)),
  }),
}));
