import type { SubAccount } from '@tollgate/db';
import { type InheritableField, periodKey, periodWindow } from '@tollgate/policy';
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
import {
  checkPlanModels,
  findPlan,
  INHERITABLE_FIELDS,
  inheritableData,
  planValues,
} from './plans.ts';
import { prepaidData, prepaidSettings } from './prepaid.ts';

/** API names (snake_case and camelCase) of the settings a plan provides → policy field names. */
const API_FIELDS: Record<string, InheritableField> = {
  spend_cap_cents: 'spendCapMicros',
  budget_period: 'budgetPeriod',
  rate_limit_rpm: 'rateLimitRpm',
  rate_limit_rpd: 'rateLimitRpd',
  rate_limit_tpm: 'rateLimitTpm',
  max_concurrent: 'maxConcurrent',
  allowed_models: 'allowedModels',
  default_tag: 'defaultTag',
  fallback_model: 'fallbackModel',
  spendCapCents: 'spendCapMicros',
  budgetPeriod: 'budgetPeriod',
  rateLimitRpm: 'rateLimitRpm',
  rateLimitRpd: 'rateLimitRpd',
  rateLimitTpm: 'rateLimitTpm',
  maxConcurrent: 'maxConcurrent',
  allowedModels: 'allowedModels',
  defaultTag: 'defaultTag',
  fallbackModel: 'fallbackModel',
};

/** Policy field name → snake_case API name, for responses. */
export const API_NAME: Record<InheritableField, string> = {
  spendCapMicros: 'spend_cap_cents',
  budgetPeriod: 'budget_period',
  rateLimitRpm: 'rate_limit_rpm',
  rateLimitRpd: 'rate_limit_rpd',
  rateLimitTpm: 'rate_limit_tpm',
  maxConcurrent: 'max_concurrent',
  allowedModels: 'allowed_models',
  defaultTag: 'default_tag',
  fallbackModel: 'fallback_model',
};

/** Settings of a sub-account on a plan that come from the plan (not overridden), as API names. */
export function inheritedFields(sa: { planId: string | null; overrides: string[] }): string[] {
  if (sa.planId === null) return [];
  return INHERITABLE_FIELDS.filter((f) => !sa.overrides.includes(f)).map((f) => API_NAME[f]);
}

const withPlan = { plan: { select: { slug: true } } } as const;

const inheritField = z
  .string()
  .refine((f) => f in API_FIELDS, 'not a setting a plan provides')
  .transform((f) => API_FIELDS[f]!);

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
  ...prepaidSettings,
  fallbackModel: modelField.nullable(),
  /** Plan by name or id; null detaches (the effective settings stay as the sub-account's own). */
  plan: z.string().min(1).max(128).nullable(),
};

const createSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  ...partial(settings),
});
const updateSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  status: z.enum(['active', 'suspended']).optional(),
  /** Settings that stop being overridden and follow the plan again. */
  inherit: z.array(inheritField).max(20).optional(),
  ...partial(settings),
});

function partial<T extends Record<string, z.ZodType>>(
  shape: T,
): { [K in keyof T]: z.ZodOptional<T[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as never;
}

type Settings = z.infer<typeof updateSchema>;

/** Prisma data for the settings present in the input (absent = unchanged, null = cleared). */
function toData(input: Omit<Settings, 'inherit' | 'plan'>) {
  return {
    name: input.name,
    status: input.status,
    ...inheritableData(input),
    externalId: input.externalId,
    metadata: input.metadata as never,
  };
}

type PlanRow = Awaited<ReturnType<typeof findPlan>>;

/** A prepaid sub-account's cap is its credits and its period `total`: on a plan, both stay its own. */
const PREPAID_OWN: readonly InheritableField[] = ['spendCapMicros', 'budgetPeriod'];

function prepaidOwn(given: readonly string[], prepaid: { prepaid?: boolean }): string[] {
  return prepaid.prepaid ? [...new Set([...given, ...PREPAID_OWN])] : [...given];
}

/** The plan a request names: an unknown name is bad input (400), not a missing resource. */
async function namedPlan(deps: ServiceDeps, caller: Caller, ref: string): Promise<PlanRow> {
  try {
    return await findPlan(deps, caller, ref);
  } catch (err) {
    if (err instanceof NotFoundError)
      throw new ValidationError(`plan: unknown plan '${ref}'`, 'plan');
    throw err;
  }
}

/**
 * The plan row locked for this transaction: plan updates and deletions lock it too, so the values
 * copied from it are the ones in force when this change commits, and it cannot vanish meanwhile.
 */
async function lockPlan(tx: Tx, plan: PlanRow): Promise<PlanRow> {
  await tx.$queryRaw`SELECT id FROM "Plan" WHERE id = ${plan.id} FOR UPDATE`;
  const fresh = await tx.plan.findUnique({ where: { id: plan.id } });
  if (!fresh) throw new ValidationError(`plan: unknown plan '${plan.slug}'`, 'plan');
  return fresh;
}

/**
 * Plan columns of a create or update: the plan's values for every setting not overridden, the
 * overrides, and the plan id. `given` are the settings set in this request; `kept` the overrides
 * the sub-account already had (none when it was not on a plan: attaching starts afresh).
 */
function planColumns(
  plan: PlanRow | null,
  given: readonly string[],
  kept: readonly string[],
  inherit: readonly InheritableField[],
) {
  if (plan === null) return { planId: null, overrides: [] as string[] };
  const overrides = new Set<string>([...kept, ...given]);
  for (const f of inherit) overrides.delete(f);
  const inherited = INHERITABLE_FIELDS.filter((f) => !overrides.has(f));
  return {
    ...planValues(plan, inherited),
    planId: plan.id,
    overrides: INHERITABLE_FIELDS.filter((f) => overrides.has(f)),
  };
}

export async function createSubAccount(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const { plan: planRef, ...input } = parseInput(createSchema, raw);
  const plan = planRef == null ? null : await namedPlan(deps, caller, planRef);
  const own = inheritableData(input);
  const columns = planColumns(plan, Object.keys(own), [], []);
  const effective = { ...columns, ...own } as Record<string, unknown>;
  await checkPlanModels(
    deps,
    caller,
    (effective.allowedModels as string[] | undefined) ?? [],
    (effective.fallbackModel as string | null | undefined) ?? null,
    { allowed: 'allowedModels', fallback: 'fallbackModel' },
  );
  const key = mintKey('sub_account');
  const subAccount = await mutate(
    deps,
    caller,
    (sa) => ({ action: 'sub_account.create', targetType: 'sub_account', targetId: sa.id }),
    'sub_account',
    async (tx: Tx) => {
      const id = newId('sa');
      const locked = plan === null ? null : await lockPlan(tx, plan);
      const prepaidCols = await prepaidData(tx, input, null);
      const created = await tx.subAccount.create({
        data: {
          ...planColumns(locked, prepaidOwn(Object.keys(own), prepaidCols), [], []),
          ...toData(input),
          ...prepaidCols,
          id,
          name: input.name,
          workspaceId: caller.workspaceId,
        } as never,
        include: withPlan,
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
): Promise<SubAccount & { plan: { slug: string } | null }> {
  const sa = await deps.prisma.subAccount.findFirst({
    where: { id, workspaceId: caller.workspaceId },
    include: withPlan,
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
    include: withPlan,
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
  const { plan: planRef, inherit = [], ...input } = parseInput(updateSchema, raw);
  const current = await findSubAccount(deps, caller, id);
  if (current.status === 'deleted') throw new NotFoundError('sub-account', id);
  const plan =
    planRef === undefined
      ? current.planId === null
        ? null
        : await findPlan(deps, caller, current.planId)
      : planRef === null
        ? null
        : await namedPlan(deps, caller, planRef);
  const own = inheritableData(input);
  const both = inherit.find((f) => f in own);
  if (both !== undefined)
    throw new ValidationError(`inherit: '${both}' is also set in this request`, 'inherit');
  if (inherit.length > 0 && plan === null)
    throw new ValidationError('inherit: the sub-account is not on a plan', 'inherit');
  const ownByPrepaid = inherit.find((f) => PREPAID_OWN.includes(f));
  if (ownByPrepaid !== undefined && (input.prepaid ?? current.prepaid))
    throw new ValidationError(
      `inherit: a prepaid sub-account's ${API_NAME[ownByPrepaid]} is its own (its credits)`,
      'inherit',
    );
  const columns = planColumns(
    plan,
    Object.keys(own),
    current.planId === null ? [] : current.overrides,
    inherit,
  );
  const effective = { ...current, ...columns, ...own } as Record<string, unknown>;
  if (
    planRef !== undefined ||
    input.allowedModels !== undefined ||
    input.fallbackModel !== undefined ||
    inherit.length > 0
  ) {
    await checkPlanModels(
      deps,
      caller,
      effective.allowedModels as string[],
      (effective.fallbackModel as string | null) ?? null,
      {
        allowed: input.allowedModels !== undefined ? 'allowedModels' : 'fallbackModel',
        fallback: 'fallbackModel',
      },
    );
  }
  return mutate(
    deps,
    caller,
    () => ({
      action: 'sub_account.update',
      targetType: 'sub_account',
      targetId: id,
      data: [
        ...Object.keys(input),
        ...(planRef !== undefined ? ['plan'] : []),
        ...(inherit.length > 0 ? ['inherit'] : []),
      ],
    }),
    'sub_account',
    async (tx: Tx) => {
      const locked = plan === null ? null : await lockPlan(tx, plan);
      const kept = current.planId === null ? [] : current.overrides;
      const prepaidCols = await prepaidData(tx, input, current);
      const isPrepaid = prepaidCols.prepaid ?? current.prepaid;
      return tx.subAccount.update({
        where: { id },
        data: {
          ...planColumns(
            locked,
            prepaidOwn(Object.keys(own), { prepaid: isPrepaid }),
            kept,
            inherit,
          ),
          ...toData(input),
          ...prepaidCols,
        } as never,
        include: withPlan,
      });
    },
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
      // Detached from its plan (the effective settings stay as its own), so the plan can go.
      return tx.subAccount.update({
        where: { id },
        data: { status: 'deleted', deletedAt: now, planId: null, overrides: [] },
        include: withPlan,
      });
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
