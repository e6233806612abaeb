import { type Credit, Prisma } from '@tollgate/db';
import { z } from 'zod';
import { ConflictError, ValidationError } from '../lib/errors.ts';
import { newId } from '../lib/ids.ts';
import { pageSizeField, parseInput } from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import {
  type CursorPosition,
  type CursorScope,
  DEFAULT_PAGE,
  decodeCursor,
  encodeCursor,
  MAX_PAGE,
} from './pagination.ts';
import { MAX_TOP_UP_CENTS } from './prepaid.ts';
import { deletedError, findSubAccount } from './sub-account-reads.ts';

/**
 * Prepaid balances (issue 8, part B). A prepaid sub-account has budget period `total` and its spend
 * cap is the sum of its credits: every top-up raises `spendCapMicros` by its amount in the same
 * transaction as the ledger row, and publishes the change like a cap PATCH, so the existing cap
 * guarantee (atomic Redis reservation, clamp, 402) enforces the balance on every data plane.
 * Balance = credits − draws, draws being the settled billed cost of the sub-account (all time, the
 * `total` period's books).
 */

/** One top-up is at most $1 000 000 (in cents); the running total stays far inside safe integers. */
export { MAX_TOP_UP_CENTS };

/** The sum of a sub-account's credits stays below $1 000 000 000 (micro-USD). */
const MAX_CREDITS_MICROS = 1_000_000_000_000_000n;

const topUpSchema = z.strictObject({
  amountCents: z
    .number()
    .int('must be a whole number of cents')
    .min(1, 'must be positive')
    .max(MAX_TOP_UP_CENTS),
  reference: z
    .string()
    .min(1)
    .max(200)
    .regex(
      /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/,
      'must be printable ASCII, with no space at either end',
    ),
});

/** Thrown inside the top-up transaction when the reference exists already: rolls it back. */
class ReferenceTaken extends Error {}

export interface TopUpResult {
  credit: Credit;
  /** True when the reference was credited before: nothing changed, the original entry answers. */
  replay: boolean;
}

/**
 * Credits a prepaid sub-account, idempotently by (sub-account, reference): the same reference with
 * the same amount answers the original entry (`replay`), with another amount 409. Concurrent retries
 * race on the unique index; exactly one inserts, the others answer its entry.
 */
export async function topUp(
  deps: ServiceDeps,
  caller: Caller,
  subAccountId: string,
  raw: unknown,
): Promise<TopUpResult> {
  const input = parseInput(topUpSchema, raw);
  const amount = BigInt(input.amountCents) * 10_000n;
  const sa = await findSubAccount(deps, caller, subAccountId);
  if (sa.status === 'deleted') throw deletedError(subAccountId);
  const replayOf = async (): Promise<TopUpResult | null> => {
    const existing = await deps.prisma.credit.findUnique({
      where: { subAccountId_reference: { subAccountId, reference: input.reference } },
    });
    if (existing === null) return null;
    if (existing.amountMicros !== amount) {
      throw new ConflictError(
        `reference '${input.reference}' was already credited with a different amount (${existing.id})`,
      );
    }
    return { credit: existing, replay: true };
  };
  const before = await replayOf();
  if (before) return before;
  if (!sa.prepaid) {
    throw new ConflictError('sub-account is not prepaid: set prepaid true before crediting it');
  }
  try {
    const credit = await mutate(
      deps,
      caller,
      (c: Credit) => ({
        action: 'sub_account.credit',
        targetType: 'sub_account',
        targetId: subAccountId,
        data: { credit_id: c.id, amount_micros: c.amountMicros.toString(), reference: c.reference },
      }),
      'sub_account',
      async (tx: Tx) => {
        const id = newId('cr');
        const rows = await tx.$queryRaw<{ id: string }[]>`
          INSERT INTO "Credit" (id, "workspaceId", "subAccountId", "amountMicros", reference, actor)
          VALUES (${id}, ${caller.workspaceId}, ${subAccountId}, ${amount}, ${input.reference}, ${caller.actor})
          ON CONFLICT ("subAccountId", reference) DO NOTHING
          RETURNING id`;
        if (rows.length === 0) throw new ReferenceTaken();
        const updated = await tx.subAccount.update({
          where: { id: subAccountId },
          data: { spendCapMicros: { increment: amount } },
          select: { spendCapMicros: true, prepaid: true },
        });
        if (!updated.prepaid) throw new ConflictError('sub-account is not prepaid');
        if ((updated.spendCapMicros ?? 0n) > MAX_CREDITS_MICROS) {
          throw new ValidationError(
            'the credits of one sub-account are limited to $1 000 000 000',
            'amountCents',
          );
        }
        return tx.credit.findUniqueOrThrow({ where: { id } });
      },
    );
    return { credit, replay: false };
  } catch (err) {
    if (!(err instanceof ReferenceTaken)) throw err;
    const replay = await replayOf();
    if (replay) return replay;
    throw err;
  }
}

/** Credits, draws and balance of a sub-account, exact micro-USD. */
export async function balanceOf(deps: ServiceDeps, subAccountId: string) {
  const [credits, draws] = await Promise.all([
    deps.prisma.credit.aggregate({ where: { subAccountId }, _sum: { amountMicros: true } }),
    deps.prisma.usageRollupDaily.aggregate({
      where: { subAccountId },
      _sum: { billedCostMicros: true },
    }),
  ]);
  const creditsMicros = credits._sum.amountMicros ?? 0n;
  const drawsMicros = draws._sum.billedCostMicros ?? 0n;
  return { creditsMicros, drawsMicros, balanceMicros: creditsMicros - drawsMicros };
}

const ledgerSchema = z.strictObject({
  limit: pageSizeField(MAX_PAGE).optional(),
  cursor: z.string().max(500).optional(),
});

export interface LedgerEntry {
  /** `cr_…` for a top-up; `draw_YYYY-MM-DD` for a day's settled usage. */
  id: string;
  kind: 'credit' | 'draw';
  at: Date;
  /** Signed: positive for a credit, negative for a draw. */
  amountMicros: bigint;
  reference: string | null;
  actor: string | null;
  /** Requests settled that day (draws only). */
  requests: number | null;
}

/** Where a ledger cursor is valid: this sub-account's ledger in this workspace only (REST and
 * GraphQL alike). */
export const ledgerCursorScope = (workspaceId: string, subAccountId: string): CursorScope => ({
  list: 'ledger',
  workspaceId,
  parentId: subAccountId,
});

/**
 * A page of the ledger of a sub-account (one already found): every top-up and, per UTC day with
 * usage, one draw (the day's billed cost), oldest first, keyset-paginated on (at, id) — `take`
 * entries strictly after `after` (null: from the start). Draws are computed per day, but their
 * position (the day, `draw_YYYY-MM-DD`) is as stable as a top-up's.
 */
export async function ledgerEntries(
  deps: ServiceDeps,
  subAccountId: string,
  page: { after: CursorPosition | null; take: number },
): Promise<LedgerEntry[]> {
  const position = page.after
    ? Prisma.sql`WHERE (at, id) > (${page.after.createdAt}::timestamp(3), ${page.after.id})`
    : Prisma.empty;
  const rows = await deps.prisma.$queryRaw<
    {
      kind: 'credit' | 'draw';
      id: string;
      at: Date;
      amount: bigint;
      reference: string | null;
      actor: string | null;
      requests: bigint | null;
    }[]
  >`
    SELECT kind, id, at, amount, reference, actor, requests FROM (
      SELECT 'credit' AS kind, id, "createdAt" AS at, "amountMicros" AS amount, reference, actor,
        NULL::bigint AS requests
      FROM "Credit" WHERE "subAccountId" = ${subAccountId}
      UNION ALL
      SELECT 'draw', 'draw_' || to_char(day, 'YYYY-MM-DD'), day::timestamp(3),
        -SUM("billedCostMicros"), NULL, NULL, SUM(requests)::bigint
      FROM "UsageRollupDaily" WHERE "subAccountId" = ${subAccountId}
      GROUP BY day HAVING SUM("billedCostMicros") <> 0
    ) e
    ${position}
    ORDER BY at, id
    LIMIT ${page.take}`;
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    at: r.at,
    amountMicros: BigInt(r.amount),
    reference: r.reference,
    actor: r.actor,
    requests: r.requests === null ? null : Number(r.requests),
  }));
}

/**
 * The ledger as REST answers it: a page of entries (`limit`, `cursor`), the balance, and the next
 * page's cursor. The entries of all pages sum to the balance exactly.
 */
export async function ledger(
  deps: ServiceDeps,
  caller: Caller,
  subAccountId: string,
  raw: unknown,
) {
  const q = parseInput(ledgerSchema, raw);
  const sa = await findSubAccount(deps, caller, subAccountId);
  const limit = q.limit ?? DEFAULT_PAGE;
  const scope = ledgerCursorScope(caller.workspaceId, sa.id);
  const after = q.cursor ? decodeCursor(deps.secretKey, scope, q.cursor) : null;
  const rows = await ledgerEntries(deps, sa.id, { after, take: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextCursor =
    rows.length > limit && last
      ? encodeCursor(deps.secretKey, scope, { createdAt: last.at, id: last.id })
      : null;
  return { subAccount: sa, ...(await balanceOf(deps, sa.id)), data: page, nextCursor };
}
