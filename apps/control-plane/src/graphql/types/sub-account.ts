import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { centsOf } from '../../lib/money.ts';
import { keysOf } from '../../services/keys.ts';
import { encodeCursor } from '../../services/pagination.ts';
import { inheritedFields } from '../../services/sub-account-plan.ts';
import {
  findSubAccount,
  listSubAccounts,
  type PeriodSpendOf,
  type periodSpend,
  periodSpends,
  subAccountsCursorScope,
} from '../../services/sub-account-reads.ts';
import * as subAccounts from '../../services/sub-accounts.ts';
import { callerFor, serviceInput, withInputErrors } from '../access.ts';
import { builder } from '../builder.ts';
import {
  BY_CREATION,
  connectionOf,
  createdPosition,
  type Keyset,
  pageArgs,
  pageRequest,
  paginate,
} from '../connections.ts';
import type { GraphQLContext } from '../context.ts';
import { BudgetPeriod, SettableSubAccountStatus, SubAccountStatus } from './common.ts';
import { MUTATION_ERRORS } from './errors.ts';
import { SubAccountKey } from './sub-account-key.ts';

type SubAccountRow = Parameters<typeof periodSpend>[1];
type KeyRow = typeof SubAccountKey.$inferType;

const SubAccountKeyConnection = builder.connectionObject({
  type: SubAccountKey,
  name: 'SubAccountKeyConnection',
});

/** A request's spend reads: each sub-account's once, however many of its three fields are asked,
 * and those asked in one turn — the rows of a page — read together (periodSpends). */
interface SpendReads {
  read: Map<string, Promise<PeriodSpendOf>>;
  queued: {
    sa: SubAccountRow;
    done: (spend: PeriodSpendOf) => void;
    fail: (err: unknown) => void;
  }[];
}
const spendByRequest = new WeakMap<GraphQLContext, SpendReads>();
function spendOf(ctx: GraphQLContext, sa: SubAccountRow): Promise<PeriodSpendOf> {
  let reads = spendByRequest.get(ctx);
  if (reads === undefined) {
    reads = { read: new Map(), queued: [] };
    spendByRequest.set(ctx, reads);
  }
  const known = reads.read.get(sa.id);
  if (known !== undefined) return known;
  const state = reads;
  const spend = new Promise<PeriodSpendOf>((done, fail) => {
    // The first of a turn schedules the read of all of them, after the turn's resolvers have run.
    if (state.queued.length === 0) setImmediate(() => readQueued(ctx, state));
    state.queued.push({ sa, done, fail });
  });
  reads.read.set(sa.id, spend);
  return spend;
}

function readQueued(ctx: GraphQLContext, reads: SpendReads) {
  const batch = reads.queued.splice(0);
  periodSpends(
    ctx.deps,
    batch.map((b) => b.sa),
  ).then(
    (spends) => {
      for (const b of batch) b.done(spends.get(b.sa.id)!);
    },
    (err) => {
      for (const b of batch) b.fail(err);
    },
  );
}

export const SubAccount = builder.prismaObject('SubAccount', {
  description:
    'An end customer of the operator: its own keys, cap, limits, allow-list and default tag.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    status: t.field({ type: SubAccountStatus, resolve: (sa) => sa.status }),
    externalId: t.exposeString('externalId', { nullable: true }),
    metadata: t.field({ type: 'JSON', resolve: (sa) => sa.metadata }),
    spendCapCents: t.float({ nullable: true, resolve: (sa) => centsOf(sa.spendCapMicros) }),
    budgetPeriod: t.field({ type: BudgetPeriod, resolve: (sa) => sa.budgetPeriod }),
    rateLimitRpm: t.exposeInt('rateLimitRpm', { nullable: true }),
    rateLimitRpd: t.exposeInt('rateLimitRpd', { nullable: true }),
    rateLimitTpm: t.exposeInt('rateLimitTpm', { nullable: true }),
    maxConcurrent: t.exposeInt('maxConcurrent', { nullable: true }),
    allowedModels: t.exposeStringList('allowedModels', {
      description: 'Empty = every priced model.',
    }),
    defaultTag: t.exposeString('defaultTag', { nullable: true }),
    prepaid: t.exposeBoolean('prepaid', {
      description: 'Spends a balance of credits; `spendCapCents` is then the sum of its credits.',
    }),
    lowBalanceThresholdCents: t.float({
      nullable: true,
      description: '`balance.low` fires below this; null = 10 % of the credits.',
      resolve: (sa) => centsOf(sa.lowBalanceThresholdMicros),
    }),
    fallbackModel: t.exposeString('fallbackModel', {
      nullable: true,
      description:
        "Served instead when the requested model's worst case no longer fits the budget.",
    }),
    plan: t.relation('plan', { nullable: true }),
    inheritedFromPlan: t.stringList({
      description:
        'Settings whose value comes from the plan (REST names, e.g. `rate_limit_rpm`); the others are set on the sub-account. Empty without a plan.',
      resolve: (sa) => inheritedFields(sa),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true }),
    spentCents: t.float({
      description: 'Settled spend of the current budget period.',
      resolve: async (sa, _args, ctx) => centsOf((await spendOf(ctx, sa)).spentMicros)!,
    }),
    reservedCents: t.float({
      description: 'Spend reserved by requests in flight.',
      resolve: async (sa, _args, ctx) => centsOf((await spendOf(ctx, sa)).reservedMicros)!,
    }),
    resetsAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the current period ends; null for `total`.',
      resolve: async (sa, _args, ctx) => (await spendOf(ctx, sa)).resetsAt,
    }),
    keys: t.field({
      type: SubAccountKeyConnection,
      description:
        'Every key, revoked and expired included, oldest first (creation time, then id).',
      errors: { types: [ValidationError] },
      args: pageArgs(),
      resolve: (sa, args, ctx) => {
        const keyset: Keyset<KeyRow> = {
          scope: { list: 'subAccount.keys', workspaceId: sa.workspaceId, parentId: sa.id },
          shape: BY_CREATION,
          position: createdPosition,
        };
        return paginate(ctx, keyset, args, (after, take) => keysOf(ctx.deps, sa, { after, take }));
      },
    }),
  }),
});

const SubAccountConnection = builder.connectionObject({
  type: SubAccount,
  name: 'SubAccountConnection',
});

const CreateSubAccountPayload = builder
  .objectRef<{ subAccount: SubAccountRow; key: string; keyId: string }>('CreateSubAccountPayload')
  .implement({
    fields: (t) => ({
      subAccount: t.field({ type: SubAccount, resolve: (p) => p.subAccount }),
      key: t.exposeString('key', { description: 'Its first key (`sk-tg-…`), shown this once.' }),
      keyId: t.exposeID('keyId', { description: 'The id of that key (to revoke it later).' }),
    }),
  });

/** Settings shared by create and update, named as the services name them. */
const CLEARABLE = [
  'spendCapCents',
  'rateLimitRpm',
  'rateLimitRpd',
  'rateLimitTpm',
  'maxConcurrent',
  'allowedModels',
  'defaultTag',
  'externalId',
  'lowBalanceThresholdCents',
  'fallbackModel',
  'plan',
] as const;

const CreateSubAccountInput = builder.inputType('CreateSubAccountInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    spendCapCents: t.float(),
    rateLimitRpm: t.int(),
    rateLimitRpd: t.int(),
    rateLimitTpm: t.int(),
    maxConcurrent: t.int(),
    allowedModels: t.stringList({ description: 'Absent or empty = every priced model.' }),
    defaultTag: t.string(),
    externalId: t.string(),
    metadata: t.field({ type: 'JSON', description: 'A JSON object, at most 16 KiB.' }),
    budgetPeriod: t.field({ type: BudgetPeriod, description: 'Default `monthly`.' }),
    prepaid: t.boolean({ description: 'Prepaid balance (needs budget period `total`, implied).' }),
    lowBalanceThresholdCents: t.int(),
    fallbackModel: t.string(),
    plan: t.string({
      description: 'Plan name or id: the settings not given here are read from the plan.',
    }),
  }),
});

const UpdateSubAccountInput = builder.inputType('UpdateSubAccountInput', {
  description: `Absent fields stay unchanged; null clears ${CLEARABLE.join(', ')}.`,
  fields: (t) => ({
    name: t.string(),
    status: t.field({ type: SettableSubAccountStatus }),
    spendCapCents: t.float(),
    rateLimitRpm: t.int(),
    rateLimitRpd: t.int(),
    rateLimitTpm: t.int(),
    maxConcurrent: t.int(),
    allowedModels: t.stringList(),
    defaultTag: t.string(),
    externalId: t.string(),
    metadata: t.field({ type: 'JSON' }),
    budgetPeriod: t.field({ type: BudgetPeriod }),
    prepaid: t.boolean(),
    lowBalanceThresholdCents: t.int(),
    fallbackModel: t.string(),
    plan: t.string({ description: 'Plan name or id; null detaches (settings stay as they are).' }),
    inherit: t.stringList({
      description:
        'Settings that stop being overridden and follow the plan again (`rateLimitRpm`).',
    }),
  }),
});

builder.queryFields((t) => ({
  subAccounts: t.field({
    type: SubAccountConnection,
    description: 'Sub-accounts, oldest first (creation time, then id), forward pages of `first`.',
    errors: { types: [ValidationError] },
    args: {
      ...pageArgs(),
      externalId: t.arg.string(),
      tag: t.arg.string({ description: 'Default tag.' }),
      status: t.arg({ type: SubAccountStatus }),
      search: t.arg.string({ description: 'Case-insensitive substring of the name.' }),
    },
    resolve: async (_root, { first, after, ...filters }, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      const keyset: Keyset<SubAccountRow> = {
        scope: { list: 'subAccounts', workspaceId: caller.workspaceId },
        shape: BY_CREATION,
        position: createdPosition,
      };
      const request = pageRequest(ctx, keyset, { first, after });
      // The service pages by its own cursor: the position of the GraphQL cursor, signed its way.
      const cursor = request.after
        ? encodeCursor(ctx.deps.secretKey, subAccountsCursorScope(caller.workspaceId), {
            createdAt: new Date(Number(request.after[0])),
            id: String(request.after[1]),
          })
        : undefined;
      const page = await withInputErrors(
        listSubAccounts(
          ctx.deps,
          caller,
          serviceInput({ limit: request.size, cursor, ...filters }),
        ),
        { limit: 'first', cursor: 'after' },
      );
      return connectionOf(ctx, keyset, {
        rows: page.data,
        after: request.after,
        hasNextPage: page.nextCursor !== null,
      });
    },
  }),
  subAccount: t.field({
    type: SubAccount,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => findSubAccount(ctx.deps, callerFor(ctx, 'workspace.read'), id),
  }),
}));

builder.mutationFields((t) => ({
  createSubAccount: t.field({
    type: CreateSubAccountPayload,
    errors: { types: MUTATION_ERRORS },
    args: { input: t.arg({ type: CreateSubAccountInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      subAccounts.createSubAccount(
        ctx.deps,
        callerFor(ctx, 'workspace.write'),
        serviceInput(input),
      ),
  }),
  updateSubAccount: t.field({
    type: SubAccount,
    description: 'Takes effect on every data plane within 1 s.',
    errors: { types: MUTATION_ERRORS },
    args: {
      id: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateSubAccountInput, required: true }),
    },
    resolve: (_root, { id, input }, ctx) =>
      subAccounts.updateSubAccount(
        ctx.deps,
        callerFor(ctx, 'workspace.write'),
        id,
        serviceInput(input, CLEARABLE),
      ),
  }),
  deleteSubAccount: t.field({
    type: SubAccount,
    description: 'Revokes the sub-account and its keys; its usage stays queryable.',
    errors: { types: MUTATION_ERRORS },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      subAccounts.deleteSubAccount(ctx.deps, callerFor(ctx, 'workspace.write'), id),
  }),
}));
