import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';
import { until } from './wait.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const skip = process.env.TG_TIER_REDIS === '0';
const ADMIN_KEY = `sk-tg-admin-${'P'.repeat(43)}`;
const MODEL = 'openai/test-model';

/**
 * Admin edits made through the data plane's base URL reach its enforcement within a second: a tag
 * budget's cap raised with PATCH admits what it refused, a period change counts the new period's
 * spend so far, a removed price override stops the model being billed at it.
 */
describe.skipIf(skip)('budget PATCH and price removal, end to end', () => {
  const prefix = `dpbp-${randomBytes(6).toString('hex')}`;
  let stack: Stack;
  let dpUrl: string;

  /** An admin REST call through the data plane (forwarded to the control plane). */
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${dpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
    return { status: res.status, body: (await res.json()) as any };
  };
  /** Requests made with a key the data plane knew: each leaves one usage record. */
  let recorded = 0;
  const chat = (key: string, tag: string) =>
    fetch(`${dpUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'x-tollgate-tag': tag,
      },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 100,
      }),
    }).then(async (r) => {
      if (r.status !== 401) recorded++;
      return { status: r.status, body: await r.json() };
    });
  /** Applies an admin change and answers how long the data plane took to hold it (ms). */
  const change = async (method: string, path: string, body?: unknown) => {
    const dp = stack.planes[0]!;
    const revision = dp.policyRevision();
    const res = await admin(method, path, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const committed = Date.now();
    await until('the data plane to hold the change', async () =>
      dp.policyRevision() > revision ? true : undefined,
    );
    return { body: res.body, tookMs: Date.now() - committed };
  };
  /** Spend of the sub-account in the books once `records` of its requests are ingested. */
  const ingested = async (subAccountId: string, records: number) => {
    await stack.planes[0]!.flushUsage();
    return until(`${records} usage records`, async () => {
      const rows = await stack.database.db.prisma.usageRecord.findMany({
        where: { subAccountId },
      });
      if (rows.length < records) return undefined;
      return rows.reduce((sum, r) => sum + Number(r.billedCostMicros), 0);
    });
  };

  beforeAll(async () => {
    stack = await startStack({
      kind: 'pglite',
      redisUrl: REDIS_URL,
      prefix,
      adminKey: ADMIN_KEY,
      secretKey: Buffer.alloc(32, 5),
      outputTokens: 100,
      dataPlane: { usageBatch: { flushMs: 5 }, policyPollMs: 200 },
      // 1 µ$ per token in and out: costs are plain token counts.
      prices: { [MODEL]: 100 },
    });
    dpUrl = stack.planeUrls[0]!;
    expect(await stack.reconciler.runOnce()).toEqual([stack.workspaceId]);
  });

  afterAll(async () => stack?.close());

  it('a request refused by a tag budget is admitted within 1 s of its cap being raised (PATCH)', async () => {
    const tag = `patched-${randomBytes(3).toString('hex')}`;
    recorded = 0;
    const sa = (await admin('POST', '/v1/sub-accounts', { name: 'bp-uncapped' })).body as {
      id: string;
      key: string;
    };
    const budget = await admin('POST', '/v1/budgets', { tag, cap_cents: 0 });
    expect(budget.status).toBe(201);
    const refused = await until('the budget to refuse', async () => {
      const r = await chat(sa.key, tag);
      return r.status === 402 ? r : undefined;
    });
    expect(refused.body.error).toMatchObject({ type: 'budget_exceeded', scope: `tag:${tag}` });

    const raised = await change('PATCH', `/v1/budgets/${budget.body.id}`, { cap_cents: 1 });
    expect(raised.body).toMatchObject({ cap_cents: 1, period: 'monthly' });
    expect(raised.tookMs).toBeLessThan(1_000);
    const served = await chat(sa.key, tag);
    expect(served.status).toBe(200);

    // Spend a little more, then move the budget to a daily period capped at exactly what was
    // spent: the daily counter starts from today's books (no fresh allowance), so it refuses.
    for (let i = 0; i < 3; i++) expect((await chat(sa.key, tag)).status).toBe(200);
    const spent = await ingested(sa.id, recorded);
    const daily = await change('PATCH', `/v1/budgets/${budget.body.id}`, {
      cap_cents: spent / 10_000,
      period: 'daily',
    });
    expect(daily.tookMs).toBeLessThan(1_000);
    expect((await chat(sa.key, tag)).status).toBe(402);
    // Raised again: served.
    await change('PATCH', `/v1/budgets/${budget.body.id}`, { cap_cents: spent / 10_000 + 1 });
    expect((await chat(sa.key, tag)).status).toBe(200);
  });

  it('a removed price override (DELETE, slash encoded) leaves the model unpriced within 1 s', async () => {
    const sa = (await admin('POST', '/v1/sub-accounts', { name: 'bp-prices' })).body as {
      key: string;
    };
    await until('the new key to be served', async () =>
      (await chat(sa.key, 'none')).status === 200 ? true : undefined,
    );
    const removed = await change('DELETE', `/v1/prices/${encodeURIComponent(MODEL)}`);
    // Not in the catalogue: nothing prices it any more.
    expect(removed.body).toBeNull();
    expect(removed.tookMs).toBeLessThan(1_000);
    const after = await chat(sa.key, 'none');
    expect([after.status, after.body.error?.code]).toEqual([404, 'model_not_found']);
    expect((await admin('DELETE', `/v1/prices/${MODEL}`)).status).toBe(404);
  });
});
