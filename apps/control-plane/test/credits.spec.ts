import { evaluateUsage, recordEvents, writeUsage } from '@tollgate/control-plane';
import { usageEvent } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, rowCounts, skipKind, startHarness } from './harness.ts';

/**
 * Prepaid balances (issue 8 B): idempotent top-ups by reference (concurrent retries credit once),
 * refusal of bad amounts, the ledger (credits and daily draws summing exactly to the balance, REST
 * and GraphQL), and `sub_account.balance.low` once per crossing, re-armed by a top-up.
 */
describe.each(KINDS)('prepaid credits on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (!skipKind(kind)) h = await startHarness(kind);
  });
  afterAll(async () => h?.close());

  const prepaid = async (name: string, extra: Record<string, unknown> = {}) => {
    const r = await h.api('POST', '/v1/sub-accounts', { name, prepaid: true, ...extra });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const spend = (subAccountId: string, micros: number, startedAt?: string) =>
    usageEvent({
      workspaceId: h.workspaceId,
      subAccountId,
      inputTokens: 100,
      outputTokens: 50,
      providerCostMicros: micros,
      billedCostMicros: micros,
      ...(startedAt ? { startedAt, finishedAt: startedAt } : {}),
    });

  it.skipIf(skipKind(kind))('a prepaid sub-account: period total, no cap of its own', async () => {
    const created = await h.api('POST', '/v1/sub-accounts', { name: 'pp', prepaid: true });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      prepaid: true,
      budget_period: 'total',
      spend_cap_cents: 0,
      low_balance_threshold_cents: null,
    });
    const before = await rowCounts(h.prisma);
    for (const body of [
      { name: 'x', prepaid: true, budget_period: 'monthly' },
      { name: 'x', prepaid: true, spend_cap_cents: 100 },
      { name: 'x', prepaid: 'yes' },
      { name: 'x', prepaid: true, low_balance_threshold_cents: -1 },
      { name: 'x', prepaid: true, low_balance_threshold_cents: 1.5 },
    ]) {
      const r = await h.api('POST', '/v1/sub-accounts', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.type).toBe('invalid_request_error');
    }
    const patch = await h.api('PATCH', `/v1/sub-accounts/${created.body.id}`, {
      spend_cap_cents: 5,
    });
    expect(patch.status).toBe(400);
    expect(patch.body.error.param).toBe('spend_cap_cents');
    expect(await rowCounts(h.prisma)).toEqual(before);
  });

  it.skipIf(skipKind(kind))(
    'top-ups are idempotent by reference; another amount on the same reference is 409',
    async () => {
      const id = await prepaid('topup');
      const first = await h.api('POST', `/v1/sub-accounts/${id}/credits`, {
        amount_cents: 1500,
        reference: 'inv-1',
      });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({
        sub_account_id: id,
        amount_cents: 1500,
        amount_micro_usd: 15_000_000,
        reference: 'inv-1',
        idempotent_replay: false,
        credits_micro_usd: 15_000_000,
        balance_micro_usd: 15_000_000,
        balance_cents: 1500,
      });
      expect(first.body.id).toMatch(/^cr_/);
      const again = await h.api('POST', `/v1/sub-accounts/${id}/credits`, {
        amount_cents: 1500,
        reference: 'inv-1',
      });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ id: first.body.id, idempotent_replay: true });
      expect(again.body.balance_micro_usd).toBe(15_000_000);
      const other = await h.api('POST', `/v1/sub-accounts/${id}/credits`, {
        amount_cents: 1600,
        reference: 'inv-1',
      });
      expect(other.status).toBe(409);
      expect(other.body.error.code).toBe('conflict');
      // The cap the data planes enforce is the sum of the credits.
      const sa = await h.api('GET', `/v1/sub-accounts/${id}`);
      expect(sa.body.spend_cap_cents).toBe(1500);
      expect(sa.body.balance.balance_micro_usd).toBe(15_000_000);
      expect(await h.prisma.credit.count({ where: { subAccountId: id } })).toBe(1);
    },
  );

  it.skipIf(skipKind(kind))(
    'a prepaid sub-account on a plan keeps its credits as its cap and `total` as its period',
    async () => {
      const plan = await h.api('POST', '/v1/plans', {
        name: 'prepaid-tier',
        spend_cap_cents: 100,
        budget_period: 'monthly',
        rate_limit_rpm: 60,
      });
      expect(plan.status).toBe(201);
      const created = await h.api('POST', '/v1/sub-accounts', {
        name: 'pp-on-plan',
        plan: 'prepaid-tier',
        prepaid: true,
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        plan: 'prepaid-tier',
        prepaid: true,
        spend_cap_cents: 0,
        budget_period: 'total',
        rate_limit_rpm: 60,
      });
      expect(created.body.inherited_from_plan).toContain('rate_limit_rpm');
      expect(created.body.inherited_from_plan).not.toContain('spend_cap_cents');
      expect(created.body.inherited_from_plan).not.toContain('budget_period');
      const id = created.body.id as string;
      const top = await h.api('POST', `/v1/sub-accounts/${id}/credits`, {
        amount_cents: 500,
        reference: 'plan-topup',
      });
      expect(top.status).toBe(201);
      // The plan changes; the prepaid sub-account follows its limits but keeps its balance as cap.
      const changed = await h.api('PATCH', '/v1/plans/prepaid-tier', {
        spend_cap_cents: 900,
        rate_limit_rpm: 30,
      });
      expect(changed.status).toBe(200);
      const after = await h.api('GET', `/v1/sub-accounts/${id}`);
      expect(after.body).toMatchObject({
        spend_cap_cents: 500,
        budget_period: 'total',
        rate_limit_rpm: 30,
      });
      // Its cap cannot be handed back to the plan while it is prepaid.
      const before = await rowCounts(h.prisma);
      const inherit = await h.api('PATCH', `/v1/sub-accounts/${id}`, {
        inherit: ['spend_cap_cents'],
      });
      expect(inherit.status).toBe(400);
      expect(inherit.body.error.param).toBe('inherit');
      expect(await rowCounts(h.prisma)).toEqual(before);
      expect((await h.api('GET', `/v1/sub-accounts/${id}`)).body.spend_cap_cents).toBe(500);
    },
  );

  it.skipIf(skipKind(kind))('20 concurrent identical top-ups credit exactly once', async () => {
    const id = await prepaid('race');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        h.api('POST', `/v1/sub-accounts/${id}/credits`, {
          amount_cents: 700,
          reference: 'pay_123',
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(await h.prisma.credit.count({ where: { subAccountId: id } })).toBe(1);
    const row = await h.prisma.subAccount.findUniqueOrThrow({ where: { id } });
    expect(row.spendCapMicros).toBe(7_000_000n);
  });

  it.skipIf(skipKind(kind))('bad top-ups are refused with 400 and change nothing', async () => {
    const id = await prepaid('bad');
    const plain = (await h.api('POST', '/v1/sub-accounts', { name: 'postpaid' })).body.id;
    const credits = await h.prisma.credit.count();
    const bodies: [unknown, string][] = [
      [{ amount_cents: -100, reference: 'a' }, 'amount_cents'],
      [{ amount_cents: 0, reference: 'a' }, 'amount_cents'],
      [{ amount_cents: 1.5, reference: 'a' }, 'amount_cents'],
      [{ amount_cents: 1e12, reference: 'a' }, 'amount_cents'],
      [{ amount_cents: '100', reference: 'a' }, 'amount_cents'],
      [{ amount_cents: 100 }, 'reference'],
      [{ amount_cents: 100, reference: '' }, 'reference'],
      [{ amount_cents: 100, reference: ' padded' }, 'reference'],
      [{ amount_cents: 100, reference: 'x'.repeat(201) }, 'reference'],
      [{ amount_cents: 100, reference: 'a', extra: 1 }, 'extra'],
    ];
    const before = await rowCounts(h.prisma);
    for (const [body, param] of bodies) {
      const r = await h.api('POST', `/v1/sub-accounts/${id}/credits`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.param).toBe(param);
    }
    const notPrepaid = await h.api('POST', `/v1/sub-accounts/${plain}/credits`, {
      amount_cents: 100,
      reference: 'a',
    });
    expect(notPrepaid.status).toBe(409);
    const missing = await h.api('POST', '/v1/sub-accounts/sa_nope/credits', {
      amount_cents: 100,
      reference: 'a',
    });
    expect(missing.status).toBe(404);
    expect(await rowCounts(h.prisma)).toEqual(before);
    const gone = await prepaid('gone');
    expect((await h.api('DELETE', `/v1/sub-accounts/${gone}`)).status).toBe(200);
    const deleted = await h.api('POST', `/v1/sub-accounts/${gone}/credits`, {
      amount_cents: 100,
      reference: 'a',
    });
    expect(deleted.status).toBe(409);
    expect(deleted.body.error.message).toContain('is deleted');
    expect(await h.prisma.credit.count()).toBe(credits);
    const row = await h.prisma.subAccount.findUniqueOrThrow({ where: { id } });
    expect(row.spendCapMicros).toBe(0n);
  });

  it.skipIf(skipKind(kind))(
    'the ledger sums exactly to credits − draws (REST and GraphQL)',
    async () => {
      const id = await prepaid('ledger');
      for (const [cents, ref] of [
        [1000, 'a'],
        [234, 'b'],
        [1, 'c'],
      ] as const) {
        const r = await h.api('POST', `/v1/sub-accounts/${id}/credits`, {
          amount_cents: cents,
          reference: ref,
        });
        expect(r.status).toBe(201);
      }
      // Draws over three UTC days, odd micro amounts.
      await writeUsage(h.prisma, [
        spend(id, 123_457, '2026-01-02T10:00:00.000Z'),
        spend(id, 1, '2026-01-02T23:59:59.999Z'),
        spend(id, 2_000_003, '2026-01-05T00:00:00.000Z'),
        spend(id, 999_999),
      ]);
      const credits = 12_350_000;
      const draws = 123_457 + 1 + 2_000_003 + 999_999;
      const full = await h.api('GET', `/v1/sub-accounts/${id}/ledger`);
      expect(full.status, JSON.stringify(full.body)).toBe(200);
      expect(full.body).toMatchObject({
        sub_account_id: id,
        prepaid: true,
        credits_micro_usd: credits,
        draws_micro_usd: draws,
        balance_micro_usd: credits - draws,
        balance_cents: (credits - draws) / 10_000,
        next_cursor: null,
      });
      expect(full.body.data.map((e: { kind: string }) => e.kind).sort()).toEqual([
        'credit',
        'credit',
        'credit',
        'draw',
        'draw',
        'draw',
      ]);
      // The sub-account itself shows the same balance.
      const sa = await h.api('GET', `/v1/sub-accounts/${id}`);
      expect(sa.body.balance).toEqual({
        credits_micro_usd: credits,
        draws_micro_usd: draws,
        balance_micro_usd: credits - draws,
        balance_cents: (credits - draws) / 10_000,
      });
      const jan2 = full.body.data.find((e: { id: string }) => e.id === 'draw_2026-01-02');
      expect(jan2).toMatchObject({ kind: 'draw', amount_micro_usd: -123_458, requests: 2 });
      // Page by page (one entry a page): every entry once, and they sum to the balance.
      const seen: string[] = [];
      let sum = 0;
      let cursor: string | null = null;
      do {
        const page: {
          body: { data: { id: string; amount_micro_usd: number }[]; next_cursor: string | null };
        } = await h.api(
          'GET',
          `/v1/sub-accounts/${id}/ledger?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        for (const e of page.body.data) {
          seen.push(e.id);
          sum += e.amount_micro_usd;
        }
        cursor = page.body.next_cursor;
      } while (cursor);
      expect(seen).toEqual(full.body.data.map((e: { id: string }) => e.id));
      expect(sum).toBe(credits - draws);
      expect((await h.api('GET', `/v1/sub-accounts/${id}/ledger?limit=0`)).status).toBe(400);
      expect((await h.api('GET', `/v1/sub-accounts/${id}/ledger?cursor=forged`)).status).toBe(400);

      const gql = await h.gql(
        `query($id: ID!) { subAccountLedger(id: $id, first: 50) { __typename
        ... on SubAccountLedgerConnection { balance { creditsMicroUsd drawsMicroUsd balanceMicroUsd balanceCents }
          edges { node { id kind amountMicroUsd reference } } pageInfo { hasNextPage } } } }`,
        { id },
      );
      const ledger = gql.data.subAccountLedger;
      const own = await h.gql(
        `query($id: ID!) { subAccount(id: $id) { __typename
        ... on SubAccount { balance { balanceMicroUsd } } } }`,
        { id },
      );
      expect(own.data.subAccount.balance).toEqual({ balanceMicroUsd: credits - draws });
      expect(ledger.balance).toEqual({
        creditsMicroUsd: credits,
        drawsMicroUsd: draws,
        balanceMicroUsd: credits - draws,
        balanceCents: (credits - draws) / 10_000,
      });
      expect(ledger.pageInfo.hasNextPage).toBe(false);
      expect(ledger.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(
        full.body.data.map((e: { id: string }) => e.id),
      );
      expect(
        ledger.edges.reduce(
          (s: number, e: { node: { amountMicroUsd: number } }) => s + e.node.amountMicroUsd,
          0,
        ),
      ).toBe(credits - draws);
      const top = async (amountCents: unknown, reference: string) =>
        (
          await h.gql(
            `mutation($id: ID!, $input: TopUpCreditsInput!) { topUpCredits(subAccountId: $id, input: $input) {
            __typename ... on TopUpPayload { idempotentReplay credit { id amountCents }
              balance { balanceMicroUsd } } ... on Error { message } } }`,
            { id, input: { amountCents, reference } },
          )
        ).data.topUpCredits;
      const t1 = await top(500, 'gql-1');
      expect(t1).toMatchObject({
        idempotentReplay: false,
        credit: { amountCents: 500 },
        balance: { balanceMicroUsd: credits - draws + 5_000_000 },
      });
      const t2 = await top(500, 'gql-1');
      expect(t2).toMatchObject({ idempotentReplay: true, credit: { id: t1.credit.id } });
      expect((await top(501, 'gql-1')).__typename).toBe('ConflictError');
      expect((await top(-5, 'gql-2')).__typename).toBe('ValidationError');
    },
  );

  it.skipIf(skipKind(kind))(
    'balance.low fires once per crossing, re-armed by a top-up',
    async () => {
      const id = await prepaid('low', { low_balance_threshold_cents: 200 });
      const hook = await h.api('POST', '/v1/webhooks', {
        url: 'https://billing.example.com/hooks',
        events: ['sub_account.balance.low'],
      });
      expect(hook.status).toBe(201);
      await h.api('POST', `/v1/sub-accounts/${id}/credits`, {
        amount_cents: 1000,
        reference: 'r1',
      });
      const lows = () =>
        h.prisma.budgetEvent.findMany({ where: { subAccountId: id, type: 'balance_low' } });
      const ingest = async (micros: number) => {
        const e = spend(id, micros);
        await writeUsage(h.prisma, [e]);
        const { drafts } = await evaluateUsage(h.prisma, [e]);
        return recordEvents(h.prisma, drafts);
      };
      await ingest(7_000_000); // balance $3.00: above the $2.00 threshold
      expect(await lows()).toHaveLength(0);
      // (The 80 % budget warning fires beside it: the cap of a prepaid account is its credits.)
      const crossed = (await ingest(1_500_000)).filter((e) => e.type === 'balance_low'); // $1.50 left
      expect(crossed.map((e) => e.eventType)).toEqual(['sub_account.balance.low']);
      expect(crossed[0]!.data).toMatchObject({
        balance_cents: 150,
        credits_cents: 1000,
        threshold_cents: 200,
      });
      await ingest(100_000); // still below: no second event
      expect(await lows()).toHaveLength(1);
      const deliveries = await h.prisma.webhookDelivery.findMany({
        where: { endpointId: hook.body.id, eventType: 'sub_account.balance.low' },
      });
      expect(deliveries).toHaveLength(1);
      expect(
        (deliveries[0]!.payload as { data: { balance_cents: number } }).data.balance_cents,
      ).toBe(150);
      // A top-up lifts it above and re-arms the event; the next crossing fires again.
      await h.api('POST', `/v1/sub-accounts/${id}/credits`, { amount_cents: 500, reference: 'r2' });
      await ingest(100_000); // $6.30 left
      expect(await lows()).toHaveLength(1);
      await ingest(4_500_000); // $1.80 left
      expect(await lows()).toHaveLength(2);
    },
  );
});
