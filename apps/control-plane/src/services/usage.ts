import { Prisma } from '@tollgate/db';
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

/** Usage of one sub-account, exact over raw records for the range (SPEC §4 usage answer). */
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

export async function usageReport(
  deps: ServiceDeps,
  workspaceId: string,
  subAccountId: string,
  range: Range,
) {
  const where = Prisma.sql`"workspaceId" = ${workspaceId} AND "subAccountId" = ${subAccountId} AND "startedAt" >= ${range.from} AND "startedAt" < ${range.to}`;
  const db = deps.prisma;
  const [summary] = await db.$queryRaw<(Totals & { errors: number; blocked: number })[]>`
    SELECT count(*)::int AS requests, coalesce(sum("billedCostMicros"),0)::bigint AS "costMicros",
      coalesce(sum("inputTokens"),0)::bigint AS "inputTokens", coalesce(sum("outputTokens"),0)::bigint AS "outputTokens",
      coalesce(sum("cachedInputTokens"),0)::bigint AS "cachedInputTokens", coalesce(sum("cacheWriteTokens"),0)::bigint AS "cacheWriteTokens",
      count(*) FILTER (WHERE status = 'error')::int AS errors, count(*) FILTER (WHERE status = 'blocked')::int AS blocked
    FROM "UsageRecord" WHERE ${where}`;
  const byModel = await db.$queryRaw<(Totals & { model: string; downgraded: number })[]>`
    SELECT model, count(*)::int AS requests,
      count(*) FILTER (WHERE "requestedModel" IS NOT NULL AND "requestedModel" <> model)::int AS downgraded, coalesce(sum("billedCostMicros"),0)::bigint AS "costMicros",
      coalesce(sum("inputTokens"),0)::bigint AS "inputTokens", coalesce(sum("outputTokens"),0)::bigint AS "outputTokens",
      coalesce(sum("cachedInputTokens"),0)::bigint AS "cachedInputTokens", coalesce(sum("cacheWriteTokens"),0)::bigint AS "cacheWriteTokens"
    FROM "UsageRecord" WHERE ${where} GROUP BY model ORDER BY model`;
  const byDay = await db.$queryRaw<(Totals & { day: string })[]>`
    SELECT to_char(date_trunc('day', "startedAt"), 'YYYY-MM-DD') AS day, count(*)::int AS requests,
      coalesce(sum("billedCostMicros"),0)::bigint AS "costMicros", 0::bigint AS "inputTokens", 0::bigint AS "outputTokens",
      0::bigint AS "cachedInputTokens", 0::bigint AS "cacheWriteTokens"
    FROM "UsageRecord" WHERE ${where} GROUP BY 1 ORDER BY 1`;
  const byTag = await db.$queryRaw<(Totals & { tag: string })[]>`
    SELECT t.tag, count(*)::int AS requests, coalesce(sum("billedCostMicros"),0)::bigint AS "costMicros",
      coalesce(sum("inputTokens"),0)::bigint AS "inputTokens", coalesce(sum("outputTokens"),0)::bigint AS "outputTokens",
      coalesce(sum("cachedInputTokens"),0)::bigint AS "cachedInputTokens", coalesce(sum("cacheWriteTokens"),0)::bigint AS "cacheWriteTokens"
    FROM "UsageRecord", unnest(tags) AS t(tag) WHERE ${where} GROUP BY t.tag ORDER BY t.tag`;
  return { range, summary: summary!, byModel, byDay, byTag };
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
