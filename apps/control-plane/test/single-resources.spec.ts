import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, ROOT_KEY, skipKind, startHarness } from './harness.ts';

describe.each(KINDS)('one budget, one webhook by id on %s', (kind) => {
  let h: Harness;
  let otherKey: string;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    otherKey = (await h.api('POST', '/v1/workspaces', { name: `one-${kind}` }, ROOT_KEY)).body
      .admin_key;
  });
  afterAll(async () => h?.close());

  it.skipIf(skipKind(kind))(
    'GET /v1/budgets/{id} answers it as the list does; 404 elsewhere',
    async () => {
      const made = await h.api('POST', '/v1/budgets', {
        tag: 'single',
        cap_cents: 12.5,
        period: 'daily',
      });
      expect(made.status).toBe(201);
      const one = await h.api('GET', `/v1/budgets/${made.body.id}`);
      expect(one.status).toBe(200);
      const listed = (await h.api('GET', '/v1/budgets')).body.data.find(
        (b: { id: string }) => b.id === made.body.id,
      );
      expect(one.body).toEqual(listed);
      expect(one.body).toMatchObject({ tag: 'single', cap_cents: 12.5, period: 'daily' });
      expect((await h.api('GET', `/v1/budgets/${made.body.id}`, undefined, otherKey)).status).toBe(
        404,
      );
      expect((await h.api('GET', '/v1/budgets/bud_nope')).body.error.code).toBe('not_found');
    },
  );

  it.skipIf(skipKind(kind))(
    'GET /v1/webhooks/{id} answers it without its secret; 404 elsewhere',
    async () => {
      const made = await h.api('POST', '/v1/webhooks', {
        url: 'https://hooks.example.com/tollgate',
        events: ['sub_account.created'],
      });
      expect(made.status).toBe(201);
      const one = await h.api('GET', `/v1/webhooks/${made.body.id}`);
      expect(one.status).toBe(200);
      const listed = (await h.api('GET', '/v1/webhooks')).body.data.find(
        (w: { id: string }) => w.id === made.body.id,
      );
      expect(one.body).toEqual(listed);
      expect(JSON.stringify(one.body)).not.toContain(made.body.secret);
      expect((await h.api('GET', `/v1/webhooks/${made.body.id}`, undefined, otherKey)).status).toBe(
        404,
      );
    },
  );

  it.skipIf(skipKind(kind))(
    'GraphQL budget(id) and webhook(id) answer them; NotFoundError elsewhere',
    async () => {
      const budget = await h.api('POST', '/v1/budgets', { tag: 'single-gql', cap_cents: 3 });
      const hook = await h.api('POST', '/v1/webhooks', {
        url: 'https://hooks.example.com/one',
        events: ['sub_account.created'],
      });
      const query = `query ($b: ID!, $w: ID!) {
        budget(id: $b) { __typename ... on TagBudget { id tag capCents } ... on NotFoundError { message } }
        webhook(id: $w) { __typename ... on WebhookEndpoint { id url events } ... on NotFoundError { message } }
      }`;
      const vars = { b: budget.body.id, w: hook.body.id };
      const mine = await h.gql(query, vars);
      expect(mine.errors).toBeUndefined();
      expect(mine.data.budget).toEqual({
        __typename: 'TagBudget',
        id: budget.body.id,
        tag: 'single-gql',
        capCents: 3,
      });
      expect(mine.data.webhook).toEqual({
        __typename: 'WebhookEndpoint',
        id: hook.body.id,
        url: 'https://hooks.example.com/one',
        events: ['sub_account.created'],
      });
      const theirs = await h.gql(query, vars, otherKey);
      expect(theirs.data.budget.__typename).toBe('NotFoundError');
      expect(theirs.data.webhook.__typename).toBe('NotFoundError');
    },
  );
});
