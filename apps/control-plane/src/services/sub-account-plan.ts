import type { InheritableField } from '@tollgate/policy';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../lib/errors.ts';
import type { Caller, ServiceDeps, Tx } from './context.ts';
import { findPlan, INHERITABLE_FIELDS, planValues } from './plans.ts';

/**
 * How a sub-account follows its plan: which settings it inherits and which it overrides, the plan
 * columns a create or update writes, and the rules a prepaid sub-account adds. The sub-account
 * service (sub-accounts.ts) validates and writes; this module only computes and checks.
 */

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

/** One entry of an update's `inherit` list: an API name of a plan setting → its policy field. */
export const inheritField = z
  .string()
  .refine((f) => f in API_FIELDS, 'not a setting a plan provides')
  .transform((f) => API_FIELDS[f]!);

export type PlanRow = Awaited<ReturnType<typeof findPlan>>;

/** A prepaid sub-account's cap is its credits and its period `total`: on a plan, both stay its own. */
const PREPAID_OWN: readonly InheritableField[] = ['spendCapMicros', 'budgetPeriod'];

export function prepaidOwn(given: readonly string[], prepaid: { prepaid?: boolean }): string[] {
  return prepaid.prepaid ? [...new Set([...given, ...PREPAID_OWN])] : [...given];
}

/** The plan a request names: an unknown name is bad input (400), not a missing resource. */
export async function namedPlan(deps: ServiceDeps, caller: Caller, ref: string): Promise<PlanRow> {
  try {
    return await findPlan(deps, caller, ref);
  } catch (err) {
    if (err instanceof NotFoundError)
      throw new ValidationError(`plan: unknown plan '${ref}'`, 'plan');
    throw err;
  }
}

/**
 * The plan a sub-account is on after an update: the one it names (`null` detaches), else the one
 * it is already on.
 */
export async function planAfterUpdate(
  deps: ServiceDeps,
  caller: Caller,
  currentPlanId: string | null,
  planRef: string | null | undefined,
): Promise<PlanRow | null> {
  if (planRef === undefined)
    return currentPlanId === null ? null : await findPlan(deps, caller, currentPlanId);
  return planRef === null ? null : await namedPlan(deps, caller, planRef);
}

/**
 * The `inherit` list of an update must name settings not also set in the request, needs a plan,
 * and cannot hand a prepaid sub-account's own settings (cap, period) to the plan.
 */
export function checkInherit(
  inherit: readonly InheritableField[],
  own: Partial<Record<InheritableField, unknown>>,
  plan: PlanRow | null,
  prepaid: boolean,
): void {
  const both = inherit.find((f) => f in own);
  if (both !== undefined)
    throw new ValidationError(`inherit: '${both}' is also set in this request`, 'inherit');
  if (inherit.length > 0 && plan === null)
    throw new ValidationError('inherit: the sub-account is not on a plan', 'inherit');
  const ownByPrepaid = inherit.find((f) => PREPAID_OWN.includes(f));
  if (ownByPrepaid !== undefined && prepaid)
    throw new ValidationError(
      `inherit: a prepaid sub-account's ${API_NAME[ownByPrepaid]} is its own (its credits)`,
      'inherit',
    );
}

/**
 * The plan row locked for this transaction: plan updates and deletions lock it too, so the values
 * copied from it are the ones in force when this change commits, and it cannot vanish meanwhile.
 */
export async function lockPlan(tx: Tx, plan: PlanRow): Promise<PlanRow> {
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
export function planColumns(
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
