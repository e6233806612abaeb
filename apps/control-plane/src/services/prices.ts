import { CATALOGUE, createPriceBook, type ModelPrice } from '@tollgate/pricing';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../lib/errors.ts';
import { newId } from '../lib/ids.ts';
import { centsField, modelField, parseInput } from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';

/** Prices on the wire are cents per million tokens, converted like every other money field. */
const setSchema = z.strictObject({
  model: modelField,
  inputPerMtokCents: centsField,
  outputPerMtokCents: centsField,
  cachedInputPerMtokCents: centsField.nullable().optional(),
  cacheWritePerMtokCents: centsField.nullable().optional(),
});

export async function setPrice(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const input = parseInput(setSchema, raw);
  const data = {
    inputPerMTokMicros: BigInt(input.inputPerMtokCents),
    outputPerMTokMicros: BigInt(input.outputPerMtokCents),
    cachedPerMTokMicros:
      input.cachedInputPerMtokCents == null ? null : BigInt(input.cachedInputPerMtokCents),
    cacheWritePerMTokMicros:
      input.cacheWritePerMtokCents == null ? null : BigInt(input.cacheWritePerMtokCents),
  };
  const row = await mutate(
    deps,
    caller,
    (p) => ({
      action: 'price.set',
      targetType: 'price',
      targetId: p.id,
      data: { model: input.model },
    }),
    'price',
    (tx: Tx) =>
      tx.modelPrice.upsert({
        where: { workspaceId_model: { workspaceId: caller.workspaceId, model: input.model } },
        create: {
          id: newId('price'),
          workspaceId: caller.workspaceId,
          model: input.model,
          ...data,
        },
        update: data,
      }),
  );
  return (await workspacePriceBook(deps, caller)).get(row.model)!;
}

const deleteSchema = z.strictObject({ model: modelField });

/**
 * Removes this workspace's override of a model's price: the catalogue's price is billed again on
 * every data plane within 1 s. Answers the price billed afterwards, or null for a model the
 * catalogue does not know (requests for it are refused as `model_not_found` from then on).
 */
export async function deletePrice(
  deps: ServiceDeps,
  caller: Caller,
  model: string,
): Promise<ModelPrice | null> {
  const input = parseInput(deleteSchema, { model });
  await mutate(
    deps,
    caller,
    (p) => ({
      action: 'price.delete',
      targetType: 'price',
      targetId: p.id,
      data: { model: input.model },
    }),
    'price',
    async (tx: Tx) => {
      const row = await tx.modelPrice.findUnique({
        where: { workspaceId_model: { workspaceId: caller.workspaceId, model: input.model } },
      });
      const missing = () => new NotFoundError('price override', input.model);
      if (row === null) throw missing();
      if (!catalogueByModel.has(input.model)) await refuseIfNamed(tx, caller, input.model);
      // Gone meanwhile (a concurrent delete) counts as never there: nothing is written.
      const { count } = await tx.modelPrice.deleteMany({ where: { id: row.id } });
      if (count === 0) throw missing();
      return row;
    },
    (row) => ({ kind: 'price', model: row.model }),
  );
  return (await workspacePriceBook(deps, caller)).get(input.model) ?? null;
}

const catalogueByModel = new Map(CATALOGUE.map((p) => [p.model, p]));

/**
 * A model that would be left without a price (not in the catalogue) cannot lose its override while
 * a plan or a sub-account names it — in its allowed models or as its fallback: every request of
 * theirs for it would be refused as `model_not_found`, and creating them so would have been refused.
 */
async function refuseIfNamed(tx: Tx, caller: Caller, model: string) {
  const names = { OR: [{ allowedModels: { has: model } }, { fallbackModel: model }] };
  const [plan, subAccount] = await Promise.all([
    tx.plan.findFirst({
      where: { workspaceId: caller.workspaceId, ...names },
      select: { slug: true },
    }),
    tx.subAccount.findFirst({
      where: { workspaceId: caller.workspaceId, status: { not: 'deleted' }, ...names },
      select: { id: true },
    }),
  ]);
  const by = plan ? `plan '${plan.slug}'` : subAccount ? `sub-account '${subAccount.id}'` : null;
  if (by !== null) {
    throw new ConflictError(
      `'${model}' would have no price, but ${by} names it (allowed models or fallback): change that first`,
    );
  }
}

/**
 * The cached-input price of an override (micro-USD per 1M tokens): the one set, else the built-in
 * catalogue's for that model capped at the override's input price — a lowered input price must
 * never leave cached tokens billed above uncached ones — else the input price (no discount the
 * operator did not set). The control plane's answers and the policy snapshot the data plane bills
 * with both use this, so they agree.
 */
export function overrideCachedInputPerMTok(
  model: string,
  inputPerMTok: number,
  cachedPerMTok: number | null,
): number {
  if (cachedPerMTok !== null) return cachedPerMTok;
  const base = catalogueByModel.get(model)?.cachedInputPerMTok;
  return base === undefined ? inputPerMTok : Math.min(base, inputPerMTok);
}

/** Anthropic's price for writing the prompt cache (5-minute cache): 1.25× the input price. */
const ANTHROPIC_CACHE_WRITE = 1.25;

/**
 * The cache-write price of an override (micro-USD per 1M tokens): the one set, else the catalogue's
 * ratio to input for that model applied to the new input price (a lowered or raised input price
 * moves its cache writes with it — the catalogue's own figure would go stale), else Anthropic's
 * 1.25× for an `anthropic/…` model the catalogue does not know, else the input price.
 */
export function overrideCacheWritePerMTok(
  model: string,
  inputPerMTok: number,
  cacheWritePerMTok: number | null,
): number {
  if (cacheWritePerMTok !== null) return cacheWritePerMTok;
  const base = catalogueByModel.get(model);
  if (base?.cacheWritePerMTok !== undefined && base.inputPerMTok > 0) {
    return Math.round((inputPerMTok * base.cacheWritePerMTok) / base.inputPerMTok);
  }
  if (model.startsWith('anthropic/')) return Math.round(inputPerMTok * ANTHROPIC_CACHE_WRITE);
  return inputPerMTok;
}

/** The catalogue as this workspace sees it: built-in prices with its overrides applied. */
export async function workspacePriceBook(deps: ServiceDeps, caller: Caller) {
  const rows = await deps.prisma.modelPrice.findMany({
    where: { workspaceId: caller.workspaceId },
  });
  return createPriceBook(
    rows.map((r) => ({
      model: r.model,
      inputPerMTok: Number(r.inputPerMTokMicros),
      outputPerMTok: Number(r.outputPerMTokMicros),
      cachedInputPerMTok: overrideCachedInputPerMTok(
        r.model,
        Number(r.inputPerMTokMicros),
        r.cachedPerMTokMicros === null ? null : Number(r.cachedPerMTokMicros),
      ),
      // As the policy snapshot the data plane bills with (not the catalogue's stale figure).
      cacheWritePerMTok: overrideCacheWritePerMTok(
        r.model,
        Number(r.inputPerMTokMicros),
        r.cacheWritePerMTokMicros === null ? null : Number(r.cacheWritePerMTokMicros),
      ),
    })),
    CATALOGUE,
  );
}

export async function listPrices(deps: ServiceDeps, caller: Caller): Promise<ModelPrice[]> {
  return (await workspacePriceBook(deps, caller)).list();
}

export async function knownModels(deps: ServiceDeps, caller: Caller): Promise<Set<string>> {
  return new Set((await listPrices(deps, caller)).map((p) => p.model));
}
