import type { CounterBalanceFromBooks } from '@tollgate/bus';
import { type BudgetPeriod, Prisma, type PrismaClient } from '@tollgate/db';
import { periodKey, periodWindow } from '@tollgate/policy';

/**
 * The books' side of the spend counters: what each counter should hold for the current period,
 * read from the daily rollups in PostgreSQL. The reconciler (reconcile.ts) restores lost counters
 * from it, the catch-up (catch-up.ts) raises the counters a policy change puts in force, and the
 * threshold events read it too.
 */

/** What reads the books: the client, or a transaction (to see a change before it commits). */
export type BooksReader = Pick<PrismaClient, '$queryRaw' | 'workspace' | 'usageRollupDaily'>;

/** One entity's counters only: a sub-account's, a tag budget's (by budget id), the workspace's. */
export type BooksScope =
  | { kind: 'sub_account'; id: string }
  | { kind: 'tag_budget'; id: string }
  | { kind: 'plan'; id: string }
  | { kind: 'workspace' }
  /** What a delivery of usage touched: these sub-accounts' counters, the tag budgets of these
   * tags, and the workspace's only when it has a cap (the threshold events; the books of every
   * other counter are not read, however many the workspace has). */
  | { kind: 'touched'; subAccountIds: string[]; tags: string[] };

type PeriodStarts = Record<BudgetPeriod, Date>;

const PERIODS: BudgetPeriod[] = ['daily', 'weekly', 'monthly', 'total'];

/** Start of each budget period holding `nowMs`, as dates (periods start at UTC midnight, so the
 * daily rollups cover them exactly). */
function periodStarts(nowMs: number): PeriodStarts {
  return Object.fromEntries(
    PERIODS.map((p) => [p, new Date(periodWindow(p, nowMs).start)]),
  ) as PeriodStarts;
}

const startFor = (col: Prisma.Sql, s: PeriodStarts) => Prisma.sql`CASE ${col}::text
  WHEN 'daily' THEN ${s.daily}::date WHEN 'weekly' THEN ${s.weekly}::date
  WHEN 'monthly' THEN ${s.monthly}::date ELSE ${s.total}::date END`;

const toNumber = (v: bigint | null): number => Number(v ?? 0n);

/** One counter's figure from the books, or null when nothing was spent (an absent counter reads
 * as zero). */
function balance(
  scope: string,
  cap: bigint | null,
  period: BudgetPeriod,
  spent: bigint | null,
  nowMs: number,
): CounterBalanceFromBooks | null {
  const spentMicros = toNumber(spent);
  if (spentMicros <= 0) return null;
  return {
    counter: {
      scope,
      capMicros: cap === null ? null : Number(cap),
      periodKey: periodKey(period, nowMs),
    },
    spentMicros,
  };
}

const present = (b: CounterBalanceFromBooks | null): b is CounterBalanceFromBooks => b !== null;

/** `sa:<id>` counters, each over its sub-account's own period: all of them, one sub-account's
 * (`only` sub_account) or those of the sub-accounts on a plan (`only` plan). */
async function subAccountBalances(
  prisma: BooksReader,
  workspaceId: string,
  nowMs: number,
  starts: PeriodStarts,
  only?: BooksScope,
): Promise<CounterBalanceFromBooks[]> {
  const rows = await prisma.$queryRaw<
    { id: string; period: BudgetPeriod; cap: bigint | null; spent: bigint }[]
  >`
    SELECT sa.id, sa."budgetPeriod"::text AS period, sa."spendCapMicros" AS cap,
      sum(r."billedCostMicros")::bigint AS spent
    FROM "UsageRollupDaily" r JOIN "SubAccount" sa ON sa.id = r."subAccountId"
    WHERE r."workspaceId" = ${workspaceId} AND sa."workspaceId" = ${workspaceId}
      AND r.day >= ${startFor(Prisma.sql`sa."budgetPeriod"`, starts)}
      ${only?.kind === 'sub_account' ? Prisma.sql`AND sa.id = ${only.id}` : Prisma.empty}
      ${only?.kind === 'plan' ? Prisma.sql`AND sa."planId" = ${only.id}` : Prisma.empty}
      ${only?.kind === 'touched' ? Prisma.sql`AND r."subAccountId" = ANY(${only.subAccountIds}::text[])` : Prisma.empty}
    GROUP BY sa.id, sa."budgetPeriod", sa."spendCapMicros"`;
  return rows.map((s) => balance(`sa:${s.id}`, s.cap, s.period, s.spent, nowMs)).filter(present);
}

/** `tag:<name>` counters of the tag budgets (one budget's with `only` tag_budget), each over the
 * budget's period. */
async function tagBudgetBalances(
  prisma: BooksReader,
  workspaceId: string,
  nowMs: number,
  starts: PeriodStarts,
  only?: BooksScope,
): Promise<CounterBalanceFromBooks[]> {
  const rows = await prisma.$queryRaw<
    { tag: string; period: BudgetPeriod; cap: bigint; spent: bigint }[]
  >`
    SELECT b.tag, b."budgetPeriod"::text AS period, b."capMicros" AS cap,
      sum(r."billedCostMicros")::bigint AS spent
    FROM "TagBudget" b JOIN "TagRollupDaily" r ON r."workspaceId" = b."workspaceId" AND r.tag = b.tag
    WHERE b."workspaceId" = ${workspaceId}
      AND r.day >= ${startFor(Prisma.sql`b."budgetPeriod"`, starts)}
      ${only?.kind === 'tag_budget' ? Prisma.sql`AND b.id = ${only.id}` : Prisma.empty}
      ${only?.kind === 'touched' ? Prisma.sql`AND b.tag = ANY(${only.tags}::text[])` : Prisma.empty}
    GROUP BY b.tag, b."budgetPeriod", b."capMicros"`;
  return rows.map((t) => balance(`tag:${t.tag}`, t.cap, t.period, t.spent, nowMs)).filter(present);
}

/** Settled (billed) spend of the current period per counter of one workspace (or of one entity of
 * it, with `only`), from the rollups. Counters with nothing spent are left out (an absent counter
 * reads as zero). */
export async function booksBalances(
  prisma: BooksReader,
  workspaceId: string,
  nowMs: number,
  only?: BooksScope,
): Promise<CounterBalanceFromBooks[]> {
  const ws = await prisma.workspace.findUnique({ where: { id: workspaceId } });
  if (!ws) return [];
  const starts = periodStarts(nowMs);
  const out: CounterBalanceFromBooks[] = [];
  const touched = only?.kind === 'touched';
  const wanted = (kind: BooksScope['kind']) => only === undefined || only.kind === kind || touched;
  if (wanted('sub_account') || only?.kind === 'plan')
    out.push(...(await subAccountBalances(prisma, workspaceId, nowMs, starts, only)));
  if (wanted('tag_budget'))
    out.push(...(await tagBudgetBalances(prisma, workspaceId, nowMs, starts, only)));
  if (!wanted('workspace') || (touched && ws.spendCapMicros === null)) return out;
  const total = await prisma.usageRollupDaily.aggregate({
    where: { workspaceId, day: { gte: starts[ws.budgetPeriod] } },
    _sum: { billedCostMicros: true },
  });
  const wsBalance = balance(
    'ws',
    ws.spendCapMicros,
    ws.budgetPeriod,
    total._sum.billedCostMicros,
    nowMs,
  );
  if (wsBalance) out.push(wsBalance);
  return out;
}
