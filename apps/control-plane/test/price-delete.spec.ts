import { CATALOGUE } from '@tollgate/pricing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot } from '../src/policy/snapshot.ts';
import { type Harness, KINDS, ROOT_KEY, rowCounts, skipKind, startHarness } from './harness.ts';

const MODEL = 'openai/gpt-5.4-mini';
const catalogue = CATALOGUE.find((p) => p.model === MODEL)!;
const cents = (micros: number) => micros / 10_000;

/**
 * `DELETE /v1/prices/{provider/model}` and GraphQL `deletePrice`: the workspace's override goes,
 * the catalogue's price is billed (and published) again; only the caller's workspace is touched.
 */
describe.each(KINDS)('price overrides: removal on %s', (kind) => {
  let h: Harness;
  let otherKey: string;
  let otherWs: string;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    const other = await h.api('POST', '/v1/workspaces', { name: `other-${kind}` }, ROOT_KEY);
    otherKey = other.body.admin_key;
    otherWs = other.body.id;
  });
  afterAll(async () => h?.close());

  const override = (model: string, inputCents: number, key?: string) =>
    h.api(
      'POST',
      '/v1/prices',
      { model, input_per_mtok_cents: inputCents, output_per_mtok_cents: inputCents * 2 },
      key,
    );
  const listed = async (model: string, key?: string) =>
    (await h.api('GET', '/v1/prices', undefined, key)).body.data.find(
      (p: { model: string }) => p.model === model,
    );
  const published = async (workspaceId: string, model: string) =>
    (await buildSnapshot(h.prisma, 1)).prices.find(
      (p) => p.workspaceId === workspaceId && p.model === model,
    );

  it.skipIf(skipKind(kind))(
    'REST: the catalogue price is back, published, audited; the slash raw or encoded',
    async () => {
      expect(catalogue).toBeDefined();
      for (const path of [MODEL, encodeURIComponent(MODEL), `${MODEL}/`]) {
        expect((await override(MODEL, 1)).status).toBe(201);
        expect(await listed(MODEL)).toMatchObject({ input_per_mtok_cents: 1 });
        expect(await published(h.workspaceId, MODEL)).toBeDefined();

        const removed = await h.api('DELETE', `/v1/prices/${path}`);
        expect(removed.status, path).toBe(200);
        expect(removed.body).toMatchObject({
          model: MODEL,
          input_per_mtok_cents: cents(catalogue.inputPerMTok),
          output_per_mtok_cents: cents(catalogue.outputPerMTok),
          source: catalogue.source,
        });
        expect(await listed(MODEL)).toEqual(removed.body);
        expect(await published(h.workspaceId, MODEL)).toBeUndefined();
      }
      const audit = await h.prisma.auditLog.findMany({
        where: { workspaceId: h.workspaceId, action: 'price.delete' },
      });
      expect(audit).toHaveLength(3);
      expect(audit[0]!.data).toEqual({ model: MODEL });

      // Through once more: nothing to remove.
      const again = await h.api('DELETE', `/v1/prices/${MODEL}`);
      expect(again.status).toBe(404);
      expect(again.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
    },
  );

  it.skipIf(skipKind(kind))(
    'a model with more slashes; one the catalogue does not know answers null (no price left)',
    async () => {
      const model = 'vllm/org/team/model-1';
      expect((await override(model, 3)).status).toBe(201);
      const removed = await h.api('DELETE', `/v1/prices/${model}`);
      expect(removed.status).toBe(200);
      expect(removed.body).toBeNull();
      expect(await listed(model)).toBeUndefined();
      expect(await published(h.workspaceId, model)).toBeUndefined();
      expect((await h.api('DELETE', '/v1/prices/vllm%2Forg%2Fteam%2Fmodel-1')).status).toBe(404);
    },
  );

  it.skipIf(skipKind(kind))(
    "refusals change nothing; another workspace's override is untouched",
    async () => {
      expect((await override(MODEL, 2)).status).toBe(201);
      expect((await override(MODEL, 9, otherKey)).status).toBe(201);
      const before = await rowCounts(h.prisma);
      const bad: [string, number, string][] = [
        ['/v1/prices/gpt-5.4-mini', 400, 'validation_error'], // no provider
        ['/v1/prices/OpenAI/gpt-5.4-mini', 400, 'validation_error'],
        ['/v1/prices/openai%252Fgpt-5.4-mini', 400, 'validation_error'], // encoded twice
        ['/v1/prices/openai%2', 400, 'validation_error'], // a broken escape
        ['/v1/prices/openai/gpt 5', 400, 'validation_error'],
        [`/v1/prices/openai/${'x'.repeat(500)}`, 404, 'not_found'], // no route
        ['/v1/prices/openai/gpt-4o', 404, 'not_found'], // no override in this workspace
      ];
      for (const [path, status, code] of bad) {
        const res = await h.api('DELETE', path);
        expect([res.status, res.body.error?.code], path).toEqual([status, code]);
      }
      // Not an admin key: refused before anything.
      expect((await h.api('DELETE', `/v1/prices/${MODEL}`, undefined, null)).status).toBe(401);
      expect(await rowCounts(h.prisma)).toEqual(before);

      expect((await h.api('DELETE', `/v1/prices/${MODEL}`)).status).toBe(200);
      expect(await listed(MODEL, otherKey)).toMatchObject({ input_per_mtok_cents: 9 });
      expect(await published(otherWs, MODEL)).toMatchObject({ inputPerMTok: 90_000 });
      // The other workspace removes its own; ours has none left to remove.
      expect((await h.api('DELETE', `/v1/prices/${MODEL}`, undefined, otherKey)).status).toBe(200);
      expect((await h.api('DELETE', `/v1/prices/${MODEL}`)).status).toBe(404);
    },
  );

  it.skipIf(skipKind(kind))(
    'GraphQL deletePrice: the price billed after, or typed errors',
    async () => {
      const del = (model: string, key?: string) =>
        h.gql(
          `mutation ($model: String!) { deletePrice(model: $model) {
          __typename ... on Price { model inputPerMtokCents source }
          ... on Error { message } ... on ValidationError { field } } }`,
          { model },
          key,
        );
      expect((await override(MODEL, 4)).status).toBe(201);
      expect((await del(MODEL)).data.deletePrice).toEqual({
        __typename: 'Price',
        model: MODEL,
        inputPerMtokCents: cents(catalogue.inputPerMTok),
        source: catalogue.source,
      });
      expect(await published(h.workspaceId, MODEL)).toBeUndefined();
      expect((await del(MODEL)).data.deletePrice).toMatchObject({ __typename: 'NotFoundError' });
      const before = await rowCounts(h.prisma);
      expect((await del('not a model')).data.deletePrice).toMatchObject({
        __typename: 'ValidationError',
        field: 'model',
      });
      expect(await rowCounts(h.prisma)).toEqual(before);
      // A model the catalogue does not know: no price any more.
      expect((await override('vllm/gone', 1)).status).toBe(201);
      expect(await del('vllm/gone')).toEqual({ data: { deletePrice: null } });
    },
  );
  it.skipIf(skipKind(kind))(
    'a model that would be left unpriced cannot lose its price while a plan or sub-account names it',
    async () => {
      const own = 'vllm/named-model';
      expect((await override(own, 3)).status).toBe(201);
      const sa = await h.api('POST', '/v1/sub-accounts', {
        name: 'uses-own',
        allowed_models: [own],
      });
      expect(sa.status).toBe(201);
      const before = await rowCounts(h.prisma);
      const refused = await h.api('DELETE', `/v1/prices/${own}`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toBe(
        `'${own}' would have no price, but sub-account '${sa.body.id}' names it (allowed models or fallback): change that first`,
      );
      expect(await rowCounts(h.prisma)).toEqual(before);
      expect(await listed(own)).toBeDefined();
      // A plan's fallback names it just as well.
      expect(
        (await h.api('PATCH', `/v1/sub-accounts/${sa.body.id}`, { allowed_models: [] })).status,
      ).toBe(200);
      const plan = await h.api('POST', '/v1/plans', { name: 'falls-back', fallback_model: own });
      expect(plan.status).toBe(201);
      const byPlan = await h.api('DELETE', `/v1/prices/${own}`);
      expect(byPlan.status).toBe(409);
      expect(byPlan.body.error.message).toContain("plan 'falls-back'");
      expect((await h.api('DELETE', `/v1/plans/${plan.body.id}`)).status).toBe(200);
      // Named by nobody: removed (and a catalogue model is never refused: it keeps a price).
      expect((await h.api('DELETE', `/v1/prices/${own}`)).status).toBe(200);
      expect(await listed(own)).toBeUndefined();
    },
  );
});
