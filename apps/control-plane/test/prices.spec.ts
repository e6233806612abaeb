import { CATALOGUE } from '@tollgate/pricing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot } from '../src/policy/snapshot.ts';
import { type Harness, KINDS, skipKind, startHarness } from './harness.ts';

const catalogue = (model: string) => CATALOGUE.find((p) => p.model === model)!;
const cents = (micros: number) => micros / 10_000;

/**
 * A price override without a cached-input price must not keep the catalogue's when that is above
 * the new input price (cached tokens billed above uncached ones): it is min(catalogue cached,
 * input). The same value is answered by REST and GraphQL and published to the data plane.
 */
describe.each(KINDS)('price overrides: cached-input price on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (!skipKind(kind)) h = await startHarness(kind);
  });
  afterAll(async () => h?.close());

  const listed = async (model: string) =>
    (await h.api('GET', '/v1/prices')).body.data.find((p: { model: string }) => p.model === model);
  const published = async (model: string) =>
    (await buildSnapshot(h.prisma, 1)).prices.find((p) => p.model === model)!;

  it.skipIf(skipKind(kind))(
    'REST: omitted → min(catalogue cached, input); given → as given',
    async () => {
      const mini = catalogue('openai/gpt-4o-mini');
      expect(mini.cachedInputPerMTok).toBeGreaterThan(10_000); // 7.5 cents > the new input price
      const cheap = await h.api('POST', '/v1/prices', {
        model: 'openai/gpt-4o-mini',
        input_per_mtok_cents: 1,
        output_per_mtok_cents: 2,
      });
      expect(cheap.status).toBe(201);
      expect(cheap.body).toMatchObject({ input_per_mtok_cents: 1, cached_input_per_mtok_cents: 1 });
      expect(await listed('openai/gpt-4o-mini')).toMatchObject({ cached_input_per_mtok_cents: 1 });
      expect(await published('openai/gpt-4o-mini')).toMatchObject({
        inputPerMTok: 10_000,
        cachedInputPerMTok: 10_000,
      });

      // Above the catalogue's input price: the catalogue's cached price stays (it is lower).
      const gpt4o = catalogue('openai/gpt-4o');
      const dear = await h.api('POST', '/v1/prices', {
        model: 'openai/gpt-4o',
        input_per_mtok_cents: cents(gpt4o.inputPerMTok) * 2,
        output_per_mtok_cents: 2_000,
      });
      expect(dear.body.cached_input_per_mtok_cents).toBe(cents(gpt4o.cachedInputPerMTok));
      expect((await published('openai/gpt-4o')).cachedInputPerMTok).toBe(gpt4o.cachedInputPerMTok);

      // Given: kept as given.
      const given = await h.api('POST', '/v1/prices', {
        model: 'openai/gpt-4o-mini',
        input_per_mtok_cents: 1,
        output_per_mtok_cents: 2,
        cached_input_per_mtok_cents: 0.5,
      });
      expect(given.body.cached_input_per_mtok_cents).toBe(0.5);
      expect(await listed('openai/gpt-4o-mini')).toMatchObject({
        cached_input_per_mtok_cents: 0.5,
      });
      expect((await published('openai/gpt-4o-mini')).cachedInputPerMTok).toBe(5_000);

      // A model the catalogue does not know: the input price (no discount nobody set).
      const own = await h.api('POST', '/v1/prices', {
        model: 'vllm/own-model',
        input_per_mtok_cents: 3,
        output_per_mtok_cents: 4,
      });
      expect(own.body.cached_input_per_mtok_cents).toBe(3);
      expect((await published('vllm/own-model')).cachedInputPerMTok).toBe(30_000);
    },
  );

  it.skipIf(skipKind(kind))(
    "cache writes move with an override's input price (Anthropic's 1.25× kept)",
    async () => {
      const sonnet = catalogue('anthropic/claude-sonnet-4.6');
      expect(sonnet.cacheWritePerMTok).toBe((sonnet.inputPerMTok * 5) / 4);
      await h.api('POST', '/v1/prices', {
        model: 'anthropic/claude-sonnet-4.6',
        input_per_mtok_cents: 100,
        output_per_mtok_cents: 500,
      });
      expect(await published('anthropic/claude-sonnet-4.6')).toMatchObject({
        inputPerMTok: 1_000_000,
        cacheWritePerMTok: 1_250_000,
      });
      // Shown as it is billed: REST and GraphQL answer the price the data plane bills with.
      expect(await listed('anthropic/claude-sonnet-4.6')).toMatchObject({
        input_per_mtok_cents: 100,
        cache_write_per_mtok_cents: 125,
      });
      const g = await h.gql(
        '{ prices(first: 200) { ... on PriceConnection { edges { node { model cacheWritePerMtokCents } } } } }',
      );
      const node = g.data.prices.edges
        .map((e: { node: { model: string } }) => e.node)
        .find((n: { model: string }) => n.model === 'anthropic/claude-sonnet-4.6');
      expect(node).toEqual({ model: 'anthropic/claude-sonnet-4.6', cacheWritePerMtokCents: 125 });
      // A catalogue model without an override: the catalogue's figure.
      const haiku = CATALOGUE.find(
        (p) => p.provider === 'anthropic' && p.model !== 'anthropic/claude-sonnet-4.6',
      )!;
      expect(await listed(haiku.model)).toMatchObject({
        cache_write_per_mtok_cents: cents(haiku.cacheWritePerMTok),
      });
      // A dated Anthropic model the catalogue does not know: Anthropic's multiplier all the same.
      await h.api('POST', '/v1/prices', {
        model: 'anthropic/claude-sonnet-4-6-20270101',
        input_per_mtok_cents: 300,
        output_per_mtok_cents: 1_500,
      });
      expect((await published('anthropic/claude-sonnet-4-6-20270101')).cacheWritePerMTok).toBe(
        3_750_000,
      );
      // Anyone else's unknown model: the input price.
      await h.api('POST', '/v1/prices', {
        model: 'vllm/writes',
        input_per_mtok_cents: 3,
        output_per_mtok_cents: 4,
      });
      expect((await published('vllm/writes')).cacheWritePerMTok).toBe(30_000);
    },
  );

  it.skipIf(skipKind(kind))(
    'a cache-write price set on its own is billed and shown as set; null returns to the derived one',
    async () => {
      const set = await h.api('POST', '/v1/prices', {
        model: 'anthropic/claude-sonnet-4.6',
        input_per_mtok_cents: 100,
        output_per_mtok_cents: 500,
        cache_write_per_mtok_cents: 200.5,
      });
      expect(set.status).toBe(201);
      expect(set.body).toMatchObject({
        input_per_mtok_cents: 100,
        cache_write_per_mtok_cents: 200.5,
      });
      expect(await listed('anthropic/claude-sonnet-4.6')).toMatchObject({
        cache_write_per_mtok_cents: 200.5,
      });
      expect((await published('anthropic/claude-sonnet-4.6')).cacheWritePerMTok).toBe(2_005_000);

      // GraphQL sets it the same way.
      const g = await h.gql(
        `mutation { setPrice(model: "vllm/own-writes", inputPerMtokCents: 3, outputPerMtokCents: 4, cacheWritePerMtokCents: 7) {
          __typename ... on Price { cacheWritePerMtokCents } } }`,
      );
      expect(g.data.setPrice).toEqual({ __typename: 'Price', cacheWritePerMtokCents: 7 });
      expect((await published('vllm/own-writes')).cacheWritePerMTok).toBe(70_000);

      // Bad values are refused in the envelope and change nothing.
      const before = await published('anthropic/claude-sonnet-4.6');
      for (const bad of [-1, 'x', 1.23456]) {
        const refused = await h.api('POST', '/v1/prices', {
          model: 'anthropic/claude-sonnet-4.6',
          input_per_mtok_cents: 1,
          output_per_mtok_cents: 1,
          cache_write_per_mtok_cents: bad,
        });
        expect(refused.status, String(bad)).toBe(400);
        expect(refused.body.error.param).toBe('cache_write_per_mtok_cents');
      }
      expect(await published('anthropic/claude-sonnet-4.6')).toEqual(before);

      // Set again without it (or null): back to the input price at the catalogue's ratio.
      await h.api('POST', '/v1/prices', {
        model: 'anthropic/claude-sonnet-4.6',
        input_per_mtok_cents: 100,
        output_per_mtok_cents: 500,
        cache_write_per_mtok_cents: null,
      });
      expect((await published('anthropic/claude-sonnet-4.6')).cacheWritePerMTok).toBe(1_250_000);
    },
  );

  it.skipIf(skipKind(kind))('GraphQL setPrice and prices answer the same', async () => {
    const model = 'openai/gpt-4.1-mini';
    expect(catalogue(model).cachedInputPerMTok).toBeGreaterThan(20_000);
    const set = await h.gql(
      `mutation { setPrice(model: "${model}", inputPerMtokCents: 2, outputPerMtokCents: 3) {
        __typename ... on Price { inputPerMtokCents cachedInputPerMtokCents } } }`,
    );
    expect(set.data.setPrice).toEqual({
      __typename: 'Price',
      inputPerMtokCents: 2,
      cachedInputPerMtokCents: 2,
    });
    const list = await h.gql(
      `{ prices(first: 200) { ... on PriceConnection { edges { node { model cachedInputPerMtokCents } } } } }`,
    );
    expect(list.data.prices.edges.map((e: { node: unknown }) => e.node)).toContainEqual({
      model,
      cachedInputPerMtokCents: 2,
    });
    expect(await listed(model)).toMatchObject({ cached_input_per_mtok_cents: 2 });
    expect((await published(model)).cachedInputPerMTok).toBe(20_000);
  });
});
