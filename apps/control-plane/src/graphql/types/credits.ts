import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { centsOf } from '../../lib/money.ts';
import * as credits from '../../services/credits.ts';
import { findSubAccount } from '../../services/sub-account-reads.ts';
import { callerFor } from '../access.ts';
import { builder } from '../builder.ts';
import { BY_CREATION, type Keyset, pageArgs, paginate } from '../connections.ts';
import { MUTATION_ERRORS } from './errors.ts';
import { SubAccount } from './sub-account.ts';

type CreditRow = Awaited<ReturnType<typeof credits.topUp>>['credit'];
type Balance = Awaited<ReturnType<typeof credits.balanceOf>>;

// Micro-USD amounts are Float: exact integers (far below 2^53), beyond GraphQL's 32-bit Int.

const Credit = builder.objectRef<CreditRow>('Credit').implement({
  description: 'A top-up of a prepaid balance.',
  fields: (t) => ({
    id: t.exposeID('id'),
    subAccountId: t.exposeString('subAccountId'),
    amountMicroUsd: t.float({ resolve: (c) => Number(c.amountMicros) }),
    amountCents: t.float({ resolve: (c) => centsOf(c.amountMicros)! }),
    reference: t.exposeString('reference'),
    actor: t.exposeString('actor'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const CreditBalance = builder.objectRef<Balance>('CreditBalance').implement({
  description: 'A prepaid balance: credits − draws (settled billed cost), exact.',
  fields: (t) => ({
    creditsMicroUsd: t.float({ resolve: (b) => Number(b.creditsMicros) }),
    drawsMicroUsd: t.float({ resolve: (b) => Number(b.drawsMicros) }),
    balanceMicroUsd: t.float({ resolve: (b) => Number(b.balanceMicros) }),
    balanceCents: t.float({ resolve: (b) => centsOf(b.balanceMicros)! }),
  }),
});

builder.objectField(SubAccount, 'balance', (t) =>
  t.field({
    type: CreditBalance,
    nullable: true,
    description: "A prepaid sub-account's balance (as its ledger shows it); null when not prepaid.",
    resolve: async (sa, _args, ctx) => (sa.prepaid ? credits.balanceOf(ctx.deps, sa.id) : null),
  }),
);

const TopUpPayload = builder.objectRef<credits.TopUpResult & Balance>('TopUpPayload').implement({
  fields: (t) => ({
    credit: t.field({ type: Credit, resolve: (p) => p.credit }),
    idempotentReplay: t.exposeBoolean('replay', {
      description: 'True when this reference was credited before: nothing changed.',
    }),
    balance: t.field({ type: CreditBalance, resolve: (p) => p }),
  }),
});

const LedgerEntry = builder.objectRef<credits.LedgerEntry>('LedgerEntry').implement({
  description: 'A top-up (`credit`) or one UTC day of settled usage (`draw`, negative).',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.exposeString('kind'),
    at: t.expose('at', { type: 'DateTime' }),
    amountMicroUsd: t.float({ resolve: (e) => Number(e.amountMicros) }),
    amountCents: t.float({ resolve: (e) => centsOf(e.amountMicros)! }),
    reference: t.exposeString('reference', { nullable: true }),
    actor: t.exposeString('actor', { nullable: true }),
    requests: t.exposeInt('requests', { nullable: true }),
  }),
});

/** What a ledger page carries beside its entries: the sub-account and its whole balance. */
interface LedgerExtras extends Balance {
  subAccount: Awaited<ReturnType<typeof findSubAccount>>;
}

const SubAccountLedgerConnection = builder.connectionObject<typeof LedgerEntry, LedgerExtras>({
  type: LedgerEntry,
  name: 'SubAccountLedgerConnection',
  description:
    'Top-ups and daily draws, oldest first (time, then id); the entries of all pages sum to the balance.',
  fields: (t) => ({
    subAccount: t.field({ type: SubAccount, resolve: (l) => l.subAccount }),
    balance: t.field({ type: CreditBalance, resolve: (l) => l }),
  }),
});

const TopUpInput = builder.inputType('TopUpCreditsInput', {
  fields: (t) => ({
    amountCents: t.int({ required: true, description: 'Whole cents, > 0.' }),
    reference: t.string({
      required: true,
      description: 'Idempotency reference (invoice, payment).',
    }),
  }),
});

builder.queryFields((t) => ({
  subAccountLedger: t.field({
    type: SubAccountLedgerConnection,
    description:
      'A prepaid ledger: every top-up and, per UTC day with usage, one draw, oldest first (time, then id).',
    errors: { types: [ValidationError, NotFoundError] },
    args: { id: t.arg.id({ required: true }), ...pageArgs() },
    resolve: async (_root, { id, ...args }, ctx) => {
      const caller = callerFor(ctx, 'workspace.read');
      const sa = await findSubAccount(ctx.deps, caller, id);
      // The ledger's cursors are the REST ledger's: signed for this sub-account's ledger.
      const keyset: Keyset<credits.LedgerEntry> = {
        scope: credits.ledgerCursorScope(caller.workspaceId, sa.id),
        shape: BY_CREATION,
        position: (e) => [e.at.getTime(), e.id],
      };
      const page = await paginate(ctx, keyset, args, (after, take) =>
        credits.ledgerEntries(ctx.deps, sa.id, {
          after: after && { createdAt: new Date(Number(after[0])), id: String(after[1]) },
          take,
        }),
      );
      return { ...page, subAccount: sa, ...(await credits.balanceOf(ctx.deps, sa.id)) };
    },
  }),
}));

builder.mutationFields((t) => ({
  topUpCredits: t.field({
    type: TopUpPayload,
    description:
      'Credits a prepaid sub-account, idempotently by reference; in force on every data plane within 1 s.',
    errors: { types: MUTATION_ERRORS },
    args: {
      subAccountId: t.arg.id({ required: true }),
      input: t.arg({ type: TopUpInput, required: true }),
    },
    resolve: async (_root, { subAccountId, input }, ctx) => {
      const r = await credits.topUp(ctx.deps, callerFor(ctx, 'workspace.write'), subAccountId, {
        ...input,
      });
      return { ...r, ...(await credits.balanceOf(ctx.deps, subAccountId)) };
    },
  }),
}));
