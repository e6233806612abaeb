import { recordEvents, writeUsage } from '@tollgate/control-plane';
import { usageEvent } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, ROOT_KEY, skipKind, startHarness } from './harness.ts';

const ERR = '... on Error { __typename message } ... on ValidationError { field }';
const PAGE = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';

interface Page {
  __typename: string;
  edges: { cursor: string; node: Record<string, unknown> }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

/** A list to walk: a query taking `$first`/`$after` and where its answer sits in `data`. */
interface List {
  name: string;
  type: string;
  query: string;
  pick: (data: Record<string, unknown>) => Page;
  variables?: Record<string, unknown>;
  key?: string;
}

/** A root connection field `field(args)` selecting `node` on each row. */
function rootList(
  name: string,
  type: string,
  node: string,
  extra: { args?: string; params?: string; variables?: Record<string, unknown>; key?: string } = {},
): List {
  return {
    name,
    type,
    query: `query($first: Int, $after: String${extra.params ?? ''}) { list: ${name}(first: $first, after: $after${extra.args ?? ''}) {
      __typename ... on ${type} { edges { cursor node { ${node} } } ${PAGE} } ${ERR} } }`,
    pick: (data) => data.list as Page,
    variables: extra.variables,
    key: extra.key,
  };
}

/** A connection field `field(first, after)` of `subAccount(id: $id)`, selecting `node`. */
function subAccountList(field: string, type: string, node: string, id: string): List {
  return {
    name: `subAccount.${field}`,
    type,
    query: `query($id: ID!, $first: Int, $after: String) { subAccount(id: $id) { ... on SubAccount {
      ${field}(first: $first, after: $after) { __typename ... on ${type} { edges { cursor node { ${node} } } ${PAGE} } ${ERR} } } } }`,
    pick: (data) => (data.subAccount as Record<string, Page>)[field]!,
    variables: { id },
  };
}

/** Every row of a list, fetched `first` at a time by following `endCursor`. */
async function walk(h: Harness, list: List, first = 1) {
  const rows: Record<string, unknown>[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 500; pages++) {
    const res = await h.gql(list.query, { ...list.variables, first, after }, list.key);
    expect(res.errors, list.name).toBeUndefined();
    const page = list.pick(res.data);
    expect(page.__typename, list.name).toBe(list.type);
    expect(page.edges.length).toBeLessThanOrEqual(first);
    expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
    expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
    rows.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return rows;
    expect(page.edges).toHaveLength(first);
    after = page.pageInfo.endCursor;
  }
  throw new Error(`${list.name}: paging did not end`);
}

/** One page of a list with raw `first`/`after` values. */
async function pageOf(h: Harness, list: List, first: unknown, after: unknown, key?: string) {
  const res = await h.gql(list.query, { ...list.variables, first, after }, key ?? list.key);
  expect(res.errors, list.name).toBeUndefined();
  return list.pick(res.data) as Page & { field?: string; message?: string };
}

const byKey = (key: string) => (a: Record<string, unknown>, b: Record<string, unknown>) =>
  String(a[key]) < String(b[key]) ? -1 : String(a[key]) > String(b[key]) ? 1 : 0;

describe.each(KINDS)('GraphQL connections (%s)', (kind) => {
  let h: Harness;
  let lists: List[];
  let webhookIds: string[];
  let subAccountIds: string[];
  let keyIds: string[];
  let deliveryIds: string[];
  let workspaceIds: string[];
  let requestIds: string[];
  let eventIds: string[];
  let ledgerIds: string[];
  let otherKey: string;

  const gqlOk = async (query: string, variables?: Record<string, unknown>, key?: string) => {
    const res = await h.gql(query, variables, key);
    expect(res.errors).toBeUndefined();
    return res.data;
  };

  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    const other = await gqlOk(
      `mutation { createWorkspace(name: "conn-other") { ... on CreateWorkspacePayload { adminKey } } }`,
      {},
      ROOT_KEY,
    );
    otherKey = other.createWorkspace.adminKey;
    await gqlOk(`mutation { createWorkspace(name: "conn-third") { __typename } }`, {}, ROOT_KEY);
    workspaceIds = (
      await h.prisma.workspace.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })
    ).map((w) => w.id);

    for (const tag of ['zeta', 'alpha', 'mid']) {
      await gqlOk(`mutation { createBudget(tag: "${tag}", monthlyCapCents: 10) { __typename } }`);
    }
    for (const name of ['plan-c', 'plan-a', 'plan-b']) {
      await gqlOk(`mutation { createPlan(input: { name: "${name}" }) { __typename } }`);
    }
    await gqlOk(
      `mutation { setPrice(model: "aaa/first-model", inputPerMtokCents: 1, outputPerMtokCents: 2) { __typename } }`,
    );
    for (const provider of ['prov-c', 'prov-a', 'prov-b']) {
      const made = await gqlOk(
        `mutation { createProviderKey(provider: "${provider}", apiKey: "sk-conn-${provider}-1234", baseUrl: "https://api.example.com/v1") { __typename ${ERR} } }`,
      );
      expect(made.createProviderKey.__typename).toBe('ProviderKey');
    }
    webhookIds = [];
    for (const n of [1, 2, 3]) {
      const made = await gqlOk(
        `mutation { createWebhook(url: "https://hooks.example.com/${n}", events: ["tag.budget.warning"]) {
          ... on CreateWebhookPayload { endpoint { id } } ${ERR} } }`,
      );
      webhookIds.push(made.createWebhook.endpoint.id);
    }
    // Two endpoints created in the same millisecond: the id breaks the tie.
    const tie = new Date('2026-01-01T00:00:00.000Z');
    await h.prisma.webhookEndpoint.updateMany({
      where: { id: { in: webhookIds.slice(1) } },
      data: { createdAt: tie },
    });
    const hooks = await h.prisma.webhookEndpoint.findMany({
      where: { workspaceId: h.workspaceId },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    webhookIds = hooks.map((w) => w.id);

    subAccountIds = [];
    for (const name of ['sa-1', 'sa-2', 'sa-3']) {
      // The first is prepaid: it has a ledger.
      const made = await gqlOk(
        `mutation { createSubAccount(input: { name: "${name}", prepaid: ${name === 'sa-1'} }) { ... on CreateSubAccountPayload { subAccount { id } } } }`,
      );
      subAccountIds.push(made.createSubAccount.subAccount.id);
    }
    const [sa1, sa2] = subAccountIds as [string, string];

    // Requests of the first sub-account, two pairs started in the same millisecond (the request
    // id breaks the tie), and one of the second's.
    const request = (requestId: string, subAccountId: string, startedAt: string) =>
      usageEvent({
        requestId,
        workspaceId: h.workspaceId,
        subAccountId,
        billedCostMicros: 1_000,
        providerCostMicros: 1_000,
        startedAt,
        finishedAt: startedAt,
      });
    await writeUsage(h.prisma, [
      request('req_conn_1', sa1, '2026-01-02T10:00:00.000Z'),
      request('req_conn_2', sa1, '2026-01-02T10:00:00.000Z'),
      request('req_conn_3', sa1, '2026-01-05T00:00:00.000Z'),
      request('req_conn_4', sa1, '2026-01-05T00:00:00.000Z'),
      request('req_conn_5', sa1, '2026-01-06T08:30:00.000Z'),
      request('req_conn_other', sa2, '2026-01-07T00:00:00.000Z'),
    ]);
    requestIds = ['req_conn_5', 'req_conn_4', 'req_conn_3', 'req_conn_2', 'req_conn_1'];

    // Budget events of the first sub-account, two of them in the same millisecond; one of the
    // second's.
    const event = (subAccountId: string, n: number) => ({
      workspaceId: h.workspaceId,
      subAccountId,
      tag: null,
      type: 'request_failed' as const,
      scope: 'sub_account' as const,
      eventType: 'sub_account.request.failed',
      dedupeKey: `conn-event-${subAccountId}-${n}`,
      data: { n },
    });
    const when = (iso: string) => () => new Date(iso);
    await recordEvents(h.prisma, [event(sa1, 1)], when('2026-02-01T00:00:00.000Z'));
    await recordEvents(h.prisma, [event(sa1, 2), event(sa1, 3)], when('2026-02-02T00:00:00.000Z'));
    await recordEvents(h.prisma, [event(sa1, 4)], when('2026-02-03T00:00:00.000Z'));
    await recordEvents(h.prisma, [event(sa2, 1)], when('2026-02-04T00:00:00.000Z'));
    eventIds = (
      await h.prisma.budgetEvent.findMany({
        where: { subAccountId: sa1 },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      })
    ).map((e) => e.id);

    // The first sub-account's ledger: three top-ups (two in the same millisecond) and one draw
    // per day of its requests.
    for (const reference of ['conn-a', 'conn-b', 'conn-c']) {
      await gqlOk(
        `mutation($id: ID!, $input: TopUpCreditsInput!) { topUpCredits(subAccountId: $id, input: $input) { __typename } }`,
        { id: sa1, input: { amountCents: 100, reference } },
      );
    }
    await h.prisma.credit.updateMany({
      where: { subAccountId: sa1, reference: { in: ['conn-b', 'conn-c'] } },
      data: { createdAt: new Date('2026-03-01T00:00:00.000Z') },
    });
    // The REST ledger (whose answer is unchanged) is the reference for the order.
    const ledger = await h.api('GET', `/v1/sub-accounts/${sa1}/ledger?limit=200`);
    expect(ledger.status).toBe(200);
    ledgerIds = ledger.body.data.map((e: { id: string }) => e.id);
    for (let i = 0; i < 2; i++) {
      await gqlOk(`mutation($id: ID!) { createSubAccountKey(subAccountId: $id) { __typename } }`, {
        id: subAccountIds[0],
      });
    }
    keyIds = (
      await h.prisma.subAccountKey.findMany({
        where: { subAccountId: subAccountIds[0] },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      })
    ).map((k) => k.id);

    // Deliveries of the first endpoint, two of them in the same millisecond.
    const at = (ms: number) => new Date(Date.UTC(2026, 3, 1) + ms);
    const deliveries = [
      { id: 'msg_conn_a', createdAt: at(0) },
      { id: 'msg_conn_b', createdAt: at(5) },
      { id: 'msg_conn_c', createdAt: at(5) },
      { id: 'msg_conn_d', createdAt: at(9) },
    ];
    for (const d of deliveries) {
      await h.prisma.webhookDelivery.create({
        data: {
          ...d,
          endpointId: webhookIds[0]!,
          workspaceId: h.workspaceId,
          eventType: 'tag.budget.warning',
          payload: {},
          status: 'succeeded',
        },
      });
    }
    deliveryIds = ['msg_conn_d', 'msg_conn_c', 'msg_conn_b', 'msg_conn_a'];

    lists = [
      rootList('workspaces', 'WorkspaceConnection', 'id', { key: ROOT_KEY }),
      rootList('subAccounts', 'SubAccountConnection', 'id'),
      rootList('budgets', 'TagBudgetConnection', 'id tag'),
      rootList('plans', 'PlanConnection', 'id name'),
      rootList('prices', 'PriceConnection', 'model'),
      rootList('providerKeys', 'ProviderKeyConnection', 'id provider'),
      rootList('webhooks', 'WebhookEndpointConnection', 'id'),
      rootList('webhookDeliveries', 'WebhookDeliveryConnection', 'id', {
        params: ', $webhookId: ID!',
        args: ', webhookId: $webhookId',
        variables: { webhookId: webhookIds[0] },
      }),
      {
        name: 'subAccount.keys',
        type: 'SubAccountKeyConnection',
        query: `query($id: ID!, $first: Int, $after: String) { subAccount(id: $id) { ... on SubAccount {
          keys(first: $first, after: $after) { __typename ... on SubAccountKeyConnection { edges { cursor node { id } } ${PAGE} } ${ERR} } } } }`,
        pick: (data) => (data.subAccount as { keys: Page }).keys,
        variables: { id: subAccountIds[0] },
      },
      subAccountList('recentRequests', 'RequestLogConnection', 'id: requestId', sa1),
      subAccountList('budgetEvents', 'BudgetEventConnection', 'id', sa1),
      rootList('subAccountLedger', 'SubAccountLedgerConnection', 'id', {
        params: ', $id: ID!',
        args: ', id: $id',
        variables: { id: sa1 },
      }),
    ];
  });
  afterAll(async () => h?.close());

  const list = (name: string) => lists.find((l) => l.name === name)!;
  const ids = (rows: Record<string, unknown>[], key = 'id') => rows.map((r) => r[key]);

  it.skipIf(skipKind(kind))(
    'pages through each connection with first: 1, every item exactly once in the stated order',
    async () => {
      expect(ids(await walk(h, list('workspaces')))).toEqual(workspaceIds);
      expect(ids(await walk(h, list('subAccounts')))).toEqual(subAccountIds);
      expect(ids(await walk(h, list('budgets')), 'tag')).toEqual(['alpha', 'mid', 'zeta']);
      expect(ids(await walk(h, list('plans')), 'name')).toEqual(['plan-a', 'plan-b', 'plan-c']);
      expect(ids(await walk(h, list('providerKeys')), 'provider')).toEqual([
        'prov-a',
        'prov-b',
        'prov-c',
      ]);
      expect(ids(await walk(h, list('webhooks')))).toEqual(webhookIds);
      expect(ids(await walk(h, list('webhookDeliveries')))).toEqual(deliveryIds);
      expect(ids(await walk(h, list('subAccount.keys')))).toEqual(keyIds);
      expect(keyIds).toHaveLength(3);
      // Newest first, ties broken by the second column, descending.
      expect(ids(await walk(h, list('subAccount.recentRequests')))).toEqual(requestIds);
      expect(ids(await walk(h, list('subAccount.budgetEvents')))).toEqual(eventIds);
      expect(eventIds).toHaveLength(4);
      // The ledger, oldest first: the REST ledger's entries, draws and top-ups.
      expect(ids(await walk(h, list('subAccountLedger')))).toEqual(ledgerIds);
      expect(ledgerIds.slice(0, 3)).toEqual([
        'draw_2026-01-02',
        'draw_2026-01-05',
        'draw_2026-01-06',
      ]);
      expect(ledgerIds.slice(3)).toHaveLength(3);
      expect(ledgerIds.slice(3).every((id) => id.startsWith('cr_'))).toBe(true);
      // Larger pages give the same sequences.
      for (const [name, expected] of [
        ['subAccount.recentRequests', requestIds],
        ['subAccount.budgetEvents', eventIds],
        ['subAccountLedger', ledgerIds],
      ] as const) {
        expect(ids(await walk(h, list(name), 2)), name).toEqual(expected);
      }

      // Prices are computed (catalogue + overrides): the pages are slices of the sorted whole.
      const prices = await walk(h, list('prices'));
      const models = ids(prices, 'model');
      expect(models[0]).toBe('aaa/first-model');
      expect(models).toEqual([...prices].sort(byKey('model')).map((p) => p.model));
      expect(new Set(models).size).toBe(models.length);
      expect(models.length).toBeGreaterThan(20);
      // Larger pages give the same sequence.
      expect(ids(await walk(h, list('prices'), 7), 'model')).toEqual(models);
    },
  );

  it.skipIf(skipKind(kind))(
    'pages are real: one row more than asked is never answered',
    async () => {
      const first = await pageOf(h, list('budgets'), 2, null);
      expect(first.edges.map((e) => e.node.tag)).toEqual(['alpha', 'mid']);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const last = await pageOf(h, list('budgets'), 2, first.pageInfo.endCursor);
      expect(last.edges.map((e) => e.node.tag)).toEqual(['zeta']);
      expect(last.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
      const deliveries = await pageOf(h, list('webhookDeliveries'), null, null);
      expect(deliveries.edges).toHaveLength(4);
    },
  );

  it.skipIf(skipKind(kind))(
    'pages a sub-account’s requests, budget events and ledger: endCursor starts the next page, no overlap, no gap',
    async () => {
      const requests = list('subAccount.recentRequests');
      const one = await pageOf(h, requests, 2, null);
      expect(one.edges.map((e) => e.node.id)).toEqual(['req_conn_5', 'req_conn_4']);
      expect(one.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
      const two = await pageOf(h, requests, 2, one.pageInfo.endCursor);
      // req_conn_4 and req_conn_3 share a millisecond: the cursor's id splits them.
      expect(two.edges.map((e) => e.node.id)).toEqual(['req_conn_3', 'req_conn_2']);
      expect(two.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
      const three = await pageOf(h, requests, 2, two.pageInfo.endCursor);
      expect(three.edges.map((e) => e.node.id)).toEqual(['req_conn_1']);
      expect(three.pageInfo.hasNextPage).toBe(false);
      // Without `first`, the default page holds them all, newest first; only this sub-account's.
      const all = await pageOf(h, requests, null, null);
      expect(all.edges.map((e) => e.node.id)).toEqual(requestIds);

      const events = list('subAccount.budgetEvents');
      const e1 = await pageOf(h, events, 3, null);
      expect(e1.edges.map((e) => e.node.id)).toEqual(eventIds.slice(0, 3));
      expect(e1.pageInfo.hasNextPage).toBe(true);
      const e2 = await pageOf(h, events, 3, e1.pageInfo.endCursor);
      expect(e2.edges.map((e) => e.node.id)).toEqual(eventIds.slice(3));
      expect(e2.pageInfo.hasNextPage).toBe(false);

      const ledger = list('subAccountLedger');
      const l1 = await pageOf(h, ledger, 4, null);
      expect(l1.edges.map((e) => e.node.id)).toEqual(ledgerIds.slice(0, 4));
      const l2 = await pageOf(h, ledger, 4, l1.pageInfo.endCursor);
      expect(l2.edges.map((e) => e.node.id)).toEqual(ledgerIds.slice(4));
      expect(l2.pageInfo.hasNextPage).toBe(false);
      // The ledger's cursors are the REST ledger's, both ways.
      const rest = await h.api(
        'GET',
        `/v1/sub-accounts/${subAccountIds[0]}/ledger?limit=4&cursor=${encodeURIComponent(l1.pageInfo.endCursor!)}`,
      );
      expect(rest.body.data.map((e: { id: string }) => e.id)).toEqual(ledgerIds.slice(4));
      const restFirst = await h.api('GET', `/v1/sub-accounts/${subAccountIds[0]}/ledger?limit=4`);
      const fromRest = await pageOf(h, ledger, 4, restFirst.body.next_cursor);
      expect(fromRest.edges.map((e) => e.node.id)).toEqual(ledgerIds.slice(4));
      // Its page carries the balance, which all its entries sum to.
      const res = await h.gql(
        `query($id: ID!) { subAccountLedger(id: $id, first: 200) { ... on SubAccountLedgerConnection {
          subAccount { id } balance { balanceMicroUsd } edges { node { amountMicroUsd } } } } }`,
        { id: subAccountIds[0] },
      );
      expect(res.errors).toBeUndefined();
      const page = res.data.subAccountLedger;
      expect(page.subAccount.id).toBe(subAccountIds[0]);
      expect(
        page.edges.reduce(
          (sum: number, e: { node: { amountMicroUsd: number } }) => sum + e.node.amountMicroUsd,
          0,
        ),
      ).toBe(page.balance.balanceMicroUsd);
      expect(page.balance.balanceMicroUsd).toBe(3_000_000 - 5 * 1_000);
    },
  );

  it.skipIf(skipKind(kind))(
    'answers a typed ValidationError for a forged, garbage or foreign after and a bad first',
    async () => {
      const budgets = await pageOf(h, list('budgets'), 1, null);
      const cursor = budgets.pageInfo.endCursor!;
      const [payload, sig] = cursor.split('.');
      const forgedPayload = Buffer.from(JSON.stringify(['aaaa'])).toString('base64url');
      const bad = [
        'garbage',
        '',
        `${forgedPayload}.${sig}`,
        `${payload}.${sig!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`,
        `${payload}.${sig}.x`,
      ];
      for (const l of lists) {
        for (const after of bad.filter(Boolean)) {
          const answer = await pageOf(h, l, 1, after);
          expect(answer, `${l.name} after=${after}`).toMatchObject({
            __typename: 'ValidationError',
            field: 'after',
          });
        }
        for (const first of [0, -1, 201]) {
          const answer = await pageOf(h, l, first, null);
          expect(answer, `${l.name} first=${first}`).toMatchObject({
            __typename: 'ValidationError',
            field: 'first',
          });
        }
      }
      // A valid cursor of one list is no cursor of another (plans share the `[name]` shape).
      const onPlans = await pageOf(h, list('plans'), 1, cursor);
      expect(onPlans).toMatchObject({ __typename: 'ValidationError', field: 'after' });
      // Nor are the sub-account's lists' cursors, all `[ms, id]` positions, each other's.
      const sameShape = [
        'subAccounts',
        'subAccount.keys',
        'subAccount.recentRequests',
        'subAccount.budgetEvents',
        'subAccountLedger',
      ];
      for (const from of sameShape) {
        const valid = (await pageOf(h, list(from), 1, null)).pageInfo.endCursor;
        expect(valid, from).toBeTruthy();
        for (const to of sameShape.filter((n) => n !== from)) {
          expect(await pageOf(h, list(to), 1, valid), `${from} → ${to}`).toMatchObject({
            __typename: 'ValidationError',
            field: 'after',
          });
        }
      }
      // The ledger's bad page arguments are typed beside its NotFoundError.
      const missing = await pageOf(
        h,
        { ...list('subAccountLedger'), variables: { id: 'sa_nope' } },
        1,
        null,
      );
      expect(missing.__typename).toBe('NotFoundError');
    },
  );

  it.skipIf(skipKind(kind))(
    "a cursor of workspace A used in workspace B reads nothing of A's",
    async () => {
      await gqlOk(
        `mutation { createBudget(tag: "b-only", monthlyCapCents: 10) { __typename } }`,
        {},
        otherKey,
      );
      for (const name of [
        'subAccounts',
        'budgets',
        'plans',
        'providerKeys',
        'webhooks',
        'prices',
      ]) {
        const a = await pageOf(h, list(name), 1, null);
        expect(a.pageInfo.hasNextPage, name).toBe(true);
        const inB = await pageOf(h, list(name), 200, a.pageInfo.endCursor, otherKey);
        expect(inB, name).toMatchObject({ __typename: 'ValidationError', field: 'after' });
        expect(inB, name).not.toHaveProperty('edges');
      }
      // B's own pages hold only B's rows.
      const bBudgets = await walk(h, { ...list('budgets'), key: otherKey }, 1);
      expect(ids(bBudgets, 'tag')).toEqual(['b-only']);
      // A delivery cursor of one endpoint does not page another endpoint's log, in A or in B.
      const d = await pageOf(h, list('webhookDeliveries'), 1, null);
      const elsewhere = await h.gql(list('webhookDeliveries').query, {
        webhookId: webhookIds[1],
        first: 1,
        after: d.pageInfo.endCursor,
      });
      expect(elsewhere.data.list).toMatchObject({ __typename: 'ValidationError', field: 'after' });
      const inB = await h.gql(
        list('webhookDeliveries').query,
        { webhookId: webhookIds[0], first: 1, after: null },
        otherKey,
      );
      expect(inB.data.list.__typename).toBe('NotFoundError');
      // A key cursor of one sub-account does not page another's keys.
      const k = await pageOf(h, list('subAccount.keys'), 1, null);
      const otherSa = await h.gql(list('subAccount.keys').query, {
        id: subAccountIds[1],
        first: 1,
        after: k.pageInfo.endCursor,
      });
      expect(otherSa.data.subAccount.keys).toMatchObject({
        __typename: 'ValidationError',
        field: 'after',
      });
      // Nor does a request, budget event or ledger cursor of one sub-account page another's.
      for (const name of [
        'subAccount.recentRequests',
        'subAccount.budgetEvents',
        'subAccountLedger',
      ]) {
        const mine = await pageOf(h, list(name), 1, null);
        expect(mine.pageInfo.hasNextPage, name).toBe(true);
        const theirs = await pageOf(
          h,
          { ...list(name), variables: { id: subAccountIds[1] } },
          200,
          mine.pageInfo.endCursor,
        );
        expect(theirs, name).toMatchObject({ __typename: 'ValidationError', field: 'after' });
        expect(theirs, name).not.toHaveProperty('edges');
        // Its own first page holds only its own rows.
        const own = await pageOf(
          h,
          { ...list(name), variables: { id: subAccountIds[1] } },
          200,
          null,
        );
        expect(own.__typename, name).not.toBe('ValidationError');
        expect(
          own.edges.map((e) => e.node.id),
          name,
        ).not.toContain(mine.edges[0]!.node.id);
      }
    },
  );

  it.skipIf(skipKind(kind))(
    'answers usageByTag with a typed ValidationError for a bad month or window',
    async () => {
      const USAGE = `query($month: String, $window: String) { usageByTag(month: $month, window: $window) {
        __typename ... on QueryUsageByTagSuccess { data { tag } } ${ERR} } }`;
      for (const [variables, field] of [
        [{ month: '2026-13' }, 'month'],
        [{ month: 'april' }, 'month'],
        [{ month: '2026-04', window: '7d' }, 'month'],
        [{ window: 'forever' }, 'window'],
      ] as const) {
        const res = await h.gql(USAGE, variables);
        expect(res.errors, JSON.stringify(variables)).toBeUndefined();
        expect(res.data.usageByTag, JSON.stringify(variables)).toMatchObject({
          __typename: 'ValidationError',
          field,
        });
      }
      const ok = await h.gql(USAGE, { month: '2026-04' });
      expect(ok.data.usageByTag).toEqual({ __typename: 'QueryUsageByTagSuccess', data: [] });
      // A missing endpoint stays a NotFoundError beside the new ValidationError.
      const missing = await h.gql(list('webhookDeliveries').query, {
        webhookId: 'wh_nope',
        first: 1,
      });
      expect(missing.data.list.__typename).toBe('NotFoundError');
    },
  );
});
