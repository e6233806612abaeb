import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, type Harness, KINDS, skipKind, startHarness } from './harness.ts';

/**
 * Billing export (issue 8 B): `GET /v1/usage/export?month=YYYY-MM&format=csv|jsonl`. 12 000+ usage
 * records of one month (plus records just outside it and in another workspace, which must not
 * appear) over 450 sub-accounts — more than two of the export's chunks — and the exported lines
 * must sum to the records to the micro-dollar, each record in exactly one line.
 */

const SUB_ACCOUNTS = 450;
const RECORDS = 12_000;
const NUMERIC = [
  'requests',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'provider_cost_micro_usd',
  'billed_cost_micro_usd',
] as const;

/** RFC 4180 reader (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

describe.each(KINDS)('usage export on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    const ws = h.workspaceId;
    const p = h.prisma;
    await p.subAccount.createMany({
      data: Array.from({ length: SUB_ACCOUNTS }, (_, i) => ({
        id: `sa_exp_${String(i).padStart(4, '0')}`,
        workspaceId: ws,
        name:
          i === 1 ? '=HYPERLINK("http://evil")' : i === 2 ? 'Acme, "Inc"\nline 2' : `customer ${i}`,
        externalId: i === 3 ? '@SUM(A1)' : `ext-${i}`,
      })),
    });
    await p.workspace.create({ data: { id: 'ws_exp_other', name: `other-${kind}` } });
    // 12 000 records spread over April 2026, ~1 in 97 without a sub-account, four tag shapes
    // (two of them the same set in another order), three models, odd micro amounts.
    await p.$executeRaw`
      INSERT INTO "UsageRecord" ("requestId", "workspaceId", "subAccountId", tags, model,
        "inputTokens", "outputTokens", "cachedInputTokens", "cacheWriteTokens", "providerCostMicros",
        "billedCostMicros", status, "httpStatus", "startedAt", "finishedAt")
      SELECT 'exp_' || g, ${ws},
        CASE WHEN g % 97 = 0 THEN NULL ELSE 'sa_exp_' || lpad((g % ${SUB_ACCOUNTS})::text, 4, '0') END,
        CASE g % 4 WHEN 0 THEN ARRAY[]::text[] WHEN 1 THEN ARRAY['alpha']
          WHEN 2 THEN ARRAY['beta', 'alpha'] ELSE ARRAY['alpha', 'beta', 'alpha'] END,
        CASE g % 3 WHEN 0 THEN 'openai/gpt-4o-mini' WHEN 1 THEN 'openai/gpt-5.4' ELSE 'anthropic/claude-x' END,
        g % 1000, g % 333, g % 17, g % 23, (g * 7919) % 100003, (g * 7919) % 100003 + g % 11,
        CASE WHEN g % 50 = 0 THEN 'blocked' ELSE 'ok' END, 200,
        timestamp '2026-04-01 00:00:00' + g * interval '200 seconds',
        timestamp '2026-04-01 00:00:00' + g * interval '200 seconds'
      FROM generate_series(0, ${RECORDS - 1}) AS g`;
    // The month's edges (in: first and last millisecond; out: one ms before, the next month) and
    // another workspace's April records (out).
    const edge = (id: string, at: string, wsId = ws, sa: string | null = 'sa_exp_0007') =>
      p.usageRecord.create({
        data: {
          requestId: id,
          workspaceId: wsId,
          subAccountId: sa,
          tags: ['edge'],
          model: 'openai/gpt-4o-mini',
          inputTokens: 5,
          outputTokens: 5,
          providerCostMicros: 1_000_000_007n,
          billedCostMicros: 1_000_000_011n,
          status: 'ok',
          httpStatus: 200,
          startedAt: new Date(at),
          finishedAt: new Date(at),
        },
      });
    await edge('edge_first', '2026-04-01T00:00:00.000Z');
    await edge('edge_last', '2026-04-30T23:59:59.999Z');
    await edge('edge_before', '2026-03-31T23:59:59.999Z');
    await edge('edge_after', '2026-05-01T00:00:00.000Z');
    await edge('edge_other_ws', '2026-04-15T00:00:00.000Z', 'ws_exp_other', null);
  }, 180_000);
  afterAll(async () => h?.close());

  /** What the export must add up to: the records of April 2026 in this workspace, by SQL. */
  async function expected() {
    const [row] = await h.prisma.$queryRaw<Record<string, bigint>[]>`
      SELECT COUNT(*)::bigint AS requests, SUM("inputTokens")::bigint AS input_tokens,
        SUM("outputTokens")::bigint AS output_tokens, SUM("cachedInputTokens")::bigint AS cached_input_tokens,
        SUM("cacheWriteTokens")::bigint AS cache_write_tokens,
        SUM("providerCostMicros")::bigint AS provider_cost_micro_usd,
        SUM("billedCostMicros")::bigint AS billed_cost_micro_usd,
        COUNT(DISTINCT ("subAccountId", model,
          array_to_string(ARRAY(SELECT DISTINCT t FROM unnest(tags) t ORDER BY t), '+')))::bigint AS lines
      FROM "UsageRecord"
      WHERE "workspaceId" = ${h.workspaceId}
        AND "startedAt" >= '2026-04-01' AND "startedAt" < '2026-05-01'`;
    return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, BigInt(v)]));
  }

  function totals(rows: Record<string, string>[]) {
    const sum = Object.fromEntries(NUMERIC.map((c) => [c, 0n])) as Record<string, bigint>;
    for (const r of rows) for (const c of NUMERIC) sum[c]! += BigInt(r[c]!);
    return sum;
  }

  it.skipIf(skipKind(kind))('CSV: header, one line per key, totals equal the records', async () => {
    const res = await fetch(`${h.url}/v1/usage/export?month=2026-04&format=csv`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toContain('usage-2026-04.csv');
    expect(res.headers.get('content-length')).toBeNull(); // streamed (chunked), not buffered
    const [header, ...lines] = parseCsv(await res.text());
    expect(header).toEqual([
      'month',
      'sub_account_id',
      'sub_account_name',
      'external_id',
      'model',
      'tag',
      ...NUMERIC,
    ]);
    const rows = lines.map((l) => Object.fromEntries(header!.map((k, i) => [k, l[i]!])));
    const want = await expected();
    expect(want.requests).toBe(BigInt(RECORDS + 2));
    expect(BigInt(rows.length)).toBe(want.lines);
    const sums = totals(rows);
    for (const c of NUMERIC) expect(sums[c], c).toBe(want[c]);
    // Every key once; tag sets in a stable order; only April and only this workspace.
    const keys = rows.map((r) => `${r.sub_account_id}|${r.model}|${r.tag}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(rows.map((r) => r.tag))).toEqual(new Set(['', 'alpha', 'alpha+beta', 'edge']));
    expect(new Set(rows.map((r) => r.month))).toEqual(new Set(['2026-04']));
    const edge = rows.find((r) => r.tag === 'edge')!;
    expect(edge).toMatchObject({ sub_account_id: 'sa_exp_0007', requests: '2' });
    expect(edge.billed_cost_micro_usd).toBe('2000000022');
    expect(rows.some((r) => r.sub_account_id === '')).toBe(true); // records without a sub-account
    // Names a spreadsheet would run as formulas are defused; commas, quotes, newlines survive.
    expect(rows.find((r) => r.sub_account_id === 'sa_exp_0001')!.sub_account_name).toBe(
      `'=HYPERLINK("http://evil")`,
    );
    expect(rows.find((r) => r.sub_account_id === 'sa_exp_0002')!.sub_account_name).toBe(
      'Acme, "Inc"\nline 2',
    );
    expect(rows.find((r) => r.sub_account_id === 'sa_exp_0003')!.external_id).toBe("'@SUM(A1)");
  });

  it.skipIf(skipKind(kind))('JSON lines: the same totals to the micro-dollar', async () => {
    const res = await h.api('GET', '/v1/usage/export?month=2026-04&format=jsonl');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const text = res.body as string;
    expect(text.endsWith('\n')).toBe(true);
    // Integers are parsed as text so nothing is rounded on the way.
    const rows = text
      .trimEnd()
      .split('\n')
      .map((l) => {
        const o = JSON.parse(l, (_k, v, ctx?: { source?: string }) =>
          typeof v === 'number' ? (ctx?.source ?? String(v)) : v,
        ) as Record<string, string>;
        return o;
      });
    const want = await expected();
    expect(BigInt(rows.length)).toBe(want.lines);
    const sums = totals(rows);
    for (const c of NUMERIC) expect(sums[c], c).toBe(want[c]);
    // JSON is no spreadsheet: names travel verbatim.
    expect(rows.find((r) => r.sub_account_id === 'sa_exp_0001')!.sub_account_name).toBe(
      '=HYPERLINK("http://evil")',
    );
  });

  it.skipIf(skipKind(kind))('an empty month answers the header only', async () => {
    const res = await h.api('GET', '/v1/usage/export?month=2025-01');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.body).toBe(
      'month,sub_account_id,sub_account_name,external_id,model,tag,requests,input_tokens,output_tokens,cached_input_tokens,cache_write_tokens,provider_cost_micro_usd,billed_cost_micro_usd\r\n',
    );
  });

  it.skipIf(skipKind(kind))('bad month or format: 400 in the error envelope', async () => {
    for (const [query, param] of [
      ['month=2026-13', 'month'],
      ['month=2026-4', 'month'],
      ['month=2026-00', 'month'],
      ['month=', 'month'],
      ['', 'month'],
      ['month=2026-04-01', 'month'],
      ['month=2026-04&format=xml', 'format'],
      ['month=2026-04&format=', 'format'],
      ['month=2026-04&shape=wide', 'shape'],
    ] as const) {
      const res = await h.api('GET', `/v1/usage/export?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
    }
    expect((await h.api('GET', '/v1/usage/export?month=2026-04', undefined, null)).status).toBe(
      401,
    );
    // A sub-account key reads its own usage, never the workspace's export (401: not an admin key).
    const sa = await h.api('POST', '/v1/sub-accounts', { name: 'no-export' });
    const asCustomer = await h.api('GET', '/v1/usage/export?month=2026-04', undefined, sa.body.key);
    expect(asCustomer.status).toBe(401);
  });
});
