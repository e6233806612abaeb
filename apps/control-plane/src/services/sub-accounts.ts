import type { SubAccount } from '@tollgate/db';
import { periodKey, periodWindow } from '@tollgate/policy';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../lib/errors.ts';
import { mintKey, newId } from '../lib/ids.ts';
import {
  budgetPeriodField,
  centsField,
  limitField,
  metadataField,
  modelField,
  parseInput,
  tagField,
} from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import { DEFAULT_PAGE, decodeCursor, encodeCursor, MAX_PAGE } from './pagination.ts';
import { knownModels } from './prices.ts';

const settings = {
  spendCapCents: centsField.nullable(),
  rateLimitRpm: limitField.nullable(),
  rateLimitRpd: limitField.nullable(),
  rateLimitTpm: limitField.nullable(),
  maxConcurrent: limitField.nullable(),
  allowedModels: z.array(modelField).max(500).nullable(),
  defaultTag: tagField.nullable(),
  externalId: z.string().min(1).max(200).nullable(),
  metadata: metadataField,
  budgetPeriod: budgetPeriodField,
};

const createSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  ...partial(settings),
});
const updateSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  status: z.enum(['active', 'suspended']).optional(),
  ...partial(settings),
});

function partial<T extends Record<string, z.ZodType>>(
  shape: T,
): { [K in keyof T]: z.ZodOptional<T[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as never;
}

type Settings = z.infer<typeof updateSchema>;

/** Prisma data for the settings present in the input (absent = unchanged, null = cleared). */
function toData(input: Settings) {
  return {
    name: input.name,
    status: input.status,
    spendCapMicros:
      input.spendCapCents === undefined
        ? undefined
        : input.spendCapCents === null
          ? null
          : BigInt(input.spendCapCents),
    rateLimitRpm: input.rateLimitRpm,
    rateLimitRpd: input.rateLimitRpd,
    rateLimitTpm: input.rateLimitTpm,
    maxConcurrent: input.maxConcurrent,
    allowedModels:
      input.allowedModels === undefined ? undefined : [...new Set(input.allowedModels ?? [])],
    defaultTag: input.defaultTag,
    externalId: input.externalId,
    metadata: input.metadata as never,
    budgetPeriod: input.budgetPeriod,
  };
}

/** Allow-lists may name only models Tollgate can price (catalogue or workspace price): else they could not be capped. */
async function checkModels(deps: ServiceDeps, caller: Caller, models: string[] | null | undefined) {
  if (!models?.length) return;
  const known = await knownModels(deps, caller);
  const unknown = models.find((m) => !known.has(m));
  if (unknown)
    throw new ValidationError(
      `allowedModels: unknown model '${unknown}' (no price)`,
      'allowedModels',
    );
}

export async function createSubAccount(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const input = parseInput(createSchema, raw);
  await checkModels(deps, caller, input.allowedModels);
  const key = mintKey('sub_account');
  const subAccount = await mutate(
    deps,
    caller,
    (sa) => ({ action: 'sub_account.create', targetType: 'sub_account', targetId: sa.id }),
    'sub_account',
    async (tx: Tx) => {
      const id = newId('sa');
      const created = await tx.subAccount.create({
        data: { ...toData(input), id, name: input.name, workspaceId: caller.workspaceId },
      });
      await tx.subAccountKey.create({
        data: {
          id: newId('key'),
          subAccountId: id,
          workspaceId: caller.workspaceId,
          hash: key.hash,
          prefix: key.prefix,
        },
      });
      return created;
    },
  );
  deps.onSubAccountCreated?.(caller.workspaceId, subAccount.id);
  return { subAccount, key: key.plaintext };
}

export async function findSubAccount(
  deps: ServiceDeps,
  caller: Caller,
  id: string,
): Promise<SubAccount> {
  const sa = await deps.prisma.subAccount.findFirst({
    where: { id, workspaceId: caller.workspaceId },
  });
  if (!sa) throw new NotFoundError('sub-account', id);
  return sa;
}

const listSchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
  cursor: z.string().max(500).optional(),
  externalId: z.string().max(200).optional(),
  tag: tagField.optional(),
  status: z.enum(['active', 'suspended', 'deleted']).optional(),
  search: z.string().max(200).optional(),
});

export async function listSubAccounts(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const q = parseInput(listSchema, raw);
  const limit = q.limit ?? DEFAULT_PAGE;
  const after = q.cursor ? decodeCursor(deps.secretKey, q.cursor) : null;
  const rows = await deps.prisma.subAccount.findMany({
    where: {
      workspaceId: caller.workspaceId,
      externalId: q.externalId,
      defaultTag: q.tag,
      status: q.status,
      ...(q.search ? { name: { contains: q.search, mode: 'insensitive' as const } } : {}),
      ...(after
        ? {
            OR: [
              { createdAt: { gt: after.createdAt } },
              { createdAt: after.createdAt, id: { gt: after.id } },
            ],
          }
        : {}),
    },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: limit + 1,
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextCursor = rows.length > limit && last ? encodeCursor(deps.secretKey, last) : null;
  return { data: page, nextCursor };
}

export async function updateSubAccount(
  deps: ServiceDeps,
  caller: Caller,
  id: string,
  raw: unknown,
) {
  const input = parseInput(updateSchema, raw);
  const current = await findSubAccount(deps, caller, id);
  if (current.status === 'deleted') throw new NotFoundError('sub-account', id);
  await checkModels(deps, caller, input.allowedModels);
  return mutate(
    deps,
    caller,
    () => ({
      action: 'sub_account.update',
      targetType: 'sub_account',
      targetId: id,
      data: Object.keys(input),
    }),
    'sub_account',
    (tx: Tx) => tx.subAccount.update({ where: { id }, data: toData(input) }),
  );
}

/** Revokes the sub-account: every key stops working; the row and its usage stay queryable. */
export async function deleteSubAccount(deps: ServiceDeps, caller: Caller, id: string) {
  const current = await findSubAccount(deps, caller, id);
  if (current.status === 'deleted') throw new NotFoundError('sub-account', id);
  const now = deps.now?.() ?? new Date();
  return mutate(
    deps,
    caller,
    () => ({ action: 'sub_account.delete', targetType: 'sub_account', targetId: id }),
    'sub_account',
    async (tx: Tx) => {
      await tx.subAccountKey.updateMany({
        where: { subAccountId: id, revokedAt: null },
        data: { revokedAt: now },
      });
      return tx.subAccount.update({ where: { id }, data: { status: 'deleted', deletedAt: now } });
    },
  );
}

/** Spend of the current budget period: settled (from the books) and reserved (live counters). */
export async function periodSpend(deps: ServiceDeps, sa: SubAccount) {
  const now = deps.now?.() ?? new Date();
  const window = periodWindow(sa.budgetPeriod, now.getTime());
  const agg = await deps.prisma.usageRollupDaily.aggregate({
    where: { subAccountId: sa.id, day: { gte: new Date(window.start) } },
    _sum: { billedCostMicros: true },
  });
  const reserved = deps.reservations
    ? await deps.reservations.reservedMicros(
        sa.workspaceId,
        `sa:${sa.id}`,
        periodKey(sa.budgetPeriod, now.getTime()),
      )
    : 0;
  return {
    spentMicros: agg._sum.billedCostMicros ?? 0n,
    reservedMicros: BigInt(reserved),
    resetsAt: window.resetsAt === null ? null : new Date(window.resetsAt),
  };
}
