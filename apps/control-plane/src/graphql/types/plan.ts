import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { centsOf } from '../../lib/money.ts';
import * as plans from '../../services/plans.ts';
import { callerFor, serviceInput } from '../access.ts';
import { builder } from '../builder.ts';
import { pageArgs, paginate } from '../connections.ts';
import { BudgetPeriod } from './common.ts';
import { MUTATION_ERRORS } from './errors.ts';

export const Plan = builder.prismaObject('Plan', {
  description:
    'A tier of settings sub-accounts reference; a setting a sub-account does not override is read from its plan.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('slug', { description: 'What `plan` names on a sub-account (`pro`).' }),
    spendCapCents: t.float({ nullable: true, resolve: (p) => centsOf(p.spendCapMicros) }),
    budgetPeriod: t.field({ type: BudgetPeriod, resolve: (p) => p.budgetPeriod }),
    rateLimitRpm: t.exposeInt('rateLimitRpm', { nullable: true }),
    rateLimitRpd: t.exposeInt('rateLimitRpd', { nullable: true }),
    rateLimitTpm: t.exposeInt('rateLimitTpm', { nullable: true }),
    maxConcurrent: t.exposeInt('maxConcurrent', { nullable: true }),
    allowedModels: t.exposeStringList('allowedModels', {
      description: 'Empty = every priced model.',
    }),
    defaultTag: t.exposeString('defaultTag', { nullable: true }),
    markupPercent: t.float({
      nullable: true,
      description: "Markup for the plan's sub-accounts; null = the workspace markup.",
      resolve: (p) => (p.markupBp === null ? null : p.markupBp / 100),
    }),
    fallbackModel: t.exposeString('fallbackModel', {
      nullable: true,
      description:
        "Served instead when the requested model's worst case no longer fits the budget.",
    }),
    subAccountCount: t.int({
      description: 'Sub-accounts on the plan (deleted ones are detached).',
      resolve: async (p, _args, ctx) => (await plans.planUsage(ctx.deps, [p.id])).get(p.id) ?? 0,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const PlanConnection = builder.connectionObject({ type: Plan, name: 'PlanConnection' });

/** Settings a PATCH may clear with null. */
const CLEARABLE = [
  'spendCapCents',
  'rateLimitRpm',
  'rateLimitRpd',
  'rateLimitTpm',
  'maxConcurrent',
  'allowedModels',
  'defaultTag',
  'markupPercent',
  'fallbackModel',
] as const;

const PlanSettings = (required: boolean) =>
  builder.inputType(required ? 'CreatePlanInput' : 'UpdatePlanInput', {
    ...(required
      ? {}
      : { description: `Absent fields stay unchanged; null clears ${CLEARABLE.join(', ')}.` }),
    fields: (t) => ({
      name: t.string({ required }),
      spendCapCents: t.float(),
      budgetPeriod: t.field({ type: BudgetPeriod }),
      rateLimitRpm: t.int(),
      rateLimitRpd: t.int(),
      rateLimitTpm: t.int(),
      maxConcurrent: t.int(),
      allowedModels: t.stringList(),
      defaultTag: t.string(),
      markupPercent: t.float(),
      fallbackModel: t.string(),
    }),
  });
const CreatePlanInput = PlanSettings(true);
const UpdatePlanInput = PlanSettings(false);

builder.queryFields((t) => ({
  plans: t.field({
    type: PlanConnection,
    description: 'Plans, by name (ascending; names are unique).',
    errors: { types: [ValidationError] },
    args: pageArgs(),
    resolve: (_root, args, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      const keyset = {
        scope: { list: 'plans', workspaceId: caller.workspaceId },
        shape: ['string'] as const,
        position: (p: { slug: string }) => [p.slug],
      };
      return paginate(ctx, keyset, args, (after, take) =>
        plans.listPlans(ctx.deps, caller, {
          after: after ? { slug: { gt: String(after[0]) } } : undefined,
          take,
        }),
      );
    },
  }),
  plan: t.field({
    type: Plan,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id({ required: true, description: 'Plan id or name.' }) },
    resolve: (_root, { id }, ctx) => plans.findPlan(ctx.deps, callerFor(ctx, 'workspace.read'), id),
  }),
}));

builder.mutationFields((t) => ({
  createPlan: t.field({
    type: Plan,
    errors: { types: MUTATION_ERRORS },
    args: { input: t.arg({ type: CreatePlanInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      plans.createPlan(ctx.deps, callerFor(ctx, 'workspace.write'), serviceInput(input)),
  }),
  updatePlan: t.field({
    type: Plan,
    description: 'Every sub-account on the plan follows on every data plane within 1 s.',
    errors: { types: MUTATION_ERRORS },
    args: {
      id: t.arg.id({ required: true, description: 'Plan id or name.' }),
      input: t.arg({ type: UpdatePlanInput, required: true }),
    },
    resolve: (_root, { id, input }, ctx) =>
      plans.updatePlan(
        ctx.deps,
        callerFor(ctx, 'workspace.write'),
        id,
        serviceInput(input, CLEARABLE),
      ),
  }),
  deletePlan: t.field({
    type: Plan,
    description: 'Refused (conflict) while sub-accounts are on the plan.',
    errors: { types: MUTATION_ERRORS },
    args: { id: t.arg.id({ required: true, description: 'Plan id or name.' }) },
    resolve: (_root, { id }, ctx) =>
      plans.deletePlan(ctx.deps, callerFor(ctx, 'workspace.write'), id),
  }),
}));
