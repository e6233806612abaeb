import type { Prisma } from '@tollgate/db';
import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.ts';
import { newId } from '../lib/ids.ts';
import { budgetPeriodField, centsField, parseInput, tagField } from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import type { ListPage } from './pagination.ts';

const createSchema = z.strictObject({
  tag: tagField,
  monthlyCapCents: centsField.optional(),
  capCents: centsField.optional(),
  period: budgetPeriodField.optional(),
});

/** A tag budget caps every request carrying the tag, across all sub-accounts of the workspace. */
export async function createBudget(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const input = parseInput(createSchema, raw);
  if ((input.monthlyCapCents === undefined) === (input.capCents === undefined)) {
    throw new ValidationError(
      'give exactly one of monthlyCapCents or capCents (+ period)',
      'capCents',
    );
  }
  if (input.monthlyCapCents !== undefined && input.period !== undefined) {
    throw new ValidationError('period goes with capCents, not monthlyCapCents', 'period');
  }
  const capMicros = BigInt(input.monthlyCapCents ?? input.capCents!);
  const budgetPeriod =
    input.monthlyCapCents !== undefined ? 'monthly' : (input.period ?? 'monthly');
  const existing = await deps.prisma.tagBudget.findUnique({
    where: { workspaceId_tag: { workspaceId: caller.workspaceId, tag: input.tag } },
  });
  if (existing)
    throw new ConflictError(`a budget for tag '${input.tag}' already exists (${existing.id})`);
  return mutate(
    deps,
    caller,
    (b) => ({ action: 'budget.create', targetType: 'tag_budget', targetId: b.id }),
    'tag_budget',
    (tx: Tx) =>
      tx.tagBudget.create({
        data: {
          id: newId('bud'),
          workspaceId: caller.workspaceId,
          tag: input.tag,
          capMicros,
          budgetPeriod,
        },
      }),
  );
}

const updateSchema = z.strictObject({
  monthlyCapCents: centsField.optional(),
  capCents: centsField.optional(),
  period: budgetPeriodField.optional(),
});

/**
 * Changes a budget's cap and/or period in place (the tag is never uncapped meanwhile). A new period
 * keys the data planes' `tag:<name>` counter anew: `mutate` raises that counter to the books' spend
 * of the new period before the change is published (catch-up.ts), and requests running under the
 * old period reserve on the new counter too once a data plane learns it (`recapped`), so the new
 * cap holds the period's spend so far. The old period's counter is left to expire.
 */
export async function updateBudget(deps: ServiceDeps, caller: Caller, id: string, raw: unknown) {
  const input = parseInput(updateSchema, raw);
  if (input.monthlyCapCents !== undefined && input.capCents !== undefined) {
    throw new ValidationError('give one of monthlyCapCents or capCents', 'capCents');
  }
  if (input.monthlyCapCents !== undefined && input.period !== undefined) {
    throw new ValidationError('period goes with capCents, not monthlyCapCents', 'period');
  }
  const cap = input.monthlyCapCents ?? input.capCents;
  const period = input.monthlyCapCents !== undefined ? 'monthly' : input.period;
  if (cap === undefined && period === undefined) {
    throw new ValidationError('give capCents (or monthlyCapCents) and/or period', null);
  }
  const data = {
    ...(cap !== undefined ? { capMicros: BigInt(cap) } : {}),
    ...(period !== undefined ? { budgetPeriod: period } : {}),
  };
  return mutate(
    deps,
    caller,
    () => ({
      action: 'budget.update',
      targetType: 'tag_budget',
      targetId: id,
      data: Object.keys(input),
    }),
    'tag_budget',
    async (tx: Tx) => {
      const { count } = await tx.tagBudget.updateMany({
        where: { id, workspaceId: caller.workspaceId },
        data,
      });
      if (count === 0) throw new NotFoundError('budget', id);
      return tx.tagBudget.findUniqueOrThrow({ where: { id } });
    },
  );
}

/** By tag (a tag has one budget); `page`: rows after a position, how many. */
export function listBudgets(
  deps: ServiceDeps,
  caller: Caller,
  page: ListPage<Prisma.TagBudgetWhereInput> = {},
) {
  return deps.prisma.tagBudget.findMany({
    where: { workspaceId: caller.workspaceId, ...page.after },
    orderBy: [{ tag: 'asc' }],
    take: page.take,
  });
}

/** One budget of the caller's workspace. */
export async function findBudget(deps: ServiceDeps, caller: Caller, id: string) {
  const budget = await deps.prisma.tagBudget.findFirst({
    where: { id, workspaceId: caller.workspaceId },
  });
  if (!budget) throw new NotFoundError('budget', id);
  return budget;
}

export async function deleteBudget(deps: ServiceDeps, caller: Caller, id: string) {
  await findBudget(deps, caller, id);
  return mutate(
    deps,
    caller,
    () => ({ action: 'budget.delete', targetType: 'tag_budget', targetId: id }),
    'tag_budget',
    (tx: Tx) => tx.tagBudget.delete({ where: { id } }),
  );
}
