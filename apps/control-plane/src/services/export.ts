import { Prisma } from '@tollgate/db';
import { z } from 'zod';
import { parseInput } from '../lib/validation.ts';
import type { Caller, ServiceDeps } from './context.ts';

/**
 * Billing export of one UTC month (issue 8, part B): one line per sub-account × model × tag set with
 * requests, tokens, provider cost and billed cost. A record with several tags lands in exactly one
 * line, keyed by its tag set (distinct tags, sorted, joined with `+`; empty when untagged), so the
 * lines sum to the month's usage records to the micro-dollar. `model` is the model as requested.
 * Every record counts in `requests`, blocked and failed ones included (they cost 0).
 *
 * Never materialised whole: the workspace's sub-accounts are walked in id order, CHUNK at a time,
 * and each chunk's records are grouped by one SQL query over the half-open id range (previous
 * chunk's last id, this chunk's last id] — the last range open-ended, then the records without a
 * sub-account — so every record of the month falls in exactly one chunk.
 */

const CHUNK = 200;

const exportSchema = z.strictObject({
  month: z
    .string({ error: 'month is required, as YYYY-MM' })
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'month must be YYYY-MM (e.g. 2026-04)'),
  format: z.enum(['csv', 'jsonl'], { error: "format must be 'csv' or 'jsonl'" }).optional(),
});

export interface ExportLine {
  month: string;
  subAccountId: string;
  subAccountName: string;
  externalId: string;
  model: string;
  tag: string;
  requests: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  cachedInputTokens: bigint;
  cacheWriteTokens: bigint;
  providerCostMicros: bigint;
  billedCostMicros: bigint;
}

export interface UsageExport {
  month: string;
  format: 'csv' | 'jsonl';
  /** The lines, chunk by chunk (each chunk is one grouped query). */
  chunks(): AsyncGenerator<ExportLine[]>;
}

/** Validates the request (so a bad one answers 400 before anything is streamed). */
export function usageExport(deps: ServiceDeps, caller: Caller, raw: unknown): UsageExport {
  const q = parseInput(exportSchema, raw);
  const [year, mon] = q.month.split('-').map(Number) as [number, number];
  const from = new Date(Date.UTC(year, mon - 1, 1));
  const to = new Date(Date.UTC(year, mon, 1));
  const ws = caller.workspaceId;
  const month = q.month;

  async function group(range: Prisma.Sql): Promise<ExportLine[]> {
    const rows = await deps.prisma.$queryRaw<
      {
        sa: string | null;
        name: string | null;
        external_id: string | null;
        model: string;
        tag: string;
        requests: bigint;
        input: bigint | null;
        output: bigint | null;
        cached: bigint | null;
        written: bigint | null;
        provider: bigint | null;
        billed: bigint | null;
      }[]
    >`
      SELECT g.sa, s.name, s."externalId" AS external_id, g.model, g.tag, g.requests, g.input,
        g.output, g.cached, g.written, g.provider, g.billed
      FROM (
        SELECT r."subAccountId" AS sa, r.model, r.tag, COUNT(*)::bigint AS requests,
          SUM(r."inputTokens")::bigint AS input, SUM(r."outputTokens")::bigint AS output,
          SUM(r."cachedInputTokens")::bigint AS cached, SUM(r."cacheWriteTokens")::bigint AS written,
          SUM(r."providerCostMicros")::bigint AS provider,
          SUM(r."billedCostMicros")::bigint AS billed
        FROM (
          SELECT "subAccountId", model, "inputTokens", "outputTokens", "cachedInputTokens",
            "cacheWriteTokens", "providerCostMicros", "billedCostMicros",
            array_to_string(ARRAY(SELECT DISTINCT t FROM unnest(tags) AS t ORDER BY t), '+') AS tag
          FROM "UsageRecord"
          WHERE "workspaceId" = ${ws} AND "startedAt" >= ${from} AND "startedAt" < ${to} AND ${range}
        ) r
        GROUP BY 1, 2, 3
      ) g
      LEFT JOIN "SubAccount" s ON s.id = g.sa AND s."workspaceId" = ${ws}
      ORDER BY g.sa, g.model, g.tag`;
    return rows.map((r) => ({
      month,
      subAccountId: r.sa ?? '',
      subAccountName: r.name ?? '',
      externalId: r.external_id ?? '',
      model: r.model,
      tag: r.tag,
      requests: BigInt(r.requests),
      inputTokens: BigInt(r.input ?? 0n),
      outputTokens: BigInt(r.output ?? 0n),
      cachedInputTokens: BigInt(r.cached ?? 0n),
      cacheWriteTokens: BigInt(r.written ?? 0n),
      providerCostMicros: BigInt(r.provider ?? 0n),
      billedCostMicros: BigInt(r.billed ?? 0n),
    }));
  }

  return {
    month,
    format: q.format ?? 'csv',
    async *chunks() {
      let after: string | null = null;
      for (;;) {
        const ids: { id: string }[] = await deps.prisma.$queryRaw`
          SELECT id FROM "SubAccount"
          WHERE "workspaceId" = ${ws} AND (${after}::text IS NULL OR id > ${after}::text)
          ORDER BY id LIMIT ${CHUNK}`;
        const last = ids.at(-1)?.id ?? null;
        const lower = after === null ? Prisma.sql`TRUE` : Prisma.sql`"subAccountId" > ${after}`;
        if (ids.length < CHUNK || last === null) {
          // The last range is open-ended: records of ids past the last sub-account count too.
          yield await group(Prisma.sql`"subAccountId" IS NOT NULL AND ${lower}`);
          break;
        }
        yield await group(Prisma.sql`${lower} AND "subAccountId" <= ${last}`);
        after = last;
      }
      yield await group(Prisma.sql`"subAccountId" IS NULL`);
    },
  };
}

export const CSV_COLUMNS = [
  'month',
  'sub_account_id',
  'sub_account_name',
  'external_id',
  'model',
  'tag',
  'requests',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'provider_cost_micro_usd',
  'billed_cost_micro_usd',
] as const;

function values(l: ExportLine): (string | bigint)[] {
  return [
    l.month,
    l.subAccountId,
    l.subAccountName,
    l.externalId,
    l.model,
    l.tag,
    l.requests,
    l.inputTokens,
    l.outputTokens,
    l.cachedInputTokens,
    l.cacheWriteTokens,
    l.providerCostMicros,
    l.billedCostMicros,
  ];
}

/** RFC 4180 field; text a spreadsheet would run as a formula (= + - @ tab CR) gets a leading `'`. */
export function csvField(v: string | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export const csvHeader = () => `${CSV_COLUMNS.join(',')}\r\n`;

export const csvLine = (l: ExportLine) => `${values(l).map(csvField).join(',')}\r\n`;

/** A JSON object per line; integers written exactly (micro-USD sums stay far inside 2^53). */
export function jsonLine(l: ExportLine): string {
  const vals = values(l);
  const fields = CSV_COLUMNS.map((name, i) => {
    const v = vals[i]!;
    return `${JSON.stringify(name)}:${typeof v === 'bigint' ? v.toString() : JSON.stringify(v)}`;
  });
  return `{${fields.join(',')}}\n`;
}
