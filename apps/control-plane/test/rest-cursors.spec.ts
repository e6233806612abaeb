import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, ROOT_KEY, skipKind, startHarness } from './harness.ts';

/**
 * REST list cursors are signed for one list of one workspace (as GraphQL's are): a cursor of
 * workspace A is refused in workspace B, and one of another list is refused too. A webhook's
 * delivery log pages like every other REST list.
 */
describe.each(KINDS)('REST list cursors and the delivery log on %s', (kind) => {
  let h: Harness;
  let otherKey: string;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    otherKey = (await h.api('POST', '/v1/workspaces', { name: 'other' }, ROOT_KEY)).body.admin_key;
    for (const name of ['a1', 'a2', 'a3']) {
      expect((await h.api('POST', '/v1/sub-accounts', { name })).status).toBe(201);
    }
    expect((await h.api('POST', '/v1/sub-accounts', { name: 'b1' }, otherKey)).status).toBe(201);
  });
  afterAll(async () => h?.close());

  const refusedCursor = (answer: { status: number; body: unknown }) => {
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'validation_error', param: 'cursor' } });
  };

  it.skipIf(skipKind(kind))('a cursor of workspace A is refused in workspace B', async () => {
    const first = await h.api('GET', '/v1/sub-accounts?limit=1');
    expect(first.status).toBe(200);
    expect(first.body.data.map((s: { name: string }) => s.name)).toEqual(['a1']);
    const cursor = encodeURIComponent(first.body.next_cursor);
    const second = await h.api('GET', `/v1/sub-accounts?limit=1&cursor=${cursor}`);
    expect(second.body.data.map((s: { name: string }) => s.name)).toEqual(['a2']);

    refusedCursor(
      await h.api('GET', `/v1/sub-accounts?limit=1&cursor=${cursor}`, undefined, otherKey),
    );
    // B's own cursors work for B.
    const theirs = await h.api('GET', '/v1/sub-accounts?limit=1', undefined, otherKey);
    expect(theirs.body.data.map((s: { name: string }) => s.name)).toEqual(['b1']);
    expect(theirs.body.next_cursor).toBeNull();
  });

  it.skipIf(skipKind(kind))('GraphQL subAccounts still pages with its own cursors', async () => {
    const q = `query ($after: String) { subAccounts(first: 2, after: $after) {
      ... on SubAccountConnection { edges { node { name } } pageInfo { hasNextPage endCursor } }
      ... on ValidationError { field } } }`;
    const one = (await h.gql(q)).data.subAccounts;
    expect(one.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['a1', 'a2']);
    expect(one.pageInfo.hasNextPage).toBe(true);
    const two = (await h.gql(q, { after: one.pageInfo.endCursor })).data.subAccounts;
    expect(two.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['a3']);
    expect(two.pageInfo.hasNextPage).toBe(false);
    // Another workspace's cursor: refused on `after`.
    const foreign = await h.gql(q, { after: one.pageInfo.endCursor }, otherKey);
    expect(foreign.data.subAccounts).toEqual({ field: 'after' });
  });

  it.skipIf(skipKind(kind))(
    'deliveries page by limit and cursor; unknown params are refused',
    async () => {
      const hook = await h.api('POST', '/v1/webhooks', {
        url: 'https://hooks.example.com/tollgate',
        events: ['sub_account.created'],
      });
      expect(hook.status).toBe(201);
      const base = Date.parse('2026-01-01T00:00:00Z');
      await h.prisma.webhookDelivery.createMany({
        data: [0, 1, 2].map((i) => ({
          id: `msg_page_${i}`,
          endpointId: hook.body.id,
          workspaceId: h.workspaceId,
          eventType: 'sub_account.created',
          payload: {},
          status: 'succeeded',
          createdAt: new Date(base + i * 1_000),
        })),
      });
      const path = `/v1/webhooks/${hook.body.id}/deliveries`;

      const all = await h.api('GET', path);
      expect(all.status).toBe(200);
      expect(all.body.data.map((d: { id: string }) => d.id)).toEqual([
        'msg_page_2',
        'msg_page_1',
        'msg_page_0',
      ]);
      expect(all.body.next_cursor).toBeNull();

      // Newest first, one at a time.
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 4; i++) {
        const page = await h.api(
          'GET',
          `${path}?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(page.status).toBe(200);
        expect(page.body.data).toHaveLength(1);
        seen.push(page.body.data[0].id);
        cursor = page.body.next_cursor;
        if (cursor === null) break;
      }
      expect(seen).toEqual(['msg_page_2', 'msg_page_1', 'msg_page_0']);

      const firstPage = await h.api('GET', `${path}?limit=1`);
      const next = encodeURIComponent(firstPage.body.next_cursor);
      // A delivery-log cursor is not a sub-account-list cursor, nor another workspace's.
      refusedCursor(await h.api('GET', `/v1/sub-accounts?cursor=${next}`));
      refusedCursor(await h.api('GET', `${path}?cursor=${next}`, undefined, otherKey));

      const bogus = await h.api('GET', `${path}?bogus=1`);
      expect(bogus.status).toBe(400);
      expect(bogus.body.error).toMatchObject({ code: 'validation_error', param: 'bogus' });
      for (const limit of ['0', '201', 'x']) {
        const bad = await h.api('GET', `${path}?limit=${limit}`);
        expect(bad.status).toBe(400);
        expect(bad.body.error.param).toBe('limit');
      }
      expect((await h.api('GET', `${path}?limit=200`)).status).toBe(200);
      refusedCursor(await h.api('GET', `${path}?cursor=tampered.cursor`));
    },
  );
});
