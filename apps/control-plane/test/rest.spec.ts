import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeUsage } from '@tollgate/control-plane';
import { encodeSnapshot } from '@tollgate/policy';
import { usageEvent } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot } from '../src/policy/snapshot.ts';
import {
  ADMIN_KEY,
  type Harness,
  KINDS,
  ROOT_KEY,
  rowCounts,
  skipKind,
  startHarness,
} from './harness.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe.each(KINDS)('REST façade on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (!skipKind(kind)) h = await startHarness(kind);
  });
  afterAll(async () => h?.close());

  it.skipIf(skipKind(kind))(
    'runs the seed: create, fetch, patch, list, rotate, revoke, delete',
    async () => {
      const created = await h.api('POST', '/v1/sub-accounts', {
        name: 'acme-corp',
        spend_cap_cents: 50000,
        rate_limit_rpm: 300,
        default_tag: 'acme',
      });
      expect(created.status).toBe(201);
      const sa = created.body;
      expect(sa.id).toMatch(/^sa_/);
      expect(sa.key).toMatch(/^sk-tg-[A-Za-z0-9]{43,}$/);
      expect(sa.key.startsWith('sk-tg-admin-')).toBe(false);
      expect(sa).toMatchObject({
        name: 'acme-corp',
        spend_cap_cents: 50000,
        rate_limit_rpm: 300,
        default_tag: 'acme',
        budget_period: 'monthly',
        status: 'active',
        allowed_models: [],
      });
      expect(typeof sa.created_at).toBe('string');

      // Only the hash and a short prefix are stored, never the plaintext.
      const rows = await h.prisma.subAccountKey.findMany({ where: { subAccountId: sa.id } });
      expect(rows).toHaveLength(1);
      expect(rows[0]!.hash).toBe(sha256(sa.key));
      // The first key's id comes with it, so it can be revoked without listing the keys first.
      expect(sa.key_id).toBe(rows[0]!.id);
      expect(JSON.stringify(rows)).not.toContain(sa.key);
      expect(sa.key.startsWith(rows[0]!.prefix)).toBe(true);

      const fetched = await h.api('GET', `/v1/sub-accounts/${sa.id}`);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toMatchObject({ id: sa.id, spent_cents: 0, reserved_cents: 0 });
      expect(fetched.body.key).toBeUndefined();
      expect(fetched.body.keys).toHaveLength(1);

      const patched = await h.api('PATCH', `/v1/sub-accounts/${sa.id}`, {
        spend_cap_cents: 75000.1234,
        allowed_models: ['openai/gpt-4o-mini'],
        status: 'suspended',
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({
        spend_cap_cents: 75000.1234,
        status: 'suspended',
        rate_limit_rpm: 300,
      });
      const stored = await h.prisma.subAccount.findUniqueOrThrow({ where: { id: sa.id } });
      expect(stored.spendCapMicros).toBe(750_001_234n);

      const list = await h.api('GET', '/v1/sub-accounts?limit=50');
      expect(list.status).toBe(200);
      expect(list.body.data.map((s: { id: string }) => s.id)).toContain(sa.id);

      const rotated = await h.api('POST', `/v1/sub-accounts/${sa.id}/keys`, {
        expires_in_seconds: 3600,
      });
      expect(rotated.status).toBe(201);
      expect(rotated.body.key).toMatch(/^sk-tg-/);
      expect(rotated.body.key).not.toBe(sa.key);
      expect(Date.parse(rotated.body.expires_at)).toBeGreaterThan(Date.now() + 3_500_000);

      const revoked = await h.api('DELETE', `/v1/sub-accounts/${sa.id}/keys/${rotated.body.id}`);
      expect(revoked.status).toBe(200);
      expect(revoked.body.revoked_at).not.toBeNull();
      const keyRow = await h.prisma.subAccountKey.findUniqueOrThrow({
        where: { id: rotated.body.id },
      });
      expect(keyRow.revokedAt).not.toBeNull();

      const deleted = await h.api('DELETE', `/v1/sub-accounts/${sa.id}`);
      expect(deleted.status).toBe(200);
      expect(deleted.body.status).toBe('deleted');
      const live = await h.prisma.subAccountKey.count({
        where: { subAccountId: sa.id, revokedAt: null },
      });
      expect(live).toBe(0);
      // Deleted stays readable (its usage stays queryable) but takes no change: a 409 saying so
      // (GET finds it, so "not found" would contradict it); deleting again is harmless.
      expect((await h.api('GET', `/v1/sub-accounts/${sa.id}`)).body.status).toBe('deleted');
      const before = await rowCounts(h.prisma);
      const message = `sub-account '${sa.id}' is deleted: its usage stays readable, but it takes no changes or keys`;
      for (const [method, path, body] of [
        ['PATCH', `/v1/sub-accounts/${sa.id}`, { status: 'active' }],
        ['PATCH', `/v1/sub-accounts/${sa.id}`, { spend_cap_cents: 5 }],
        ['POST', `/v1/sub-accounts/${sa.id}/keys`, {}],
      ] as const) {
        const refused = await h.api(method, path, body);
        expect(refused.status, `${method} ${path}`).toBe(409);
        expect(refused.body.error).toMatchObject({ code: 'conflict', message });
      }
      const twice = await h.api('DELETE', `/v1/sub-accounts/${sa.id}`);
      expect(twice.status).toBe(200);
      expect(twice.body).toMatchObject({ id: sa.id, status: 'deleted' });
      expect(await rowCounts(h.prisma)).toEqual(before);
    },
  );

  it.skipIf(skipKind(kind))(
    'pages sub-accounts with a cursor and filters by external id and tag',
    async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await h.api('POST', '/v1/sub-accounts', {
          name: `page-${i}`,
          external_id: `ext-page-${i}`,
          default_tag: i % 2 === 0 ? 'even' : 'odd',
          metadata: { plan: 'pro', i },
        });
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const page = await h.api('GET', `/v1/sub-accounts?limit=2${q}`);
        expect(page.status).toBe(200);
        expect(page.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.data.map((s: { id: string }) => s.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      for (const id of ids) expect(seen).toContain(id);
      expect(new Set(seen).size).toBe(seen.length);

      const byExt = await h.api('GET', '/v1/sub-accounts?external_id=ext-page-3');
      expect(byExt.body.data).toHaveLength(1);
      expect(byExt.body.data[0].id).toBe(ids[3]);
      expect(byExt.body.data[0].metadata).toEqual({ plan: 'pro', i: 3 });

      const byTag = await h.api('GET', '/v1/sub-accounts?tag=odd');
      expect(byTag.body.data.map((s: { id: string }) => s.id).sort()).toEqual(
        [ids[1], ids[3]].sort(),
      );

      const forged = await h.api('GET', '/v1/sub-accounts?cursor=not-a-real-cursor');
      expect(forged.status).toBe(400);
      expect(forged.body.error.type).toBe('invalid_request_error');
    },
  );

  it.skipIf(skipKind(kind))(
    'manages workspace settings, budgets, prices, provider keys and webhooks',
    async () => {
      const ws = await h.api('PATCH', '/v1/workspace', {
        markup_percent: 12.5,
        spend_cap_cents: 1_000_000,
        budget_period: 'monthly',
        byok_waives_markup: true,
      });
      expect(ws.status).toBe(200);
      expect(ws.body).toMatchObject({
        name: 'default',
        markup_percent: 12.5,
        spend_cap_cents: 1_000_000,
      });
      expect((await h.api('GET', '/v1/workspace')).body.markup_percent).toBe(12.5);

      const budget = await h.api('POST', '/v1/budgets', {
        tag: 'feature-x',
        monthly_cap_cents: 2500,
      });
      expect(budget.status).toBe(201);
      expect(budget.body).toMatchObject({ tag: 'feature-x', cap_cents: 2500, period: 'monthly' });
      const daily = await h.api('POST', '/v1/budgets', {
        tag: 'feature-y',
        cap_cents: 10.5,
        period: 'daily',
      });
      expect(daily.status).toBe(201);
      expect(daily.body).toMatchObject({ cap_cents: 10.5, period: 'daily' });
      const dup = await h.api('POST', '/v1/budgets', { tag: 'feature-x', monthly_cap_cents: 1 });
      expect(dup.status).toBe(409);
      expect((await h.api('GET', '/v1/budgets')).body.data).toHaveLength(2);
      expect((await h.api('DELETE', `/v1/budgets/${daily.body.id}`)).status).toBe(200);
      expect((await h.api('GET', '/v1/budgets')).body.data).toHaveLength(1);

      const price = await h.api('POST', '/v1/prices', {
        model: 'vllm/llama-3.1-8b',
        input_per_mtok_cents: 5,
        output_per_mtok_cents: 7.5,
        cached_input_per_mtok_cents: 1,
      });
      expect(price.status).toBe(201);
      expect(price.body).toMatchObject({
        model: 'vllm/llama-3.1-8b',
        input_per_mtok_cents: 5,
        output_per_mtok_cents: 7.5,
      });
      const prices = await h.api('GET', '/v1/prices');
      expect(prices.status).toBe(200);
      const mine = prices.body.data.find((p: { model: string }) => p.model === 'vllm/llama-3.1-8b');
      expect(mine).toMatchObject({ output_per_mtok_cents: 7.5 });
      expect(prices.body.data.length).toBeGreaterThan(5); // the catalogue is there too

      const secret = 'sk-proj-THIS-IS-A-PROVIDER-SECRET-1234';
      const pk = await h.api('POST', '/v1/provider-keys', { provider: 'openai', api_key: secret });
      expect(pk.status).toBe(201);
      expect(JSON.stringify(pk.body)).not.toContain(secret);
      expect(pk.body.key_hint).toBe('…1234');
      const cred = await h.prisma.providerCredential.findUniqueOrThrow({
        where: { id: pk.body.id },
      });
      expect(cred.sealedKey).not.toContain(secret);
      expect(JSON.stringify(await h.api('GET', '/v1/provider-keys'))).not.toContain(secret);
      expect((await h.api('DELETE', `/v1/provider-keys/${pk.body.id}`)).status).toBe(200);
      expect(pk.body).toMatchObject({ kind: 'openai', api_version: null });

      const hook = await h.api('POST', '/v1/webhooks', {
        url: 'https://hooks.example.com/tollgate',
        events: ['sub_account.created', 'sub_account.budget.exhausted'],
      });
      expect(hook.status).toBe(201);
      expect(hook.body.id).toMatch(/^wh/);
      expect(hook.body.secret).toMatch(/^whsec_/);
      const hooks = await h.api('GET', '/v1/webhooks');
      expect(JSON.stringify(hooks.body)).not.toContain(hook.body.secret);
      const deliveries = await h.api('GET', `/v1/webhooks/${hook.body.id}/deliveries`);
      expect(deliveries.status).toBe(200);
      expect(deliveries.body.data).toEqual([]);
      const privateHook = await h.api('POST', '/v1/webhooks', {
        url: 'http://127.0.0.1:9/x',
        events: ['sub_account.created'],
      });
      expect(privateHook.status).toBe(400);
      expect((await h.api('DELETE', `/v1/webhooks/${hook.body.id}`)).status).toBe(200);
    },
  );

  it.skipIf(skipKind(kind))(
    'registers an Azure OpenAI provider key (kind, api_version) and publishes its route',
    async () => {
      const base = 'https://myres.openai.azure.com';
      const pk = await h.api('POST', '/v1/provider-keys', {
        provider: 'myazure',
        api_key: 'azure-key-abcdef-4321',
        base_url: base,
        kind: 'azure',
        api_version: '2025-01-01-preview',
      });
      expect(pk.status).toBe(201);
      expect(pk.body).toMatchObject({
        provider: 'myazure',
        base_url: base,
        kind: 'azure',
        api_version: '2025-01-01-preview',
        key_hint: '…4321',
      });
      const listed = (await h.api('GET', '/v1/provider-keys')).body.data;
      expect(listed).toContainEqual(expect.objectContaining({ id: pk.body.id, kind: 'azure' }));

      const snap = await buildSnapshot(h.prisma, 1);
      const route = snap.providerRoutes.find((r) => r.provider === 'myazure');
      expect(route).toMatchObject({
        kind: 'azure',
        apiVersion: '2025-01-01-preview',
        baseUrl: base,
      });
      expect(encodeSnapshot(snap)).toContain('2025-01-01-preview');

      // Replacing the key without a kind makes it a plain OpenAI-compatible route again.
      const plain = await h.api('POST', '/v1/provider-keys', {
        provider: 'myazure',
        api_key: 'azure-key-abcdef-9999',
        base_url: base,
      });
      expect(plain.body).toMatchObject({ id: pk.body.id, kind: 'openai', api_version: null });
      const again = (await buildSnapshot(h.prisma, 2)).providerRoutes.find(
        (r) => r.provider === 'myazure',
      );
      expect(again).not.toHaveProperty('kind');
      expect(again).not.toHaveProperty('apiVersion');
      expect((await h.api('DELETE', `/v1/provider-keys/${pk.body.id}`)).status).toBe(200);
    },
  );

  it.skipIf(skipKind(kind))(
    "an anthropic key is of kind 'anthropic'; an OpenAI-compatible flavour for it is refused",
    async () => {
      const before = await rowCounts(h.prisma);
      for (const extra of [{ kind: 'azure' }, { kind: 'openai' }]) {
        const refused = await h.api('POST', '/v1/provider-keys', {
          provider: 'anthropic',
          api_key: 'sk-ant-byok-1234',
          ...extra,
        });
        expect(refused.status).toBe(400);
        expect(refused.body.error.message).toBe(
          'kind cannot be set for anthropic, which speaks its own API',
        );
      }
      expect(await rowCounts(h.prisma)).toEqual(before);
      const pk = await h.api('POST', '/v1/provider-keys', {
        provider: 'anthropic',
        api_key: 'sk-ant-byok-1234',
      });
      expect(pk.status).toBe(201);
      expect(pk.body).toMatchObject({
        provider: 'anthropic',
        kind: 'anthropic',
        api_version: null,
      });
      const listed = (await h.api('GET', '/v1/provider-keys')).body.data;
      expect(listed).toContainEqual(expect.objectContaining({ id: pk.body.id, kind: 'anthropic' }));
      const gql = await h.gql(
        '{ providerKeys { ... on ProviderKeyConnection { edges { node { id provider kind } } } } }',
      );
      expect(gql.data.providerKeys.edges.map((e: { node: unknown }) => e.node)).toContainEqual({
        id: pk.body.id,
        provider: 'anthropic',
        kind: 'anthropic',
      });
      expect((await h.api('DELETE', `/v1/provider-keys/${pk.body.id}`)).status).toBe(200);
    },
  );

  it.skipIf(skipKind(kind))(
    'reports usage per sub-account and per tag from the books',
    async () => {
      const sa = (
        await h.api('POST', '/v1/sub-accounts', { name: 'usage-co', default_tag: 'usage-co' })
      ).body;
      const today = new Date();
      const at = (daysAgo: number) =>
        new Date(today.getTime() - daysAgo * 86_400_000).toISOString();
      const events = [
        usageEvent({
          requestId: `req_${sa.id}_1`,
          workspaceId: h.workspaceId,
          subAccountId: sa.id,
          tags: ['usage-co'],
          inputTokens: 100,
          outputTokens: 50,
          providerCostMicros: 1_234,
          billedCostMicros: 1_500,
          startedAt: at(0),
          finishedAt: at(0),
        }),
        usageEvent({
          requestId: `req_${sa.id}_2`,
          workspaceId: h.workspaceId,
          subAccountId: sa.id,
          tags: ['usage-co', 'beta'],
          model: 'openai/gpt-4o',
          inputTokens: 10,
          outputTokens: 5,
          providerCostMicros: 20_000,
          billedCostMicros: 22_500,
          startedAt: at(2),
          finishedAt: at(2),
        }),
        usageEvent({
          requestId: `req_${sa.id}_3`,
          workspaceId: h.workspaceId,
          subAccountId: sa.id,
          tags: ['usage-co'],
          status: 'blocked',
          errorClass: 'spend_cap_reached',
          httpStatus: 402,
          startedAt: at(0),
          finishedAt: at(0),
        }),
        usageEvent({
          requestId: `req_${sa.id}_4`,
          workspaceId: h.workspaceId,
          subAccountId: sa.id,
          tags: ['usage-co'],
          status: 'error',
          errorClass: 'upstream_error',
          httpStatus: 502,
          inputTokens: 7,
          providerCostMicros: 100,
          billedCostMicros: 100,
          startedAt: at(40),
          finishedAt: at(40),
        }),
      ];
      expect(await writeUsage(h.prisma, events)).toHaveLength(4);
      // Replaying the same events counts nothing twice.
      expect(await writeUsage(h.prisma, events)).toHaveLength(0);

      // A change answers the sub-account with its period's spend, as a read does.
      const read = (await h.api('GET', `/v1/sub-accounts/${sa.id}`)).body;
      expect(read.spent_cents).toBeGreaterThan(0);
      const changed = await h.api('PATCH', `/v1/sub-accounts/${sa.id}`, { default_tag: 'usage2' });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({
        default_tag: 'usage2',
        spent_cents: read.spent_cents,
        reserved_cents: 0,
        resets_at: read.resets_at,
        balance: null,
      });
      // A prepaid one answers its balance from its creation on.
      const prepaid = await h.api('POST', '/v1/sub-accounts', { name: 'usage-pp', prepaid: true });
      expect(prepaid.status).toBe(201);
      expect(prepaid.body).toMatchObject({ spent_cents: 0, reserved_cents: 0 });
      expect(prepaid.body.balance).toMatchObject({ balance_cents: 0, credits_micro_usd: 0 });
      await h.api('PATCH', `/v1/sub-accounts/${sa.id}`, { default_tag: 'usage-co' });

      const u = await h.api('GET', `/v1/sub-accounts/${sa.id}/usage?window=30d`);
      expect(u.status).toBe(200);
      expect(u.body.summary).toEqual({
        requests: 3,
        cost_cents: 2.4,
        input_tokens: 110,
        output_tokens: 55,
        cached_input_tokens: 0,
        cache_write_tokens: 0,
        errors: 0,
        blocked: 1,
      });
      const byModel = Object.fromEntries(
        u.body.by_model.map((m: { model_id: string }) => [m.model_id, m]),
      );
      expect(byModel['openai/gpt-4o']).toMatchObject({
        requests: 1,
        cost_cents: 2.25,
        input_tokens: 10,
      });
      expect(byModel['openai/gpt-4o-mini']).toMatchObject({ requests: 2, cost_cents: 0.15 });
      expect(u.body.by_day.reduce((n: number, d: { requests: number }) => n + d.requests, 0)).toBe(
        3,
      );
      expect(u.body.by_tag.find((t: { tag: string }) => t.tag === 'beta')).toMatchObject({
        requests: 1,
        cost_cents: 2.25,
      });

      const wide = await h.api(
        'GET',
        `/v1/sub-accounts/${sa.id}/usage?from=${encodeURIComponent(at(60))}&to=${encodeURIComponent(at(-1))}`,
      );
      expect(wide.body.summary).toMatchObject({
        requests: 4,
        errors: 1,
        blocked: 1,
        cost_cents: 2.41,
      });
      // Plain UTC dates: `from` from the day's start, `to` through the day's end.
      const day = (daysAgo: number) => at(daysAgo).slice(0, 10);
      const byDates = await h.api(
        'GET',
        `/v1/sub-accounts/${sa.id}/usage?from=${day(60)}&to=${day(0)}`,
      );
      expect(byDates.status).toBe(200);
      expect(byDates.body.summary).toEqual(wide.body.summary);
      const throughYesterday = await h.api(
        'GET',
        `/v1/sub-accounts/${sa.id}/usage?from=${day(60)}&to=${day(1)}`,
      );
      const beforeToday = await h.api(
        'GET',
        `/v1/sub-accounts/${sa.id}/usage?from=${day(60)}T00:00:00Z&to=${day(0)}T00:00:00Z`,
      );
      expect(throughYesterday.body.summary).toEqual(beforeToday.body.summary);
      expect(throughYesterday.body.summary.requests).toBeLessThan(4);
      for (const bad of ['2026-13-01', '2026-12-1', '12/01/2026']) {
        const refused = await h.api('GET', `/v1/sub-accounts/${sa.id}/usage?from=${bad}`);
        expect(refused.status, bad).toBe(400);
        expect(refused.body.error).toMatchObject({
          param: 'from',
          message:
            'from must be a date like 2026-12-01 or a date and time like 2026-12-01T00:00:00Z',
        });
      }

      const month = today.toISOString().slice(0, 7);
      const tags = await h.api('GET', `/v1/usage/by-tag?month=${month}`);
      expect(tags.status).toBe(200);
      expect(Array.isArray(tags.body)).toBe(true);
      const usageCo = tags.body.find((t: { tag: string }) => t.tag === 'usage-co');
      expect(usageCo.cost_cents).toBeGreaterThanOrEqual(0.15);
      // A window ending now includes today's rollup (day-granular bounds must not cut it off).
      const lastDay = await h.api('GET', '/v1/usage/by-tag?window=24h&tag=usage-co');
      expect(lastDay.body).toEqual([
        expect.objectContaining({ tag: 'usage-co', requests: 2, cost_cents: 0.15 }),
      ]);
      const one = await h.api('GET', `/v1/usage/by-tag?window=7d&tag=beta`);
      expect(one.body).toEqual([
        expect.objectContaining({ tag: 'beta', requests: 1, cost_cents: 2.25 }),
      ]);

      // A window is exact, not widened to the days it touches: a request started just before the
      // 24 h window (on the same UTC day as its start) is outside it, one an hour ago inside;
      // whole days in between come from the rollups.
      const now = Date.now();
      if ((now - 86_400_000) % 86_400_000 < 10_000) await new Promise((r) => setTimeout(r, 10_000));
      const edge = (msAgo: number, n: number) =>
        usageEvent({
          requestId: `req_${sa.id}_edge_${n}`,
          workspaceId: h.workspaceId,
          subAccountId: sa.id,
          tags: ['edge-co'],
          billedCostMicros: 100 * n,
          providerCostMicros: 100 * n,
          startedAt: new Date(Date.now() - msAgo).toISOString(),
          finishedAt: new Date(Date.now() - msAgo).toISOString(),
        });
      expect(
        await writeUsage(h.prisma, [
          edge(86_400_000 + 5_000, 1),
          edge(3_600_000, 2),
          edge(3 * 86_400_000, 4),
        ]),
      ).toHaveLength(3);
      const lastDayOnly = await h.api('GET', '/v1/usage/by-tag?window=24h&tag=edge-co');
      expect(lastDayOnly.body).toEqual([
        expect.objectContaining({ tag: 'edge-co', requests: 1, cost_cents: 0.02 }),
      ]);
      const week = await h.api('GET', '/v1/usage/by-tag?window=7d&tag=edge-co');
      expect(week.body).toEqual([
        expect.objectContaining({ tag: 'edge-co', requests: 3, cost_cents: 0.07 }),
      ]);
      const twoDays = await h.api('GET', '/v1/usage/by-tag?window=48h&tag=edge-co');
      expect(twoDays.body).toEqual([
        expect.objectContaining({ tag: 'edge-co', requests: 2, cost_cents: 0.03 }),
      ]);

      // The spend of the current period comes from the books on GET.
      const fetched = await h.api('GET', `/v1/sub-accounts/${sa.id}`);
      expect(fetched.body.spent_cents).toBeGreaterThanOrEqual(0.15);
    },
  );

  it.skipIf(skipKind(kind))(
    "usage reports count the prompt's cached and cache-write tokens beside input_tokens",
    async () => {
      const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'cache-co' })).body;
      const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
      const event = (n: number, msAgo: number, tokens: Record<string, number>) =>
        usageEvent({
          requestId: `req_${sa.id}_cache_${n}`,
          workspaceId: h.workspaceId,
          subAccountId: sa.id,
          tags: ['cache-co'],
          model: 'openai/gpt-4o-mini',
          outputTokens: 5,
          billedCostMicros: 1_000,
          providerCostMicros: 1_000,
          startedAt: ago(msAgo),
          finishedAt: ago(msAgo),
          ...tokens,
        });
      // One two days ago (a whole day: the by-tag report reads it from the tag × day rollup), one
      // an hour ago (the window's partial day: read from the records).
      const events = [
        event(1, 2 * 86_400_000, {
          inputTokens: 100,
          cachedInputTokens: 300,
          cacheWriteTokens: 50,
        }),
        event(2, 3_600_000, { inputTokens: 10, cachedInputTokens: 20, cacheWriteTokens: 0 }),
      ];
      expect(await writeUsage(h.prisma, events)).toHaveLength(2);
      const tokens = { input_tokens: 110, cached_input_tokens: 320, cache_write_tokens: 50 };

      const u = await h.api('GET', `/v1/sub-accounts/${sa.id}/usage?window=7d`);
      expect(u.status).toBe(200);
      expect(u.body.summary).toMatchObject({ requests: 2, output_tokens: 10, ...tokens });
      expect(u.body.by_model).toEqual([
        expect.objectContaining({ model_id: 'openai/gpt-4o-mini', ...tokens }),
      ]);
      expect(u.body.by_tag).toEqual([expect.objectContaining({ tag: 'cache-co', ...tokens })]);
      const byTag = await h.api('GET', '/v1/usage/by-tag?window=7d&tag=cache-co');
      expect(byTag.body).toEqual([
        expect.objectContaining({ tag: 'cache-co', requests: 2, ...tokens }),
      ]);

      const g = await h.gql(
        `query ($id: ID!) {
          subAccountUsage(id: $id, window: "7d") {
            ... on UsageReport {
              summary { inputTokens cachedInputTokens cacheWriteTokens }
              byTag { tag cachedInputTokens cacheWriteTokens }
            }
          }
          usageByTag(window: "7d", tag: "cache-co") {
            ... on QueryUsageByTagSuccess { data { tag inputTokens cachedInputTokens cacheWriteTokens } }
          }
        }`,
        { id: sa.id },
      );
      expect(g.errors).toBeUndefined();
      expect(g.data.subAccountUsage.summary).toEqual({
        inputTokens: 110,
        cachedInputTokens: 320,
        cacheWriteTokens: 50,
      });
      expect(g.data.subAccountUsage.byTag).toEqual([
        { tag: 'cache-co', cachedInputTokens: 320, cacheWriteTokens: 50 },
      ]);
      expect(g.data.usageByTag.data).toEqual([
        { tag: 'cache-co', inputTokens: 110, cachedInputTokens: 320, cacheWriteTokens: 50 },
      ]);

      // The migration that added the rollup's columns filled the days already rolled up from the
      // records: run its backfill over a rollup row zeroed as an older version left it.
      await h.prisma.tagRollupDaily.updateMany({
        where: { workspaceId: h.workspaceId, tag: 'cache-co' },
        data: { cachedInputTokens: 0, cacheWriteTokens: 0 },
      });
      const migration = readFileSync(
        new URL(
          '../../../prisma/migrations/20261207143143_tag_rollup_cache_tokens/migration.sql',
          import.meta.url,
        ),
        'utf8',
      );
      const backfill = migration.slice(migration.indexOf('UPDATE "TagRollupDaily"'));
      await h.prisma.$executeRawUnsafe(backfill);
      const rolled = await h.prisma.tagRollupDaily.findMany({
        where: { workspaceId: h.workspaceId, tag: 'cache-co' },
        orderBy: { day: 'asc' },
      });
      expect(rolled.map((r) => [Number(r.cachedInputTokens), Number(r.cacheWriteTokens)])).toEqual([
        [300, 50],
        [20, 0],
      ]);
    },
  );

  it.skipIf(skipKind(kind))(
    'isolates workspaces: another admin key sees 404 exactly as for a missing id',
    async () => {
      const other = await h.api('POST', '/v1/workspaces', { name: `other-${kind}` }, ROOT_KEY);
      expect(other.status).toBe(201);
      expect(other.body.admin_key).toMatch(/^sk-tg-admin-/);
      const otherKey: string = other.body.admin_key;
      // Admin keys are refused on the root-only route, and the root key cannot act inside a workspace.
      expect((await h.api('POST', '/v1/workspaces', { name: 'x' }, ADMIN_KEY)).status).toBe(403);
      expect((await h.api('GET', '/v1/sub-accounts', undefined, ROOT_KEY)).status).toBe(403);

      const mine = (await h.api('POST', '/v1/sub-accounts', { name: 'private' })).body;
      const theirs = await h.api('GET', `/v1/sub-accounts/${mine.id}`, undefined, otherKey);
      const missing = await h.api('GET', '/v1/sub-accounts/sa_doesnotexist', undefined, otherKey);
      expect(theirs.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(theirs.body.error.code).toBe(missing.body.error.code);
      expect(theirs.body.error.message.replace(mine.id, 'ID')).toBe(
        missing.body.error.message.replace('sa_doesnotexist', 'ID'),
      );
      for (const [method, path, body] of [
        ['PATCH', `/v1/sub-accounts/${mine.id}`, { name: 'stolen' }],
        ['DELETE', `/v1/sub-accounts/${mine.id}`, undefined],
        ['POST', `/v1/sub-accounts/${mine.id}/keys`, {}],
        ['GET', `/v1/sub-accounts/${mine.id}/usage?window=7d`, undefined],
      ] as const) {
        const r = await h.api(method, path, body, otherKey);
        expect(r.status, `${method} ${path}`).toBe(404);
      }
      const list = await h.api('GET', '/v1/sub-accounts', undefined, otherKey);
      expect(list.body.data).toEqual([]);
      const still = await h.prisma.subAccount.findUniqueOrThrow({ where: { id: mine.id } });
      expect(still.name).toBe('private');
      expect(still.status).toBe('active');
    },
  );

  it.skipIf(skipKind(kind))(
    'refuses missing, malformed and revoked admin keys with 401',
    async () => {
      expect((await h.api('GET', '/v1/sub-accounts', undefined, null)).status).toBe(401);
      const bad = await h.api('GET', '/v1/sub-accounts', undefined, 'sk-tg-admin-nope');
      expect(bad.status).toBe(401);
      expect(bad.body.error).toMatchObject({ code: 'invalid_api_key' });
      // A sub-account key is not an admin key.
      const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'not-admin' })).body;
      expect((await h.api('GET', '/v1/sub-accounts', undefined, sa.key)).status).toBe(401);
    },
  );
});
