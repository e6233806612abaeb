import { ValidationError } from '../../lib/errors.ts';
import { centsOf } from '../../lib/money.ts';
import * as workspaces from '../../services/workspaces.ts';
import { callerFor, serviceInput } from '../access.ts';
import { builder } from '../builder.ts';
import { BY_CREATION, createdPosition, pageArgs, paginate } from '../connections.ts';
import { BudgetPeriod } from './common.ts';
import { MUTATION_ERRORS } from './errors.ts';

export const Workspace = builder.prismaObject('Workspace', {
  description: 'An operator tenant; its cap covers all its sub-accounts.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    markupPercent: t.float({ resolve: (ws) => ws.markupBp / 100 }),
    spendCapCents: t.float({ nullable: true, resolve: (ws) => centsOf(ws.spendCapMicros) }),
    budgetPeriod: t.field({ type: BudgetPeriod, resolve: (ws) => ws.budgetPeriod }),
    byokWaivesMarkup: t.exposeBoolean('byokWaivesMarkup'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WorkspaceConnection = builder.connectionObject({
  type: Workspace,
  name: 'WorkspaceConnection',
});

const CreateWorkspacePayload = builder
  .objectRef<{ workspace: typeof Workspace.$inferType; adminKey: string }>('CreateWorkspacePayload')
  .implement({
    fields: (t) => ({
      workspace: t.field({ type: Workspace, resolve: (p) => p.workspace }),
      adminKey: t.exposeString('adminKey', {
        description: 'The first admin key (`sk-tg-admin-…`), shown this once.',
      }),
    }),
  });

const UpdateWorkspaceInput = builder.inputType('UpdateWorkspaceInput', {
  description: 'Absent fields stay unchanged; `spendCapCents: null` removes the cap.',
  fields: (t) => ({
    markupPercent: t.float(),
    spendCapCents: t.float(),
    budgetPeriod: t.field({ type: BudgetPeriod }),
    byokWaivesMarkup: t.boolean(),
  }),
});

builder.queryFields((t) => ({
  workspace: t.field({
    type: Workspace,
    description: "The caller's own workspace (admin key).",
    resolve: (_root, _args, ctx) =>
      workspaces.getWorkspace(ctx.deps, callerFor(ctx, 'workspace.read')),
  }),
  workspaces: t.field({
    type: WorkspaceConnection,
    description: 'Every workspace (root key), oldest first (creation time, then id).',
    errors: { types: [ValidationError] },
    args: pageArgs(),
    resolve: (_root, args, ctx) => {
      callerFor(ctx, 'workspaces.manage');
      const keyset = {
        scope: { list: 'workspaces', workspaceId: '' },
        shape: BY_CREATION,
        position: createdPosition,
      };
      return paginate(ctx, keyset, args, (after, take) =>
        workspaces.listWorkspaces(ctx.deps, { after, take }),
      );
    },
  }),
}));

builder.mutationFields((t) => ({
  createWorkspace: t.field({
    type: CreateWorkspacePayload,
    description: 'Creates a workspace with its first admin key (root key).',
    errors: { types: MUTATION_ERRORS },
    args: {
      name: t.arg.string({ required: true }),
      markupPercent: t.arg.float(),
    },
    resolve: (_root, args, ctx) => {
      const { actor } = callerFor(ctx, 'workspaces.manage');
      return workspaces.createWorkspace(ctx.deps, actor, serviceInput(args));
    },
  }),
  updateWorkspace: t.field({
    type: Workspace,
    errors: { types: MUTATION_ERRORS },
    args: { input: t.arg({ type: UpdateWorkspaceInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      workspaces.updateWorkspace(
        ctx.deps,
        callerFor(ctx, 'workspace.write'),
        serviceInput(input, ['spendCapCents']),
      ),
  }),
}));
