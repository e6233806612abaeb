import type { Plan, Prisma } from '@tollgate/db';
import { INHERITABLE_FIELDS, type InheritableField } from '@tollgate/policy';
import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.ts';
import { newId } from '../lib/ids.ts';
import {
  budgetPeriodField,
  centsField,
  limitField,
  markupField,
  modelField,
  optionalFields,
  parseInput,
  tagField,
} from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import type { ListPage } from './pagination.ts';
import { knownModels } from './prices.ts';

/**
 * Plans: a named tier of sub-account settings (`free`, `pro`). A sub-account on a plan reads every
 * setting it does not override from the plan. The books keep each sub-account's effective values
 * materialised in its own columns (one set-based UPDATE per changed field when a plan changes), so
 * every reader of the books stays as it was; the data planes get the plan as one policy entity and
 * resolve it at lookup, so a plan change is one small delta however many sub-accounts are on it.
 */

const SLUG = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'plan names are 1–64 characters of a-z 0-9 _ -');

const planSettings = {
  spendCapCents: centsField.nullable(),
  budgetPeriod: budgetPeriodField,
  rateLimitRpm: limitField.nullable(),
  rateLimitRpd: limitField.nullable(),
  rateLimitTpm: limitField.nullable(),
  maxConcurrent: limitField.nullable(),
  allowedModels: z.array(modelField).max(500).nullable(),
  defaultTag: tagField.nullable(),
  markupPercent: markupField.nullable(),
  fallbackModel: modelField.nullable(),
};

const createSchema = z.strictObject({ name: SLUG, ...optionalFields(planSettings) });
const updateSchema = z.strictObject({ name: SLUG.optional(), ...optionalFields(planSettings) });
type PlanInput = z.infer<typeof updateSchema>;

/** The Plan/SubAccount column values of the inheritable settings present in `input`. */
export function inheritableData(input: {
  spendCapCents?: number | null;
  budgetPeriod?: 'monthly' | 'daily' | 'weekly' | 'total';
  rateLimitRpm?: number | null;
  rateLimitRpd?: number | null;
  rateLimitTpm?: number | null;
  maxConcurrent?: number | null;
  allowedModels?: string[] | null;
  defaultTag?: string | null;
  fallbackModel?: string | null;
}): Partial<Record<InheritableField, unknown>> {
  const out: Partial<Record<InheritableField, unknown>> = {};
  if (input.spendCapCents !== undefined)
    out.spendCapMicros = input.spendCapCents === null ? null : BigInt(input.spendCapCents);
  if (input.budgetPeriod !== undefined) out.budgetPeriod = input.budgetPeriod;
  if (input.rateLimitRpm !== undefined) out.rateLimitRpm = input.rateLimitRpm;
  if (input.rateLimitRpd !== undefined) out.rateLimitRpd = input.rateLimitRpd;
  if (input.rateLimitTpm !== undefined) out.rateLimitTpm = input.rateLimitTpm;
  if (input.maxConcurrent !== undefined) out.maxConcurrent = input.maxConcurrent;
  if (input.allowedModels !== undefined)
    out.allowedModels = [...new Set(input.allowedModels ?? [])];
  if (input.defaultTag !== undefined) out.defaultTag = input.defaultTag;
  if (input.fallbackModel !== undefined) out.fallbackModel = input.fallbackModel;
  return out;
}

/** The plan's values of the given inheritable settings (what a sub-account on it inherits). */
export function planValues(
  plan: Plan,
  fields: readonly InheritableField[],
): Partial<Record<InheritableField, unknown>> {
  const out: Partial<Record<InheritableField, unknown>> = {};
  for (const f of fields) out[f] = plan[f];
  return out;
}

/**
 * Models named by an allow-list or a fallback must have a price (else they could not be capped),
 * and the fallback must be inside the allow-list in force, else it could never serve.
 */
export async function checkPlanModels(
  deps: ServiceDeps,
  caller: Caller,
  allowed: readonly string[],
  fallback: string | null,
  field: { allowed: string; fallback: string },
) {
  const wanted = [...allowed, ...(fallback === null ? [] : [fallback])];
  if (wanted.length === 0) return;
  const known = await knownModels(deps, caller);
  const unknownAllowed = allowed.find((m) => !known.has(m));
  if (unknownAllowed !== undefined)
    throw new ValidationError(
      `${field.allowed}: unknown model '${unknownAllowed}' (no price)`,
      field.allowed,
    );
  if (fallback === null) return;
  if (!known.has(fallback))
    throw new ValidationError(
      `${field.fallback}: unknown model '${fallback}' (no price)`,
      field.fallback,
    );
  if (allowed.length > 0 && !allowed.includes(fallback))
    throw new ValidationError(
      `${field.fallback}: '${fallback}' is not in the allowed models`,
      field.fallback,
    );
}

function planData(input: PlanInput) {
  return {
    slug: input.name,
    ...inheritableData(input),
    markupBp: input.markupPercent,
  } as Prisma.PlanUncheckedUpdateInput;
}

export async function createPlan(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const input = parseInput(createSchema, raw);
  await checkPlanModels(deps, caller, input.allowedModels ?? [], input.fallbackModel ?? null, {
    allowed: 'allowedModels',
    fallback: 'fallbackModel',
  });
  const existing = await deps.prisma.plan.findUnique({
    where: { workspaceId_slug: { workspaceId: caller.workspaceId, slug: input.name } },
  });
  if (existing) throw new ConflictError(`a plan named '${input.name}' already exists`);
  return mutate(
    deps,
    caller,
    (p) => ({ action: 'plan.create', targetType: 'plan', targetId: p.id, data: { name: p.slug } }),
    'plan',
    (tx: Tx) =>
      tx.plan.create({
        data: {
          ...(planData(input) as Prisma.PlanUncheckedCreateInput),
          id: newId('plan'),
          workspaceId: caller.workspaceId,
          slug: input.name,
        },
      }),
  );
}

export function listPlans(
  deps: ServiceDeps,
  caller: Caller,
  page: ListPage<Prisma.PlanWhereInput> = {},
) {
  return deps.prisma.plan.findMany({
    where: { workspaceId: caller.workspaceId, ...page.after },
    orderBy: [{ slug: 'asc' }],
    take: page.take,
  });
}

/** A plan by id (`plan_…`) or by name (`pro`). */
export async function findPlan(deps: ServiceDeps | { prisma: Tx }, caller: Caller, ref: string) {
  const plan = await deps.prisma.plan.findFirst({
    where: { workspaceId: caller.workspaceId, OR: [{ id: ref }, { slug: ref }] },
  });
  if (!plan) throw new NotFoundError('plan', ref);
  return plan;
}

/** Sub-accounts on each plan (not counting deleted ones, which are detached on deletion). */
export async function planUsage(deps: ServiceDeps, planIds: string[]) {
  const rows = await deps.prisma.subAccount.groupBy({
    by: ['planId'],
    where: { planId: { in: planIds } },
    _count: { _all: true },
  });
  return new Map(rows.map((r) => [r.planId!, r._count._all]));
}

export async function updatePlan(deps: ServiceDeps, caller: Caller, ref: string, raw: unknown) {
  const input = parseInput(updateSchema, raw);
  const current = await findPlan(deps, caller, ref);
  const allowed =
    input.allowedModels === undefined ? current.allowedModels : (input.allowedModels ?? []);
  const fallback = input.fallbackModel === undefined ? current.fallbackModel : input.fallbackModel;
  await checkPlanModels(deps, caller, allowed, fallback, {
    allowed: input.allowedModels !== undefined ? 'allowedModels' : 'fallbackModel',
    fallback: 'fallbackModel',
  });
  if (input.name !== undefined && input.name !== current.slug) {
    const clash = await deps.prisma.plan.findUnique({
      where: { workspaceId_slug: { workspaceId: caller.workspaceId, slug: input.name } },
    });
    if (clash) throw new ConflictError(`a plan named '${input.name}' already exists`);
  }
  const changed = inheritableData(input);
  return mutate(
    deps,
    caller,
    () => ({
      action: 'plan.update',
      targetType: 'plan',
      targetId: current.id,
      data: Object.keys(input),
    }),
    'plan',
    async (tx: Tx) => {
      const plan = await tx.plan.update({ where: { id: current.id }, data: planData(input) });
      // Keep the books' effective values: one set-based UPDATE per changed setting, touching only
      // the sub-accounts on the plan that do not override it.
      for (const [field, value] of Object.entries(changed)) {
        await tx.subAccount.updateMany({
          where: { planId: plan.id, NOT: { overrides: { has: field } } },
          data: { [field]: value },
        });
      }
      // A sub-account overriding one of the two keeps its own: the pair it ends with (its fallback
      // inside its allow-list) must still hold, as it must when the sub-account itself is changed.
      if (input.allowedModels !== undefined || input.fallbackModel !== undefined) {
        const broken = (
          await tx.subAccount.findMany({
            where: { planId: plan.id, status: { not: 'deleted' }, fallbackModel: { not: null } },
            select: { id: true, name: true, allowedModels: true, fallbackModel: true },
            orderBy: { id: 'asc' },
          })
        ).find(
          (sa) => sa.allowedModels.length > 0 && !sa.allowedModels.includes(sa.fallbackModel!),
        );
        if (broken !== undefined) {
          throw new ConflictError(
            `sub-account '${broken.name}' (${broken.id}) on this plan would have its fallback model '${broken.fallbackModel}' outside its allowed models: change its own settings first`,
          );
        }
      }
      return plan;
    },
  );
}

export async function deletePlan(deps: ServiceDeps, caller: Caller, ref: string) {
  const plan = await findPlan(deps, caller, ref);
  return mutate(
    deps,
    caller,
    () => ({ action: 'plan.delete', targetType: 'plan', targetId: plan.id }),
    'plan',
    async (tx: Tx) => {
      // Locked first: a sub-account joining the plan meanwhile locks it too (sub-accounts.ts).
      await tx.$queryRaw`SELECT id FROM "Plan" WHERE id = ${plan.id} FOR UPDATE`;
      const users = await tx.subAccount.count({ where: { planId: plan.id } });
      if (users > 0)
        throw new ConflictError(
          `plan '${plan.slug}' is used by ${users} sub-account(s); move them to another plan first`,
        );
      return tx.plan.delete({ where: { id: plan.id } });
    },
  );
}

export { INHERITABLE_FIELDS };
