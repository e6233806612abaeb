import { randomBytes } from 'node:crypto';
import { pgAvailable, type TestDatabase } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataPlane } from '../src/index.ts';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';
import { type Stack, startStack } from './stack.ts';
import { until } from './wait.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const skip = process.env.TG_TIER_REDIS === '0';
const ADMIN_KEY = `sk-tg-admin-${'P'.repeat(43)}`;
/** 100 µ$ per token in and out. */
const BIG = 'openai/big-model';
/** 1 µ$ per token in and out. */
const SMALL = 'openai/small-model';
const ENTERPRISE_KEY = 'sk-enterprise-own-key-0042';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
type Json = any;

/**
 * Plans, per-sub-account overrides, downgrade routing and sub-account BYOK (issue 8, part A):
 * one control plane and TWO data planes over PGlite (and PostgreSQL when its tier is on) and one
 * real Redis, the provider faked.
 */
describe.each(['pglite', 'postgres'] as const)(
  'plans, overrides, downgrade routing, sub-account BYOK (%s)',
  (kind) => {
    if (skip || (kind === 'postgres' && !pgAvailable())) {
      it.skip('needs Redis (and PostgreSQL for this kind)', () => {});
      return;
    }
    const prefix = `plans-${randomBytes(6).toString('hex')}`;
    let stack: Stack;
    let database: TestDatabase;
    let planes: DataPlane[] = [];
    let planeUrls: string[] = [];
    let upstream: FakeUpstream;
    let enterprise: FakeUpstream;

    const admin = (method: string, path: string, body?: unknown) => stack.admin(method, path, body);
    const chat = (plane: number, key: string, model: string, extra: object = {}) =>
      fetch(`${planeUrls[plane]}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model,
          messages: [{ role: 'user', content: 'x' }],
          max_tokens: 100,
          ...extra,
        }),
      });
    /** Waits until every data plane holds the policy revision the control plane last committed. */
    const settled = async () => {
      const target = Number(
        (await database.db.prisma.policyState.findUnique({ where: { id: 1 } }))?.revision ?? 0n,
      );
      await until('both data planes to hold the latest revision', async () =>
        planes.every((p) => p.policyRevision() >= target) ? true : undefined,
      );
    };
    const newSubAccount = async (body: object) => {
      const res = await admin('POST', '/v1/sub-accounts', body);
      expect(res.status).toBe(201);
      await settled();
      return res.body as { id: string; key: string } & Json;
    };
    const records = async (subAccountId: string, n: number) => {
      for (const p of planes) await p.flushUsage();
      return until(`${n} usage records of ${subAccountId}`, async () => {
        const rows = await database.db.prisma.usageRecord.findMany({
          where: { subAccountId },
          orderBy: { startedAt: 'asc' },
        });
        return rows.length >= n ? rows : undefined;
      });
    };

    beforeAll(async () => {
      stack = await startStack({
        kind,
        redisUrl: REDIS_URL,
        prefix,
        adminKey: ADMIN_KEY,
        secretKey: Buffer.alloc(32, 7),
        outputTokens: 10,
        dataPlanes: 2,
        dataPlane: {
          secretKey: Buffer.alloc(32, 7),
          usageBatch: { flushMs: 5 },
          // Slow safety-net poll: propagation must come from the pushed deltas.
          policyPollMs: 30_000,
        },
        prices: { [BIG]: 10_000, [SMALL]: 100 },
      });
      ({ database, planes, planeUrls, upstream } = stack);
      enterprise = await startFakeUpstream({ outputTokens: 10 });
      expect(await stack.reconciler.runOnce()).toEqual([stack.workspaceId]);
      await settled();
    });

    afterAll(async () => {
      await stack?.close();
      await enterprise?.close();
    });

    it('refuses bad plan input clearly and changes nothing', async () => {
      const before = await database.db.prisma.plan.count();
      const fallbackOutside = await admin('POST', '/v1/plans', {
        name: 'bad-fallback',
        allowed_models: [BIG],
        fallback_model: SMALL,
      });
      expect(fallbackOutside.status).toBe(400);
      expect(fallbackOutside.body.error.message).toContain('not in the allowed models');
      const unpriced = await admin('POST', '/v1/plans', {
        name: 'bad-model',
        fallback_model: 'openai/no-such-model',
      });
      expect(unpriced.status).toBe(400);
      expect(unpriced.body.error.message).toContain("unknown model 'openai/no-such-model'");
      const badName = await admin('POST', '/v1/plans', { name: 'Has Spaces' });
      expect(badName.status).toBe(400);
      const unknownField = await admin('POST', '/v1/plans', { name: 'x', rpm: 5 });
      expect(unknownField.status).toBe(400);
      expect(await database.db.prisma.plan.count()).toBe(before);

      const subsBefore = await database.db.prisma.subAccount.count();
      const unknownPlan = await admin('POST', '/v1/sub-accounts', { name: 'nope', plan: 'nope' });
      expect(unknownPlan.status).toBe(400);
      expect(unknownPlan.body.error.message).toContain("unknown plan 'nope'");
      expect(await database.db.prisma.subAccount.count()).toBe(subsBefore);

      const plan = await admin('POST', '/v1/plans', { name: 'narrow', allowed_models: [BIG] });
      expect(plan.status).toBe(201);
      // A sub-account fallback outside the allow-list it inherits is refused too.
      const saFallback = await admin('POST', '/v1/sub-accounts', {
        name: 'fb',
        plan: 'narrow',
        fallback_model: SMALL,
      });
      expect(saFallback.status).toBe(400);
      expect(saFallback.body.error.message).toContain('not in the allowed models');
      const dup = await admin('POST', '/v1/plans', { name: 'narrow' });
      expect(dup.status).toBe(409);
      const sa = await newSubAccount({ name: 'on-narrow', plan: 'narrow' });
      const del = await admin('DELETE', '/v1/plans/narrow');
      expect(del.status).toBe(409);
      expect(del.body.error.message).toContain('used by 1 sub-account');
      // Deleting the sub-account detaches it; then the plan can go.
      expect((await admin('DELETE', `/v1/sub-accounts/${sa.id}`)).status).toBe(200);
      expect((await admin('DELETE', '/v1/plans/narrow')).status).toBe(200);
      expect((await admin('GET', '/v1/plans/narrow')).status).toBe(404);

      // A plan change that would leave a sub-account's own fallback outside the allow-list it
      // inherits is refused (it would never serve), and changes nothing.
      expect((await admin('POST', '/v1/plans', { name: 'open' })).status).toBe(201);
      const own = await newSubAccount({ name: 'own-fb', plan: 'open', fallback_model: SMALL });
      const narrowed = await admin('PATCH', '/v1/plans/open', { allowed_models: [BIG] });
      expect(narrowed.status).toBe(409);
      expect(narrowed.body.error.message).toBe(
        `sub-account 'own-fb' (${own.id}) on this plan would have its fallback model '${SMALL}' outside its allowed models: change its own settings first`,
      );
      expect((await admin('GET', '/v1/plans/open')).body.allowed_models).toEqual([]);
      expect((await admin('GET', `/v1/sub-accounts/${own.id}`)).body).toMatchObject({
        allowed_models: [],
        fallback_model: SMALL,
      });
      // Including the fallback keeps the pair whole: accepted, and the sub-account follows.
      const widened = await admin('PATCH', '/v1/plans/open', { allowed_models: [BIG, SMALL] });
      expect(widened.status).toBe(200);
      expect((await admin('GET', `/v1/sub-accounts/${own.id}`)).body.allowed_models).toEqual([
        BIG,
        SMALL,
      ]);
      expect((await admin('DELETE', `/v1/sub-accounts/${own.id}`)).status).toBe(200);
      expect((await admin('DELETE', '/v1/plans/open')).status).toBe(200);
      const audit = await database.db.prisma.auditLog.findMany({ where: { targetType: 'plan' } });
      expect(audit.map((a) => a.action).sort()).toEqual([
        'plan.create',
        'plan.create',
        'plan.delete',
        'plan.delete',
        'plan.update',
      ]);
    });

    it('a plan change reaches both data planes within a second; overrides win over the plan', async () => {
      const pro = await admin('POST', '/v1/plans', {
        name: 'pro',
        allowed_models: [BIG, SMALL],
        rate_limit_rpm: 1000,
      });
      expect(pro.status).toBe(201);
      const follower = await newSubAccount({ name: 'follows-pro', plan: 'pro' });
      const overrider = await newSubAccount({
        name: 'overrides-pro',
        plan: 'pro',
        allowed_models: [BIG],
      });
      expect(follower.plan).toBe('pro');
      expect(follower.inherited_from_plan).toContain('allowed_models');
      expect(follower.allowed_models).toEqual([BIG, SMALL]);
      expect(overrider.inherited_from_plan).not.toContain('allowed_models');
      expect(overrider.inherited_from_plan).toContain('rate_limit_rpm');
      for (const plane of [0, 1]) {
        expect((await chat(plane, follower.key, BIG)).status).toBe(200);
        expect((await chat(plane, overrider.key, BIG)).status).toBe(200);
      }

      const t0 = Date.now();
      const patched = await admin('PATCH', '/v1/plans/pro', { allowed_models: [SMALL] });
      expect(patched.status).toBe(200);
      expect(patched.body.allowed_models).toEqual([SMALL]);
      // Both planes refuse the follower's BIG (403), whichever answers first.
      await Promise.all(
        [0, 1].map((plane) =>
          until(`plane ${plane} to enforce the new allow-list`, async () => {
            const res = await chat(plane, follower.key, BIG);
            return res.status === 403 ? true : undefined;
          }),
        ),
      );
      expect(Date.now() - t0).toBeLessThan(1000);
      for (const plane of [0, 1]) {
        expect((await chat(plane, follower.key, SMALL)).status).toBe(200);
        // The overridden allow-list is the sub-account's own: the plan change does not touch it.
        expect((await chat(plane, overrider.key, BIG)).status).toBe(200);
      }
      // The books show the effective settings and where they come from.
      const f = (await admin('GET', `/v1/sub-accounts/${follower.id}`)).body;
      expect(f.allowed_models).toEqual([SMALL]);
      const o = (await admin('GET', `/v1/sub-accounts/${overrider.id}`)).body;
      expect(o.allowed_models).toEqual([BIG]);

      // A cap set on the plan applies to both; back to inheriting drops the override.
      await admin('PATCH', '/v1/plans/pro', { spend_cap_cents: 0.0001 });
      await settled();
      for (const plane of [0, 1]) {
        expect((await chat(plane, follower.key, SMALL)).status).toBe(402);
        expect((await chat(plane, overrider.key, BIG)).status).toBe(402);
      }
      const inherit = await admin('PATCH', `/v1/sub-accounts/${overrider.id}`, {
        inherit: ['allowed_models', 'spend_cap_cents'],
        spend_cap_cents: null,
      });
      expect(inherit.status).toBe(400);
      const inherited = await admin('PATCH', `/v1/sub-accounts/${overrider.id}`, {
        inherit: ['allowed_models'],
        spend_cap_cents: 100,
      });
      expect(inherited.status).toBe(200);
      expect(inherited.body.allowed_models).toEqual([SMALL]);
      expect(inherited.body.spend_cap_cents).toBe(100);
      expect(inherited.body.inherited_from_plan).toContain('allowed_models');
      expect(inherited.body.inherited_from_plan).not.toContain('spend_cap_cents');
      await settled();
      for (const plane of [0, 1]) {
        expect((await chat(plane, overrider.key, BIG)).status).toBe(403);
        expect((await chat(plane, overrider.key, SMALL)).status).toBe(200);
      }
    });

    it('moving a sub-account between plans carries its spend of the period over', async () => {
      expect((await admin('POST', '/v1/plans', { name: 'open' })).status).toBe(201);
      const sa = await newSubAccount({ name: 'mover', plan: 'open' });
      for (let i = 0; i < 5; i++) expect((await chat(i % 2, sa.key, SMALL)).status).toBe(200);
      const rows = await records(sa.id, 5);
      const spent = rows.reduce((s, r) => s + Number(r.billedCostMicros), 0);
      // 5 × (12 prompt + 10 output) tokens at 1 µ$ each.
      expect(spent).toBe(110);
      // Room for 10 µ$ more: a fresh counter (120 µ$ left) would serve a clamped answer, the
      // carried one cannot even fit the prompt.
      const tight = await admin('POST', '/v1/plans', {
        name: 'tight',
        spend_cap_cents: (spent + 10) / 10_000,
      });
      expect(tight.status).toBe(201);
      const moved = await admin('PATCH', `/v1/sub-accounts/${sa.id}`, { plan: 'tight' });
      expect(moved.status).toBe(200);
      expect(moved.body.plan).toBe('tight');
      expect(moved.body.spend_cap_cents).toBe((spent + 10) / 10_000);
      await settled();
      for (const plane of [0, 1]) expect((await chat(plane, sa.key, SMALL)).status).toBe(402);
      // Back on the open plan it is served again.
      expect((await admin('PATCH', `/v1/sub-accounts/${sa.id}`, { plan: 'open' })).status).toBe(
        200,
      );
      await settled();
      expect((await chat(0, sa.key, SMALL)).status).toBe(200);
    });

    it('downgrades to the fallback only when the requested model no longer fits, and records both', async () => {
      // BIG's worst case ≈ (22 + 100) × 100 µ$ ≈ 12 200 µ$; SMALL's ≈ 122 µ$.
      const plan = await admin('POST', '/v1/plans', {
        name: 'budget',
        spend_cap_cents: 0.5, // 5 000 µ$
        fallback_model: SMALL,
      });
      expect(plan.status).toBe(201);
      const tight = await newSubAccount({ name: 'tight-budget', plan: 'budget' });
      // An override of the cap on the same plan: BIG fits, no downgrade.
      const roomy = await newSubAccount({ name: 'roomy', plan: 'budget', spend_cap_cents: 100 });

      const routed = await chat(0, tight.key, BIG);
      expect(routed.status).toBe(200);
      expect(routed.headers.get('x-tollgate-routed-model')).toBe(SMALL);
      expect(((await routed.json()) as Json).model).toBe('small-model');
      expect(upstream.received.at(-1)!.body!.model).toBe('small-model');

      const streamed = await chat(1, tight.key, BIG, { stream: true });
      expect(streamed.status).toBe(200);
      expect(streamed.headers.get('x-tollgate-routed-model')).toBe(SMALL);
      const text = await streamed.text();
      expect(text).toContain('"model":"small-model"');
      expect(text).toContain('data: [DONE]');

      // When not even the fallback's smallest answer fits, it is the usual 402, not a reroute.
      const broke = await newSubAccount({ name: 'broke', plan: 'budget', spend_cap_cents: 0.0001 });
      const refused = await chat(1, broke.key, BIG);
      expect(refused.status).toBe(402);
      expect(refused.headers.get('x-tollgate-routed-model')).toBeNull();

      const direct = await chat(0, roomy.key, BIG);
      expect(direct.status).toBe(200);
      expect(direct.headers.get('x-tollgate-routed-model')).toBeNull();
      expect(((await direct.json()) as Json).model).toBe('big-model');

      const tightRows = await records(tight.id, 2);
      for (const r of tightRows) {
        expect(r.model).toBe(SMALL);
        expect(r.requestedModel).toBe(BIG);
        expect(r.status).toBe('ok');
        // Billed at the fallback's price: far below what BIG would cost.
        expect(Number(r.providerCostMicros)).toBeLessThan(200);
      }
      expect(tightRows.map((r) => r.stream).sort()).toEqual([false, true]);
      const [roomyRow] = await records(roomy.id, 1);
      expect(roomyRow!.model).toBe(BIG);
      expect(roomyRow!.requestedModel).toBeNull();
      expect(Number(roomyRow!.providerCostMicros)).toBeGreaterThan(1000);
      // The usage report counts the downgraded requests under the model that served them.
      const report = (await admin('GET', `/v1/sub-accounts/${tight.id}/usage?window=1d`)).body;
      expect(report.by_model).toEqual([
        expect.objectContaining({ model_id: SMALL, requests: 2, downgraded_requests: 2 }),
      ]);
      const roomyReport = (await admin('GET', `/v1/sub-accounts/${roomy.id}/usage?window=1d`)).body;
      expect(roomyReport.by_model).toEqual([
        expect.objectContaining({ model_id: BIG, requests: 1, downgraded_requests: 0 }),
      ]);
    });

    it("a plan's markup replaces the workspace's for its sub-accounts", async () => {
      expect((await admin('PATCH', '/v1/workspace', { markup_percent: 10 })).status).toBe(200);
      expect(
        (await admin('POST', '/v1/plans', { name: 'marked', markup_percent: 50 })).status,
      ).toBe(201);
      const onPlan = await newSubAccount({ name: 'marked-up', plan: 'marked' });
      const plain = await newSubAccount({ name: 'plain' });
      expect((await chat(0, onPlan.key, SMALL)).status).toBe(200);
      expect((await chat(1, plain.key, SMALL)).status).toBe(200);
      const [a] = await records(onPlan.id, 1);
      const [b] = await records(plain.id, 1);
      expect(Number(a!.billedCostMicros)).toBe(Math.ceil(Number(a!.providerCostMicros) * 1.5));
      expect(Number(b!.billedCostMicros)).toBe(Math.ceil(Number(b!.providerCostMicros) * 1.1));
    });

    it("a sub-account's own provider key wins over the workspace's and the platform's, markup waived", async () => {
      const ent = await newSubAccount({ name: 'enterprise' });
      const other = await newSubAccount({ name: 'other' });
      const bad = await admin('POST', `/v1/sub-accounts/${ent.id}/provider-keys`, {
        provider: 'openai',
        api_key: 'short',
      });
      expect(bad.status).toBe(400);
      const missing = await admin('POST', '/v1/sub-accounts/sa_nope/provider-keys', {
        provider: 'openai',
        api_key: ENTERPRISE_KEY,
      });
      expect(missing.status).toBe(404);
      const own = await admin('POST', `/v1/sub-accounts/${ent.id}/provider-keys`, {
        provider: 'openai',
        api_key: ENTERPRISE_KEY,
        base_url: enterprise.url,
      });
      expect(own.status).toBe(201);
      expect(own.body.sub_account_id).toBe(ent.id);
      expect(own.body.key_hint).toBe('…0042');
      expect(JSON.stringify(own.body)).not.toContain(ENTERPRISE_KEY);
      const listed = await admin('GET', `/v1/sub-accounts/${ent.id}/provider-keys`);
      expect(listed.body.data.map((k: Json) => k.id)).toEqual([own.body.id]);
      expect(JSON.stringify(listed.body)).not.toContain(ENTERPRISE_KEY);
      // The workspace's list does not show the sub-account's key.
      const wsKeys = (await admin('GET', '/v1/provider-keys')).body.data;
      expect(wsKeys.map((k: Json) => k.id)).not.toContain(own.body.id);
      // A workspace key too: the sub-account's still wins for its own traffic.
      const wsKey = await admin('POST', '/v1/provider-keys', {
        provider: 'openai',
        api_key: 'sk-workspace-key-0001',
        base_url: upstream.url,
      });
      expect(wsKey.status).toBe(201);
      await settled();

      const entHits = enterprise.hits();
      for (const plane of [0, 1]) {
        expect((await chat(plane, ent.key, SMALL)).status).toBe(200);
        expect(enterprise.received.at(-1)!.headers.authorization).toBe(`Bearer ${ENTERPRISE_KEY}`);
        expect((await chat(plane, other.key, SMALL)).status).toBe(200);
        expect(upstream.received.at(-1)!.headers.authorization).toBe(
          'Bearer sk-workspace-key-0001',
        );
      }
      expect(enterprise.hits()).toBe(entHits + 2);
      const entRows = await records(ent.id, 2);
      for (const r of entRows) {
        expect(r.byok).toBe(true);
        expect(r.billedCostMicros).toBe(r.providerCostMicros);
      }

      // Removing the workspace key: others go back to the platform key, the enterprise keeps its own.
      expect((await admin('DELETE', `/v1/provider-keys/${wsKey.body.id}`)).status).toBe(200);
      await settled();
      expect((await chat(0, other.key, SMALL)).status).toBe(200);
      expect(upstream.received.at(-1)!.headers.authorization).toBe('Bearer sk-platform-upstream');
      expect((await chat(1, ent.key, SMALL)).status).toBe(200);
      expect(enterprise.received.at(-1)!.headers.authorization).toBe(`Bearer ${ENTERPRISE_KEY}`);
    });

    it('GraphQL twins: plans, plan on sub-accounts, sub-account provider keys', async () => {
      const gql = async (query: string) => {
        const res = await fetch(`${stack.cpUrl}/graphql`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ query }),
        });
        return (await res.json()) as Json;
      };
      const created = await gql(
        `mutation { createPlan(input: { name: "gql", rateLimitRpm: 7, fallbackModel: "${SMALL}" }) {
        __typename ... on Plan { id name rateLimitRpm fallbackModel } } }`,
      );
      expect(created.data.createPlan).toMatchObject({
        __typename: 'Plan',
        name: 'gql',
        rateLimitRpm: 7,
        fallbackModel: SMALL,
      });
      const bad = await gql(
        `mutation { createPlan(input: { name: "gql2", allowedModels: ["${BIG}"], fallbackModel: "${SMALL}" }) {
        __typename ... on ValidationError { message } } }`,
      );
      expect(bad.data.createPlan.__typename).toBe('ValidationError');
      const sa = await gql(
        `mutation { createSubAccount(input: { name: "gql-sa", plan: "gql", rateLimitRpd: 3 }) {
        __typename ... on CreateSubAccountPayload { subAccount { id rateLimitRpm rateLimitRpd plan { name } inheritedFromPlan } } } }`,
      );
      const s = sa.data.createSubAccount.subAccount;
      expect(s.plan.name).toBe('gql');
      expect(s.rateLimitRpm).toBe(7);
      expect(s.rateLimitRpd).toBe(3);
      expect(s.inheritedFromPlan).toContain('rate_limit_rpm');
      expect(s.inheritedFromPlan).not.toContain('rate_limit_rpd');
      const updated = await gql(
        `mutation { updatePlan(id: "gql", input: { rateLimitRpm: 9 }) { __typename ... on Plan { rateLimitRpm } } }`,
      );
      expect(updated.data.updatePlan.rateLimitRpm).toBe(9);
      const after = await gql(
        `{ subAccount(id: "${s.id}") { ... on SubAccount { rateLimitRpm } } }`,
      );
      expect(after.data.subAccount.rateLimitRpm).toBe(9);
      const key = await gql(
        `mutation { createProviderKey(provider: "openai", apiKey: "sk-gql-sub-key-9999", subAccountId: "${s.id}") {
        __typename ... on ProviderKey { subAccountId keyHint } } }`,
      );
      expect(key.data.createProviderKey).toMatchObject({ subAccountId: s.id, keyHint: '…9999' });
      const plans = await gql('{ plans { ... on PlanConnection { edges { node { name } } } } }');
      expect(plans.data.plans.edges.map((e: Json) => e.node.name)).toContain('gql');
    });
  },
);
