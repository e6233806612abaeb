import type { SubAccount } from '@tollgate/db';
import type { InheritableField } from '@tollgate/policy';
import { z } from 'zod';
import { mintKey, newId } from '../lib/ids.ts';
import { centsOf } from '../lib/money.ts';
import {
  budgetPeriodField,
  centsField,
  limitField,
  metadataField,
  modelField,
  optionalFields,
  parseInput,
  tagField,
} from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import { checkPlanModels, inheritableData } from './plans.ts';
import { prepaidData, prepaidSettings } from './prepaid.ts';
import {
  checkInherit,
  inheritField,
  lockPlan,
  namedPlan,
  type PlanRow,
  planAfterUpdate,
  planColumns,
  prepaidOwn,
} from './sub-account-plan.ts';
import { deletedError, findSubAccount, withPlan } from './sub-account-reads.ts';

/**
 * Creating, changing and deleting sub-accounts. Reading them is in sub-account-reads.ts, how one
 * follows its plan in sub-account-plan.ts, its further keys in keys.ts.
 */

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
  ...optionalFields(settings),
});
const updateSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  status: z.enum(['active', 'suspended']).optional(),
  /** Settings that stop being overridden and follow the plan again. */
  inherit: z.array(inheritField).max(20).optional(),
  ...optionalFields(settings),
});

type Settings = z.infer<typeof updateSchema>;
type UpdateInput = Omit<Settings, 'inherit' | 'plan'>;

/**
 * Prisma data for the settings present in the input (absent = unchanged, null = cleared); the
 * metadata is written apart, by writeMetadata.
 */
function toData(input: UpdateInput) {
  return {
    name: input.name,
    status: input.status,
    ...inheritableData(input),
    externalId: input.externalId,
  };
}

/**
 * Stores the metadata exactly as sent and answers the row as stored. Not through Prisma's query
 * arguments: their serializer rebuilds nested objects by assigning key by key, which sets the
 * prototype instead of keeping a `__proto__` key; the JSON text cast to jsonb keeps every key.
 */
async function writeMetadata(tx: Tx, id: string, metadata: Record<string, unknown>) {
  await tx.$executeRaw`UPDATE "SubAccount" SET metadata = ${JSON.stringify(metadata)}::jsonb WHERE id = ${id}`;
  return tx.subAccount.findUniqueOrThrow({ where: { id }, include: withPlan });
}

/**
 * The allow-list and fallback the sub-account will have (its own settings over its plan's) must
 * name priced models; `allowedField` is the field a bad allow-list is blamed on.
 */
function checkEffectiveModels(
  deps: ServiceDeps,
  caller: Caller,
  effective: { allowedModels?: unknown; fallbackModel?: unknown },
  allowedField: string,
): Promise<void> {
  return checkPlanModels(
    deps,
    caller,
    (effective.allowedModels as string[] | undefined) ?? [],
    (effective.fallbackModel as string | null | undefined) ?? null,
    { allowed: allowedField, fallback: 'fallbackModel' },
  );
}

export async function createSubAccount(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const { plan: planRef, ...input } = parseInput(createSchema, raw);
  const plan = planRef == null ? null : await namedPlan(deps, caller, planRef);
  const own = inheritableData(input);
  const columns = planColumns(plan, Object.keys(own), [], []);
  await checkEffectiveModels(deps, caller, { ...columns, ...own }, 'allowedModels');
  const key = mintKey('sub_account');
  const keyId = newId('key');
  const { created: subAccount, events } = await mutate(
    deps,
    caller,
    ({ created }) => ({
      action: 'sub_account.create',
      targetType: 'sub_account',
      targetId: created.id,
    }),
    'sub_account',
    async (tx: Tx) => {
      const id = newId('sa');
      const locked = plan === null ? null : await lockPlan(tx, plan);
      const prepaidCols = await prepaidData(tx, input, null);
      let created = await tx.subAccount.create({
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
      if (input.metadata !== undefined) created = await writeMetadata(tx, id, input.metadata);
      await tx.subAccountKey.create({
        data: {
          id: keyId,
          subAccountId: id,
          workspaceId: caller.workspaceId,
          hash: key.hash,
          prefix: key.prefix,
        },
      });
      const events =
        (await deps.createdEvents?.store(tx, caller.workspaceId, id, {
          name: created.name,
          external_id: created.externalId,
          spend_cap_cents: centsOf(created.spendCapMicros),
          budget_period: created.budgetPeriod,
        })) ?? [];
      return { created, events };
    },
  );
  deps.createdEvents?.announce(events);
  return { subAccount, key: key.plaintext, keyId };
}

export async function updateSubAccount(
  deps: ServiceDeps,
  caller: Caller,
  id: string,
  raw: unknown,
) {
  const { plan: planRef, inherit = [], ...input } = parseInput(updateSchema, raw);
  const current = await findSubAccount(deps, caller, id);
  if (current.status === 'deleted') throw deletedError(id);
  const plan = await planAfterUpdate(deps, caller, current.planId, planRef);
  const own = inheritableData(input);
  checkInherit(inherit, own, plan, input.prepaid ?? current.prepaid);
  const kept = current.planId === null ? [] : current.overrides;
  const change = { input, given: Object.keys(own), kept, inherit };
  const modelsMayChange =
    planRef !== undefined ||
    input.allowedModels !== undefined ||
    input.fallbackModel !== undefined ||
    inherit.length > 0;
  if (modelsMayChange) {
    const columns = planColumns(plan, change.given, kept, inherit);
    const blamed = input.allowedModels !== undefined ? 'allowedModels' : 'fallbackModel';
    await checkEffectiveModels(deps, caller, { ...current, ...columns, ...own }, blamed);
  }
  // The audit entry names the settings given, and `plan` / `inherit` when used.
  const changed = [
    ...Object.keys(input),
    ...(planRef !== undefined ? ['plan'] : []),
    ...(inherit.length > 0 ? ['inherit'] : []),
  ];
  return mutate(
    deps,
    caller,
    () => ({
      action: 'sub_account.update',
      targetType: 'sub_account',
      targetId: id,
      data: changed,
    }),
    'sub_account',
    (tx: Tx) => writeUpdate(tx, current, plan, change),
  );
}

/**
 * The row an update writes, inside its transaction: the plan's values as locked now for every
 * setting not overridden (`given`: set in this request; `kept`: overrides it already had), then
 * the settings given, with the prepaid rules applied.
 */
async function writeUpdate(
  tx: Tx,
  current: SubAccount,
  plan: PlanRow | null,
  change: {
    input: UpdateInput;
    given: string[];
    kept: readonly string[];
    inherit: readonly InheritableField[];
  },
) {
  const locked = plan === null ? null : await lockPlan(tx, plan);
  const prepaidCols = await prepaidData(tx, change.input, current);
  const isPrepaid = prepaidCols.prepaid ?? current.prepaid;
  const updated = await tx.subAccount.update({
    where: { id: current.id },
    data: {
      ...planColumns(
        locked,
        prepaidOwn(change.given, { prepaid: isPrepaid }),
        change.kept,
        change.inherit,
      ),
      ...toData(change.input),
      ...prepaidCols,
    } as never,
    include: withPlan,
  });
  const { metadata } = change.input;
  return metadata === undefined ? updated : writeMetadata(tx, current.id, metadata);
}

/** Revokes the sub-account: every key stops working; the row and its usage stay queryable. */
export async function deleteSubAccount(deps: ServiceDeps, caller: Caller, id: string) {
  const current = await findSubAccount(deps, caller, id);
  // Deleting twice is harmless: the sub-account as it is.
  if (current.status === 'deleted') return current;
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
