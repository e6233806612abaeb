import { Prisma, type SubAccount } from '@tollgate/db';
import { periodKey, periodWindow } from '@tollgate/policy';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../lib/errors.ts';
import { pageSizeField, parseInput, tagField } from '../lib/validation.ts';
import type { Caller, ServiceDeps } from './context.ts';
import { allOf, keysetOrder, keysetPage } from './keyset.ts';
import {
  type CursorScope,
  DEFAULT_PAGE,
  decodeCursor,
  encodeCursor,
  MAX_PAGE,
} from './pagination.ts';

/** Sub-accounts are answered with the name of their plan. */
export const withPlan = { plan: { select: { slug: true } } } as const;

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
  limit: pageSizeField(MAX_PAGE).optional(),
  cursor: z.string().max(500).optional(),
  externalId: z.string().max(200).optional(),
  tag: tagField.optional(),
  status: z.enum(['active', 'suspended', 'deleted']).optional(),
  search: z.string().max(200).optional(),
});

/** Where a cursor of the sub-account list is valid: this list of this workspace only. */
export const subAccountsCursorScope = (workspaceId: string): CursorScope => ({
  list: 'subAccounts',
  workspaceId,
});

/** Sub-accounts in creation order (creation time, then id). */
const SUB_ACCOUNTS = keysetOrder('SubAccount', 'createdAt', 'id', 'asc');

export async function listSubAccounts(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const q = parseInput(listSchema, raw);
  const limit = q.limit ?? DEFAULT_PAGE;
  const scope = subAccountsCursorScope(caller.workspaceId);
  const after = q.cursor ? decodeCursor(deps.secretKey, scope, q.cursor) : null;
  // What Prisma's `equals` and `contains` (mode insensitive: ILIKE) said, in SQL. An absent
  // filter filters nothing; an empty search too.
  const filter = allOf(
    Prisma.sql`"workspaceId" = ${caller.workspaceId}`,
    q.externalId !== undefined && Prisma.sql`"externalId" = ${q.externalId}`,
    q.tag !== undefined && Prisma.sql`"defaultTag" = ${q.tag}`,
    q.status !== undefined && Prisma.sql`"status" = ${q.status}::"SubAccountStatus"`,
    !!q.search && Prisma.sql`"name" ILIKE ${`%${likeLiteral(q.search)}%`}`,
  );
  const rows = await keysetPage(
    deps.prisma,
    SUB_ACCOUNTS,
    filter,
    { after: after && [after.createdAt.getTime(), after.id], take: limit + 1 },
    (ids) =>
      deps.prisma.subAccount.findMany({
        where: { id: { in: ids }, workspaceId: caller.workspaceId },
        include: withPlan,
      }),
  );
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextCursor = rows.length > limit && last ? encodeCursor(deps.secretKey, scope, last) : null;
  return { data: page, nextCursor };
}

export interface PeriodSpendOf {
  spentMicros: bigint;
  reservedMicros: bigint;
  resetsAt: Date | null;
}

/** Spend of the current budget period: settled (from the books) and reserved (live counters). */
export async function periodSpend(deps: ServiceDeps, sa: SubAccount): Promise<PeriodSpendOf> {
  return (await periodSpends(deps, [sa])).get(sa.id)!;
}

/**
 * periodSpend of many sub-accounts (a page of a list): one read of the books for all of them, each
 * from the start of its own period, and one read of the live counters per workspace — not one of
 * each per sub-account.
 */
export async function periodSpends(
  deps: ServiceDeps,
  rows: readonly SubAccount[],
): Promise<Map<string, PeriodSpendOf>> {
  const out = new Map<string, PeriodSpendOf>();
  if (rows.length === 0) return out;
  const now = (deps.now?.() ?? new Date()).getTime();
  const windows = rows.map((sa) => periodWindow(sa.budgetPeriod, now));
  const asked = rows.map((sa, i) => ({
    id: sa.id,
    start: new Date(windows[i]!.start).toISOString().slice(0, 10),
  }));
  const settled = await deps.prisma.$queryRaw<{ id: string; spent: bigint }[]>`
    SELECT w.id, coalesce(sum(r."billedCostMicros"), 0)::bigint AS spent
    FROM jsonb_to_recordset(${JSON.stringify(asked)}::jsonb) AS w(id text, start date)
    LEFT JOIN "UsageRollupDaily" r ON r."subAccountId" = w.id AND r.day >= w.start
    GROUP BY w.id`;
  const spent = new Map(settled.map((r) => [r.id, BigInt(r.spent)]));
  const reserved = new Map<string, number>();
  if (deps.reservations) {
    const byWorkspace = new Map<string, SubAccount[]>();
    for (const sa of rows) {
      const group = byWorkspace.get(sa.workspaceId);
      if (group === undefined) byWorkspace.set(sa.workspaceId, [sa]);
      else group.push(sa);
    }
    await Promise.all(
      [...byWorkspace].map(async ([workspaceId, group]) => {
        const counters = group.map((sa) => ({
          scope: `sa:${sa.id}`,
          period: periodKey(sa.budgetPeriod, now),
        }));
        const held = await deps.reservations!.reservedMicros(workspaceId, counters);
        for (const [i, sa] of group.entries()) reserved.set(sa.id, held[i] ?? 0);
      }),
    );
  }
  for (const [i, sa] of rows.entries()) {
    const window = windows[i]!;
    out.set(sa.id, {
      spentMicros: spent.get(sa.id) ?? 0n,
      reservedMicros: BigInt(reserved.get(sa.id) ?? 0),
      resetsAt: window.resetsAt === null ? null : new Date(window.resetsAt),
    });
  }
  return out;
}

/** A search is a LIKE pattern underneath: a searched `%` or `_` is the character itself, not a
 * wildcard (searching `%` listed every sub-account). */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A deleted sub-account is still found (its usage stays readable) but takes no change: a 409
 * saying so, not a 404 for what GET shows. */
export function deletedError(id: string): ConflictError {
  return new ConflictError(
    `sub-account '${id}' is deleted: its usage stays readable, but it takes no changes or keys`,
  );
}
