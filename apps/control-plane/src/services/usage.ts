import { Prisma, type PrismaClient } from '@tollgate/db';
import { z } from 'zod';
import { PermissionError, ValidationError } from '../lib/errors.ts';
import { parseInput, tagField } from '../lib/validation.ts';
import type { Caller, ServiceDeps } from './context.ts';
import { findSubAccount } from './sub-account-reads.ts';

const WINDOW = /^(\d{1,4})([hdw])$/;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const dateOrDateTime = z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
  error: 'must be a date like 2026-12-01 or a date and time like 2026-12-01T00:00:00Z',
});

const windowSchema = z.strictObject({
  window: z.string().regex(WINDOW, "window is like '24h', '7d', '30d' or '4w'").optional(),
  from: dateOrDateTime.optional(),
  to: dateOrDateTime.optional(),
});

/** A `from`/`to` bound: an ISO date-time as given, or a plain UTC date (`2026-12-01`) — its start
 * for `from`, the end of that day for `to` (so `from=2026-12-01&to=2026-12-07` is the whole week). */
function bound(value: string, side: 'from' | 'to'): Date {
  if (value.length > 10) return new Date(value);
  const day = new Date(`${value}T00:00:00.000Z`);
  return side === 'from' ? day : new Date(day.getTime() + DAY);
}

export interface Range {
  from: Date;
  to: Date;
}

/** `window` (default 30d) or `from`/`to`; at most 400 days, from before to. */
export function resolveRange(raw: unknown, now: Date): Range {
  const q = parseInput(windowSchema, raw);
  if (q.window && (q.from || q.to))
    throw new ValidationError('give window or from/to, not both', 'window');
  let range: Range;
  if (q.from || q.to) {
    range = {
      from: q.from ? bound(q.from, 'from') : new Date(0),
      to: q.to ? bound(q.to, 'to') : now,
    };
  } else {
    const [, n, unit] = WINDOW.exec(q.window ?? '30d')!;
    const hours = Number(n) * (unit === 'h' ? 1 : unit === 'd' ? 24 : 168);
    range = { from: new Date(now.getTime() - hours * HOUR), to: now };
  }
  if (range.from > range.to) throw new ValidationError('from must be before to', 'from');
  if (range.to.getTime() - range.from.getTime() > 400 * 24 * HOUR && (q.window || q.from)) {
    throw new ValidationError('range is limited to 400 days', q.window ? 'window' : 'from');
  }
  return range;
}

interface Totals {
  requests: number;
  costMicros: bigint;
  /** Input tokens at the input rate: neither read from nor written to the provider's cache. */
  inputTokens: bigint;
  outputTokens: bigint;
  /** Input tokens read from the provider's prompt cache. */
  cachedInputTokens: bigint;
  /** Input tokens written to the provider's prompt cache. */
  cacheWriteTokens: bigint;
}

/** Usage of one sub-account, exact for the range (SPEC §4 usage answer). */
export async function subAccountUsage(
  deps: ServiceDeps,
  caller: Caller,
  subAccountId: string,
  raw: unknown,
) {
  await findSubAccount(deps, caller, subAccountId);
  return usageReport(
    deps,
    caller.workspaceId,
    subAccountId,
    resolveRange(raw, deps.now?.() ?? new Date()),
  );
}

/**
 * The calling sub-account's own usage (SPEC §6 `GET /v1/usage`): the same report as the admin view,
 * for the sub-account the key belongs to — taken from the authenticated caller, never from the
 * request, so a key can only ever see its own.
 */
export async function ownUsage(deps: ServiceDeps, caller: Caller, raw: unknown) {
  if (caller.subAccountId === undefined) {
    throw new PermissionError('own usage is read with a sub-account key');
  }
  return subAccountUsage(deps, caller, caller.subAccountId, raw);
}

/**
 * The UTC days wholly inside a range, `[first, end)` (none when the range holds no whole day), and
 * the rest of the range: at most a partial day at either edge, or the whole range when it holds no
 * whole day.
 */
function splitByDay(range: Range): { days: [Date, Date] | null; edges: [Date, Date][] } {
  const first = new Date(Math.ceil(range.from.getTime() / DAY) * DAY);
  const end = new Date(Math.floor(range.to.getTime() / DAY) * DAY);
  if (first >= end) return { days: null, edges: [[range.from, range.to]] };
  const edges: [Date, Date][] = [
    [range.from, first],
    [end, range.to],
  ];
  return { days: [first, end], edges: edges.filter(([a, b]) => a < b) };
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

const SUMS = Prisma.sql`coalesce(sum(requests),0)::int AS requests, coalesce(sum(cost),0)::bigint AS "costMicros",
  coalesce(sum(input),0)::bigint AS "inputTokens", coalesce(sum(output),0)::bigint AS "outputTokens",
  coalesce(sum(cached),0)::bigint AS "cachedInputTokens", coalesce(sum(written),0)::bigint AS "cacheWriteTokens"`;

const totalsOf = (t: Totals): Totals => ({
  requests: t.requests,
  costMicros: t.costMicros,
  inputTokens: t.inputTokens,
  outputTokens: t.outputTokens,
  cachedInputTokens: t.cachedInputTokens,
  cacheWriteTokens: t.cacheWriteTokens,
});

interface GroupedRow extends Totals {
  /** GROUPING(model, day): 3 the total, 1 a model's, 2 a day's. */
  g: number;
  model: string;
  day: string;
  errors: number;
  blocked: number;
  downgraded: number;
}

/** Summary, by model and by day, in one pass over the rollup rows and edge records (`rollups`,
 * `records`: which of each): one grouping set each, told apart by GROUPING(model, day). */
async function summaryByModelByDay(db: PrismaClient, rollups: Prisma.Sql, records: Prisma.Sql) {
  const rows = await db.$queryRaw<GroupedRow[]>`
    SELECT GROUPING(model, day)::int AS g, model, day, ${SUMS}, coalesce(sum(errors),0)::int AS errors,
      coalesce(sum(blocked),0)::int AS blocked, coalesce(sum(downgraded),0)::int AS downgraded
    FROM (
      SELECT to_char(day, 'YYYY-MM-DD') AS day, model, requests, errors, blocked, downgraded,
        "billedCostMicros" AS cost, "inputTokens" AS input, "outputTokens" AS output,
        "cachedInputTokens" AS cached, "cacheWriteTokens" AS written
      FROM "UsageRollupDaily" WHERE ${rollups}
      UNION ALL
      SELECT to_char("startedAt", 'YYYY-MM-DD'), model, 1, (status = 'error')::int,
        (status = 'blocked')::int, ("requestedModel" IS NOT NULL AND "requestedModel" <> model)::int,
        "billedCostMicros", "inputTokens", "outputTokens", "cachedInputTokens", "cacheWriteTokens"
      FROM "UsageRecord" WHERE ${records}
    ) AS u
    GROUP BY GROUPING SETS ((), (model), (day)) ORDER BY g DESC, model, day`;
  // g: 3 = the total (there is always one), 1 = per model, 2 = per day.
  const total = rows.find((r) => r.g === 3)!;
  const zero = { inputTokens: 0n, outputTokens: 0n, cachedInputTokens: 0n, cacheWriteTokens: 0n };
  return {
    summary: { ...totalsOf(total), errors: total.errors, blocked: total.blocked },
    byModel: rows
      .filter((r) => r.g === 1)
      .map(({ model, downgraded, ...t }) => {
        const { requests, ...rest } = totalsOf(t);
        return { model, requests, downgraded, ...rest };
      }),
    byDay: rows
      .filter((r) => r.g === 2)
      .map((r) => ({ day: r.day, requests: r.requests, costMicros: r.costMicros, ...zero })),
  };
}

/**
 * A sub-account's usage over exactly the range asked (by start time): whole UTC days from the
 * sub-account × model × day and sub-account × tag × day rollups, the partial days at either edge
 * from the records. Each figure is summed in SQL over both, so it equals the sum over the records
 * alone (the rollups hold exactly their records' sums) — and the lists keep the database's order.
 * Its cost grows with the days and models asked about and the records of the edge days, not with
 * all the records of the range.
 */
export async function usageReport(
  deps: ServiceDeps,
  workspaceId: string,
  subAccountId: string,
  range: Range,
) {
  const { days, edges } = splitByDay(range);
  const account = Prisma.sql`"workspaceId" = ${workspaceId} AND "subAccountId" = ${subAccountId}`;
  const rollups = days
    ? Prisma.sql`${account} AND day >= ${isoDay(days[0])}::date AND day < ${isoDay(days[1])}::date`
    : Prisma.sql`false`;
  const spans = edges.map(([a, b]) => Prisma.sql`("startedAt" >= ${a} AND "startedAt" < ${b})`);
  const records =
    spans.length > 0
      ? Prisma.sql`${account} AND (${Prisma.join(spans, ' OR ')})`
      : Prisma.sql`false`;
  const { summary, byModel, byDay } = await summaryByModelByDay(deps.prisma, rollups, records);
  const byTag = await deps.prisma.$queryRaw<(Totals & { tag: string })[]>`
    SELECT tag, ${SUMS} FROM (
      SELECT tag, requests, "billedCostMicros" AS cost, "inputTokens" AS input,
        "outputTokens" AS output, "cachedInputTokens" AS cached, "cacheWriteTokens" AS written
      FROM "SubAccountTagRollupDaily" WHERE ${rollups}
      UNION ALL
      SELECT t.tag, 1, "billedCostMicros", "inputTokens", "outputTokens", "cachedInputTokens",
        "cacheWriteTokens"
      FROM "UsageRecord", unnest(tags) AS t(tag) WHERE ${records}
    ) AS u GROUP BY tag ORDER BY tag`;
  return { range, summary, byModel, byDay, byTag };
}

const byTagSchema = z.strictObject({
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "month is like '2026-04'")
    .optional(),
  window: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  tag: tagField.optional(),
});

/** Spend by tag over a calendar month (UTC) or a window. */
export async function usageByTag(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const q = parseInput(byTagSchema, raw);
  let range: Range;
  if (q.month) {
    if (q.window || q.from || q.to)
      throw new ValidationError('give month or window, not both', 'month');
    const [y, m] = q.month.split('-').map(Number) as [number, number];
    range = { from: new Date(Date.UTC(y, m - 1, 1)), to: new Date(Date.UTC(y, m, 1)) };
  } else {
    range = resolveRange({ window: q.window, from: q.from, to: q.to }, deps.now?.() ?? new Date());
  }
  // Whole UTC days from the tag × day rollups; the partial days at either edge of a window (a
  // `24h` window touches two days) from the records themselves, so the answer covers exactly the
  // range asked (by start time, as the rollups count a request).
  const firstDay = new Date(Math.ceil(range.from.getTime() / DAY) * DAY);
  const endDay = new Date(Math.floor(range.to.getTime() / DAY) * DAY);
  const totals = new Map<string, Totals>();
  const add = (tag: string, t: Totals) => {
    const sum = totals.get(tag);
    if (sum === undefined) totals.set(tag, { ...t });
    else {
      sum.requests += t.requests;
      sum.costMicros += t.costMicros;
      sum.inputTokens += t.inputTokens;
      sum.outputTokens += t.outputTokens;
      sum.cachedInputTokens += t.cachedInputTokens;
      sum.cacheWriteTokens += t.cacheWriteTokens;
    }
  };
  const fromRecords = async (from: Date, to: Date) => {
    if (from >= to) return;
    const tagOnly = q.tag === undefined ? Prisma.empty : Prisma.sql`AND t.tag = ${q.tag}`;
    const rows = await deps.prisma.$queryRaw<(Totals & { tag: string })[]>`
      SELECT t.tag, count(*)::int AS requests, coalesce(sum("billedCostMicros"),0)::bigint AS "costMicros",
        coalesce(sum("inputTokens"),0)::bigint AS "inputTokens", coalesce(sum("outputTokens"),0)::bigint AS "outputTokens",
      coalesce(sum("cachedInputTokens"),0)::bigint AS "cachedInputTokens", coalesce(sum("cacheWriteTokens"),0)::bigint AS "cacheWriteTokens"
      FROM "UsageRecord", unnest(tags) AS t(tag)
      WHERE "workspaceId" = ${caller.workspaceId} AND "startedAt" >= ${from} AND "startedAt" < ${to} ${tagOnly}
      GROUP BY t.tag`;
    for (const r of rows) add(r.tag, r);
  };
  if (firstDay < endDay) {
    const rows = await deps.prisma.tagRollupDaily.groupBy({
      by: ['tag'],
      where: { workspaceId: caller.workspaceId, tag: q.tag, day: { gte: firstDay, lt: endDay } },
      _sum: {
        requests: true,
        billedCostMicros: true,
        inputTokens: true,
        outputTokens: true,
        cachedInputTokens: true,
        cacheWriteTokens: true,
      },
    });
    for (const r of rows) {
      add(r.tag, {
        requests: r._sum.requests ?? 0,
        costMicros: r._sum.billedCostMicros ?? 0n,
        inputTokens: r._sum.inputTokens ?? 0n,
        outputTokens: r._sum.outputTokens ?? 0n,
        cachedInputTokens: r._sum.cachedInputTokens ?? 0n,
        cacheWriteTokens: r._sum.cacheWriteTokens ?? 0n,
      });
    }
    await fromRecords(range.from, firstDay);
    await fromRecords(endDay, range.to);
  } else {
    await fromRecords(range.from, range.to);
  }
  return [...totals]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([tag, t]) => ({ tag, ...t }));
}
