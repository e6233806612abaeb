import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, ROOT_KEY, rowCounts, skipKind, startHarness } from './harness.ts';

const ERR =
  '... on Error { __typename message } ... on ValidationError { field } ... on NotFoundError { resource id }';
/** For results that can only be a NotFoundError when they fail. */
const NOT_FOUND = '... on NotFoundError { message resource missingId: id }';

describe.each(KINDS)('GraphQL twin of the REST façade (%s)', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (!skipKind(kind)) h = await startHarness(kind);
  });
  afterAll(async () => h?.close());

  it.skipIf(skipKind(kind))(
    'creates, reads, updates, rotates, revokes and deletes a sub-account',
    async () => {
      const created = await h.gql(
        `mutation($input: CreateSubAccountInput!) { createSubAccount(input: $input) {
         __typename ... on CreateSubAccountPayload { key keyId subAccount { id name spendCapCents rateLimitRpm defaultTag status budgetPeriod } } ${ERR} } }`,
        {
          input: { name: 'acme-corp', spendCapCents: 50000, rateLimitRpm: 300, defaultTag: 'acme' },
        },
      );
      expect(created.errors).toBeUndefined();
      const payload = created.data.createSubAccount;
      expect(payload.__typename).toBe('CreateSubAccountPayload');
      expect(payload.key).toMatch(/^sk-tg-/);
      expect(payload.keyId).toMatch(/^key_/);
      expect(payload.subAccount).toMatchObject({
        name: 'acme-corp',
        spendCapCents: 50000,
        rateLimitRpm: 300,
        defaultTag: 'acme',
        status: 'active',
        budgetPeriod: 'monthly',
      });
      const id: string = payload.subAccount.id;
      expect(
        (await h.prisma.subAccountKey.findMany({ where: { subAccountId: id } })).map((k) => k.id),
      ).toEqual([payload.keyId]);

      // The same sub-account through REST: one set of services behind both.
      const rest = await h.api('GET', `/v1/sub-accounts/${id}`);
      expect(rest.body).toMatchObject({ id, spend_cap_cents: 50000, rate_limit_rpm: 300 });

      const updated = await h.gql(
        `mutation($id: ID!, $input: UpdateSubAccountInput!) { updateSubAccount(id: $id, input: $input) {
         __typename ... on SubAccount { spendCapCents status allowedModels } ${ERR} } }`,
        {
          id,
          input: {
            spendCapCents: 100.5,
            status: 'suspended',
            allowedModels: ['openai/gpt-4o-mini'],
          },
        },
      );
      expect(updated.data.updateSubAccount).toEqual({
        __typename: 'SubAccount',
        spendCapCents: 100.5,
        status: 'suspended',
        allowedModels: ['openai/gpt-4o-mini'],
      });

      const fetched = await h.gql(
        `query($id: ID!) { subAccount(id: $id) { __typename ... on SubAccount { id spentCents reservedCents keys { ... on SubAccountKeyConnection { edges { node { id prefix revokedAt } } } } } ${NOT_FOUND} } }`,
        { id },
      );
      expect(fetched.errors).toBeUndefined();
      expect(fetched.data.subAccount).toMatchObject({
        __typename: 'SubAccount',
        id,
        spentCents: 0,
        reservedCents: 0,
      });
      expect(fetched.data.subAccount.keys.edges).toHaveLength(1);

      const rotated = await h.gql(
        `mutation($id: ID!) { createSubAccountKey(subAccountId: $id, expiresInSeconds: 60) { __typename ... on CreateSubAccountKeyPayload { keyId: id key prefix expiresAt } ${ERR} } }`,
        { id },
      );
      // The same names as REST's answer: `key` is the secret, `id` the key's id.
      expect(rotated.data.createSubAccountKey.key).toMatch(/^sk-tg-/);
      expect(
        rotated.data.createSubAccountKey.key.startsWith(rotated.data.createSubAccountKey.prefix),
      ).toBe(true);
      expect(rotated.data.createSubAccountKey.expiresAt).not.toBeNull();
      const keyId: string = rotated.data.createSubAccountKey.keyId;
      const revoked = await h.gql(
        `mutation($id: ID!, $k: ID!) { revokeSubAccountKey(subAccountId: $id, keyId: $k) { __typename ... on SubAccountKey { revokedAt } ${ERR} } }`,
        { id, k: keyId },
      );
      expect(revoked.data.revokeSubAccountKey.revokedAt).toEqual(expect.any(String));

      const list = await h.gql(
        `{ subAccounts(first: 10) { ... on SubAccountConnection { edges { node { id } } pageInfo { hasNextPage } } } }`,
      );
      expect(list.data.subAccounts.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(
        id,
      );

      const deleted = await h.gql(
        `mutation($id: ID!) { deleteSubAccount(id: $id) { __typename ... on SubAccount { status } ${ERR} } }`,
        { id },
      );
      expect(deleted.data.deleteSubAccount).toEqual({
        __typename: 'SubAccount',
        status: 'deleted',
      });
    },
  );

  it.skipIf(skipKind(kind))(
    'answers expected failures as typed errors and writes nothing',
    async () => {
      const before = await rowCounts(h.prisma);
      const invalid = await h.gql(
        `mutation { createSubAccount(input: { name: "x", spendCapCents: -5 }) { __typename ${ERR} } }`,
      );
      expect(invalid.data.createSubAccount).toMatchObject({
        __typename: 'ValidationError',
        field: 'spendCapCents',
      });
      const missing = await h.gql(
        `query { subAccount(id: "sa_nope") { __typename ${NOT_FOUND} } }`,
      );
      expect(missing.data.subAccount).toMatchObject({
        __typename: 'NotFoundError',
        missingId: 'sa_nope',
      });
      const badModel = await h.gql(
        `mutation { setPrice(model: "nomodel", inputPerMtokCents: 1, outputPerMtokCents: 1) { __typename ${ERR} } }`,
      );
      expect(badModel.data.setPrice.__typename).toBe('ValidationError');
      const dup1 = await h.gql(
        `mutation { createBudget(tag: "gql-dup", monthlyCapCents: 10) { __typename } }`,
      );
      expect(dup1.data.createBudget.__typename).toBe('TagBudget');
      const after1 = await rowCounts(h.prisma);
      const dup2 = await h.gql(
        `mutation { createBudget(tag: "gql-dup", monthlyCapCents: 10) { __typename ${ERR} } }`,
      );
      expect(dup2.data.createBudget.__typename).toBe('ConflictError');
      expect(await rowCounts(h.prisma)).toEqual(after1);
      expect(after1.budgets).toBe(before.budgets + 1);
      // Wrong types never reach a resolver.
      const wrongType = await h.gql(
        `mutation { createSubAccount(input: { name: 5 }) { __typename } }`,
      );
      expect(wrongType.errors?.[0]?.message).toBeTruthy();
      const unauth = await h.gql(`{ subAccounts { __typename } }`, {}, null);
      expect(unauth.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    },
  );

  it.skipIf(skipKind(kind))(
    'covers workspace, budgets, prices, provider keys, webhooks and usage',
    async () => {
      const ws = await h.gql(
        `mutation { updateWorkspace(input: { markupPercent: 3.25, byokWaivesMarkup: false }) { __typename ... on Workspace { markupPercent byokWaivesMarkup } ${ERR} } }`,
      );
      expect(ws.data.updateWorkspace).toEqual({
        __typename: 'Workspace',
        markupPercent: 3.25,
        byokWaivesMarkup: false,
      });
      expect((await h.api('GET', '/v1/workspace')).body.markup_percent).toBe(3.25);

      const price = await h.gql(
        `mutation { setPrice(model: "groq/llama-x", inputPerMtokCents: 2, outputPerMtokCents: 3.5) { __typename } }`,
      );
      expect(price.data.setPrice.__typename).toBe('Price');
      const prices = await h.gql(
        `{ prices(first: 200) { ... on PriceConnection { edges { node { model outputPerMtokCents } } } } }`,
      );
      expect(prices.data.prices.edges.map((e: { node: unknown }) => e.node)).toContainEqual({
        model: 'groq/llama-x',
        outputPerMtokCents: 3.5,
      });

      const pk = await h.gql(
        `mutation { createProviderKey(provider: "groq", apiKey: "gsk_supersecret_9876", baseUrl: "https://api.groq.example/v1") { __typename ... on ProviderKey { id keyHint } } }`,
      );
      expect(pk.data.createProviderKey.__typename).toBe('ProviderKey');
      expect(JSON.stringify(pk)).not.toContain('gsk_supersecret_9876');

      const az = await h.gql(
        `mutation { createProviderKey(provider: "gql-azure", apiKey: "az_supersecret_5555", baseUrl: "https://res.openai.azure.com", kind: "azure", apiVersion: "2024-10-21") { __typename ... on ProviderKey { kind apiVersion keyHint } ${ERR} } }`,
      );
      expect(az.data.createProviderKey).toEqual({
        __typename: 'ProviderKey',
        kind: 'azure',
        apiVersion: '2024-10-21',
        keyHint: '…5555',
      });
      const before = await rowCounts(h.prisma);
      for (const bad of [
        'apiVersion: "2024-10-21"',
        'kind: "azure", apiVersion: "latest"',
        'kind: "bedrock"',
      ]) {
        const refused = await h.gql(
          `mutation { createProviderKey(provider: "gql-bad", apiKey: "az_supersecret_6666", ${bad}) { __typename ${ERR} } }`,
        );
        expect(refused.data.createProviderKey.__typename).toBe('ValidationError');
      }
      expect(await rowCounts(h.prisma)).toEqual(before);

      const hook = await h.gql(
        `mutation { createWebhook(url: "https://hooks.example.com/a", events: ["sub_account.created"]) { __typename ... on CreateWebhookPayload { secret endpoint { id } } } }`,
      );
      expect(hook.data.createWebhook.secret).toEqual(expect.any(String));

      const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'gql-usage' })).body;
      const usage = await h.gql(
        `query($id: ID!) { subAccountUsage(id: $id, window: "7d") { __typename ... on UsageReport { summary { requests costCents } } ${ERR} } }`,
        { id: sa.id },
      );
      expect(usage.data.subAccountUsage).toEqual({
        __typename: 'UsageReport',
        summary: { requests: 0, costCents: 0 },
      });
      const byTag = await h.gql(
        `{ usageByTag(window: "30d") { __typename ... on QueryUsageByTagSuccess { data { tag requests } } } }`,
      );
      expect(byTag.data.usageByTag.__typename).toBe('QueryUsageByTagSuccess');
      expect(Array.isArray(byTag.data.usageByTag.data)).toBe(true);
    },
  );

  it.skipIf(skipKind(kind))(
    'keeps workspaces apart and lets only the root key create them',
    async () => {
      const denied = await h.gql(`mutation { createWorkspace(name: "nope") { __typename } }`);
      expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const made = await h.gql(
        `mutation { createWorkspace(name: "gql-other-${kind}") { __typename ... on CreateWorkspacePayload { adminKey workspace { id } } } }`,
        {},
        ROOT_KEY,
      );
      const otherKey: string = made.data.createWorkspace.adminKey;
      expect(otherKey).toMatch(/^sk-tg-admin-/);
      const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'gql-private' })).body;
      const peek = await h.gql(
        `query($id: ID!) { subAccount(id: $id) { __typename } }`,
        { id: sa.id },
        otherKey,
      );
      expect(peek.data.subAccount.__typename).toBe('NotFoundError');
      const steal = await h.gql(
        `mutation($id: ID!) { updateSubAccount(id: $id, input: { name: "stolen" }) { __typename } }`,
        { id: sa.id },
        otherKey,
      );
      expect(steal.data.updateSubAccount.__typename).toBe('NotFoundError');
      expect((await h.prisma.subAccount.findUniqueOrThrow({ where: { id: sa.id } })).name).toBe(
        'gql-private',
      );
    },
  );

  it.skipIf(skipKind(kind))('refuses queries deeper than the limit', async () => {
    // Introspection gets a looser limit (20) than data fields (10); 25 levels exceed both.
    const nest = (n: number): string => (n === 0 ? 'name' : `ofType { ${nest(n - 1)} }`);
    const deep = `{ __schema { types { fields { type { ${nest(22)} } } } } }`;
    const r = await h.gql(deep);
    expect(r.errors?.[0]?.message).toMatch(/depth/i);
  });

  it.skipIf(skipKind(kind))('echoes at most 100 characters of an unknown id', async () => {
    const id = `sa_${'x'.repeat(100_000)}`;
    const r = await h.gql(
      'query ($id: ID!) { subAccount(id: $id) { __typename ... on NotFoundError { message } } }',
      { id },
    );
    expect(r.data.subAccount.__typename).toBe('NotFoundError');
    expect(r.data.subAccount.message).toBe(`sub-account '${id.slice(0, 100)}…' not found`);
  });
});
