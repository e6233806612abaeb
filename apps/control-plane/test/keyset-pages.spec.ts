import { recordEvents, writeUsage } from '@tollgate/control-plane';
import { Prisma } from '@tollgate/db';
import { usageEvent } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysetOrder, keysetPage } from '../src/services/keyset.ts';
import { type Harness, KINDS, ROOT_KEY, skipKind, startHarness } from './harness.ts';

/**
 * Keyset pages (services/keyset.ts) against an offset walk of the same rows in the same order:
 * lists with long runs of rows sharing one timestamp (every page boundary falls inside a run, so
 * the tie-breaking key decides it), with filters, newest-first lists, and the last page. And the
 * cost of a deep page: the statement choosing a page three quarters down 1,200 sub-accounts,
 * EXPLAINed, reads about a page of rows. "After (t0, k0)" spelled `t > t0 OR (t = t0 AND k > k0)`
 * is no index range: PostgreSQL reads every row before the page (an index scan in order, dropping
 * them) or every row after it (a bitmap of both arms, sorted) — hundreds here. And a row deleted
 * between a page's two statements (its keys, then its rows) does not cut the page short.
 */

const SUB_ACCOUNTS = 1_200;
/** Rows per run of equal timestamps: longer than any page, so runs straddle page boundaries. */
const RUN = 40;
const PAGE = 10;
const T0 = Date.UTC(2026, 0, 1);

/** Ids not in creation order, so the tie-breaker is not the insertion order. */
const scrambled = (prefix: string, i: number) =>
  `${prefix}_${((i * 7_919) % 10_007).toString(36).padStart(3, '0')}_${i}`;

interface Statement {
  query: string;
  params: string;
}

/** Rows a plan node read: those it returned and those its filter or recheck dropped. */
// biome-ignore lint/suspicious/noExplicitAny: EXPLAIN's JSON plan tree
function rowsRead(node: any): number {
  const own = String(node['Node Type']).includes('Scan')
    ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'] +
      (node['Rows Removed by Index Recheck'] ?? 0)
    : 0;
  return own + (node.Plans ?? []).reduce((sum: number, child: unknown) => sum + rowsRead(child), 0);
}

describe.each(KINDS)('keyset pages against an offset walk on %s', (kind) => {
  let h: Harness;
  let otherKey: string;
  let otherWorkspaceId: string;
  let saId: string;
  let endpointId: string;
  let capture: Statement[] | null = null;

  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind, { onQuery: (s) => capture?.push(s) });
    otherKey = (await h.api('POST', '/v1/workspaces', { name: 'keyset-other' }, ROOT_KEY)).body
      .admin_key;
    const other = await h.prisma.workspace.findFirstOrThrow({ where: { name: 'keyset-other' } });
    otherWorkspaceId = other.id;

    const subAccount = (workspaceId: string, prefix: string, i: number) => ({
      id: scrambled(prefix, i),
      workspaceId,
      name: i % 13 === 0 ? `special 100% ${i}` : `customer ${i}`,
      externalId: `ext-${i % 50}`,
      status: (i % 11 === 0 ? 'deleted' : i % 5 === 0 ? 'suspended' : 'active') as
        | 'active'
        | 'suspended'
        | 'deleted',
      defaultTag: i % 3 === 0 ? 'team-a' : null,
      createdAt: new Date(T0 + Math.floor(i / RUN)),
    });
    await h.prisma.subAccount.createMany({
      data: Array.from({ length: SUB_ACCOUNTS }, (_, i) => subAccount(h.workspaceId, 'sa_k', i)),
    });
    // Another workspace's rows in the same milliseconds: never on this workspace's pages.
    await h.prisma.subAccount.createMany({
      data: Array.from({ length: 200 }, (_, i) => subAccount(other.id, 'sa_o', i)),
    });

    // A sub-account's requests, budget events (some of a type the list leaves out) and an
    // endpoint's deliveries, in runs of equal timestamps; a second sub-account's and endpoint's
    // rows in the same milliseconds.
    saId = scrambled('sa_k', 1);
    const otherSa = scrambled('sa_k', 2);
    const at = (i: number) => new Date(T0 + 1_000 + Math.floor(i / 15));
    await writeUsage(
      h.prisma,
      Array.from({ length: 150 }, (_, i) =>
        usageEvent({
          requestId: scrambled('req', i),
          workspaceId: h.workspaceId,
          subAccountId: i % 6 === 0 ? otherSa : saId,
          billedCostMicros: 1,
          providerCostMicros: 1,
          startedAt: at(i).toISOString(),
          finishedAt: at(i).toISOString(),
        }),
      ),
    );
    for (let run = 0; run < 10; run++) {
      await recordEvents(
        h.prisma,
        Array.from({ length: 15 }, (_, j) => ({
          workspaceId: h.workspaceId,
          subAccountId: j % 6 === 0 ? otherSa : saId,
          tag: null,
          type: (j % 7 === 0 ? 'webhook_disabled' : 'request_failed') as 'request_failed',
          scope: 'sub_account' as const,
          eventType: 'sub_account.request.failed',
          dedupeKey: `keyset-${run}-${j}`,
          data: {},
        })),
        () => at(run * 15),
      );
    }
    const hooks: string[] = [];
    for (const n of [1, 2]) {
      const hook = await h.api('POST', '/v1/webhooks', {
        url: `https://hooks.example.com/${n}`,
        events: ['sub_account.created'],
      });
      expect(hook.status).toBe(201);
      hooks.push(hook.body.id);
    }
    endpointId = hooks[0]!;
    await h.prisma.webhookDelivery.createMany({
      data: Array.from({ length: 150 }, (_, i) => ({
        id: scrambled('msg', i),
        endpointId: hooks[i % 5 === 0 ? 1 : 0]!,
        workspaceId: h.workspaceId,
        eventType: 'sub_account.created',
        payload: {},
        createdAt: at(i),
      })),
    });
    // Planner statistics, as a database in use has them.
    for (const table of ['SubAccount', 'UsageRecord', 'BudgetEvent', 'WebhookDelivery']) {
      await h.prisma.$executeRawUnsafe(`ANALYZE "${table}"`);
    }
  });
  afterAll(async () => h?.close());

  /** The ids of every page of a REST list, following `next_cursor`. */
  async function restWalk(path: string, query: Record<string, string>) {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams({ ...query, limit: String(PAGE) });
      if (cursor) params.set('cursor', cursor);
      const res = await h.api('GET', `${path}?${params}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      pages.push(res.body.data.map((r: { id: string }) => r.id));
      cursor = res.body.next_cursor;
    } while (cursor !== null && pages.length < 500);
    return pages;
  }

  /** The ids of every page of a GraphQL connection, following `endCursor`. */
  async function gqlWalk(
    query: string,
    // biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are checked field by field
    pick: (data: any) => any,
    vars: Record<string, unknown>,
  ) {
    const pages: string[][] = [];
    let after: string | null = null;
    do {
      const res = await h.gql(query, { ...vars, first: PAGE, after });
      expect(res.errors).toBeUndefined();
      const conn = pick(res.data);
      pages.push(conn.edges.map((e: { node: { id: string } }) => e.node.id));
      after = conn.pageInfo.hasNextPage ? conn.pageInfo.endCursor : null;
    } while (after !== null && pages.length < 500);
    return pages;
  }

  /** The same list by OFFSET, PAGE rows at a time: what each keyset page must hold. */
  async function offsetWalk(read: (skip: number) => Promise<{ id: string }[]>) {
    const pages: string[][] = [];
    for (let skip = 0; ; skip += PAGE) {
      const rows = await read(skip);
      if (rows.length === 0 && pages.length > 0) break;
      pages.push(rows.map((r) => r.id));
      if (rows.length < PAGE) break;
    }
    // A list whose length is a multiple of PAGE ends on a full page (no empty page after it).
    return pages;
  }

  const SUB_ACCOUNTS_QUERY = `query($first: Int, $after: String, $status: SubAccountStatus,
    $tag: String, $search: String, $externalId: String) {
    subAccounts(first: $first, after: $after, status: $status, tag: $tag, search: $search,
      externalId: $externalId) {
      ... on SubAccountConnection { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`;

  const filters: {
    name: string;
    rest: Record<string, string>;
    where: Prisma.SubAccountWhereInput;
  }[] = [
    { name: 'no filter', rest: {}, where: {} },
    { name: 'status', rest: { status: 'active' }, where: { status: 'active' } },
    { name: 'tag', rest: { tag: 'team-a' }, where: { defaultTag: 'team-a' } },
    {
      name: 'search (a literal %)',
      rest: { search: '100%' },
      where: { name: { contains: '100\\%', mode: 'insensitive' } },
    },
    {
      name: 'status and tag',
      rest: { status: 'suspended', tag: 'team-a' },
      where: { status: 'suspended', defaultTag: 'team-a' },
    },
    { name: 'external id', rest: { external_id: 'ext-7' }, where: { externalId: 'ext-7' } },
  ];

  it.skipIf(skipKind(kind))(
    'sub-accounts: each page, REST and GraphQL, is the offset walk’s page, ties and filters included',
    async () => {
      for (const f of filters) {
        const expected = await offsetWalk((skip) =>
          h.prisma.subAccount.findMany({
            where: { workspaceId: h.workspaceId, ...f.where },
            orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
            skip,
            take: PAGE,
            select: { id: true },
          }),
        );
        expect(expected.flat().length, f.name).toBeGreaterThan(2 * PAGE);
        expect(await restWalk('/v1/sub-accounts', f.rest), f.name).toEqual(expected);
        const { external_id: externalId, ...vars } = f.rest;
        const viaGql = await gqlWalk(SUB_ACCOUNTS_QUERY, (d) => d.subAccounts, {
          ...vars,
          externalId,
        });
        expect(viaGql, f.name).toEqual(expected);
      }
      // The other workspace sees its own 200 only.
      const theirs = await h.api('GET', '/v1/sub-accounts?limit=200', undefined, otherKey);
      expect(theirs.body.data).toHaveLength(200);
      expect(theirs.body.next_cursor).toBeNull();
    },
  );

  it.skipIf(skipKind(kind))(
    'newest-first lists (deliveries, requests, budget events) page as their offset walks do',
    async () => {
      const deliveries = await offsetWalk((skip) =>
        h.prisma.webhookDelivery.findMany({
          where: { endpointId },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          skip,
          take: PAGE,
        }),
      );
      expect(deliveries.flat()).toHaveLength(120);
      expect(await restWalk(`/v1/webhooks/${endpointId}/deliveries`, {})).toEqual(deliveries);

      const activity = (field: string, type: string, id: string) => `query($id: ID!, $first: Int,
        $after: String) { subAccount(id: $id) { ... on SubAccount { ${field}(first: $first,
          after: $after) { ... on ${type} { edges { node { id: ${id} } }
            pageInfo { hasNextPage endCursor } } } } } }`;
      const requests = await offsetWalk(async (skip) =>
        (
          await h.prisma.usageRecord.findMany({
            where: { subAccountId: saId },
            orderBy: [{ startedAt: 'desc' }, { requestId: 'desc' }],
            skip,
            take: PAGE,
          })
        ).map((r) => ({ id: r.requestId })),
      );
      expect(requests.flat()).toHaveLength(125);
      const walkedRequests = await gqlWalk(
        activity('recentRequests', 'RequestLogConnection', 'requestId'),
        (d) => d.subAccount.recentRequests,
        { id: saId },
      );
      expect(walkedRequests).toEqual(requests);

      const events = await offsetWalk((skip) =>
        h.prisma.budgetEvent.findMany({
          where: { subAccountId: saId, type: { not: 'webhook_disabled' } },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          skip,
          take: PAGE,
        }),
      );
      expect(events.flat()).toHaveLength(100);
      const walkedEvents = await gqlWalk(
        activity('budgetEvents', 'BudgetEventConnection', 'id'),
        (d) => d.subAccount.budgetEvents,
        { id: saId },
      );
      expect(walkedEvents).toEqual(events);
    },
  );

  it.skipIf(skipKind(kind))(
    'a page deep in the list reads about a page of rows, not the rows before or after it',
    async () => {
      for (const f of filters.slice(0, 2)) {
        const total = await h.prisma.subAccount.count({
          where: { workspaceId: h.workspaceId, ...f.where },
        });
        // A cursor three quarters down the list, from a page of the list itself.
        const skip = Math.floor((total * 3) / 4);
        let cursor: string | null = null;
        for (let seen = 0; seen < skip; ) {
          const limit = Math.min(200, skip - seen);
          const params = new URLSearchParams({ ...f.rest, limit: String(limit) });
          if (cursor) params.set('cursor', cursor);
          const res = await h.api('GET', `/v1/sub-accounts?${params}`);
          cursor = res.body.next_cursor;
          seen += limit;
        }
        capture = [];
        const params = new URLSearchParams({ ...f.rest, limit: String(PAGE), cursor: cursor! });
        const deep = await h.api('GET', `/v1/sub-accounts?${params}`);
        // The statements that choose the page: those reading sub-accounts in the list's order.
        // (Reading the chosen rows by primary key costs a page at any depth; on a table this
        // small the planner may scan it whole for that, which says nothing of the paging.)
        const statements = capture.filter(
          (s) => /"SubAccount"/.test(s.query) && /ORDER BY/i.test(s.query),
        );
        capture = null;
        expect(deep.body.data, f.name).toHaveLength(PAGE);
        expect(deep.body.next_cursor, f.name).not.toBeNull();
        expect(statements.length, f.name).toBeGreaterThan(0);

        let read = 0;
        for (const s of statements) {
          const [plan] = await h.prisma.$queryRawUnsafe<{ 'QUERY PLAN': unknown }[]>(
            `EXPLAIN (ANALYZE, FORMAT JSON) ${s.query}`,
            ...(JSON.parse(s.params) as unknown[]),
          );
          const json = plan!['QUERY PLAN'];
          const root = (typeof json === 'string' ? JSON.parse(json) : json)[0].Plan;
          read += rowsRead(root);
        }
        // About a page, plus the rows a filter drops within it; `t > t0 OR (t = t0 AND k > k0)`
        // reads the rows before the page or those after it, hundreds either way.
        expect(read, `${f.name}: rows read for a page at row ${skip} of ${total}`).toBeLessThan(
          6 * PAGE,
        );
      }
    },
  );

  it.skipIf(skipKind(kind))(
    'a row deleted between the keys and the rows: the page is read again, not answered short',
    async () => {
      const order = keysetOrder('SubAccount', 'createdAt', 'id', 'asc');
      const inOrder = async () =>
        (
          await h.prisma.subAccount.findMany({
            where: { workspaceId: otherWorkspaceId },
            orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
            select: { id: true },
          })
        ).map((r) => r.id);
      const before = await inOrder();
      let reads = 0;
      const page = await keysetPage(
        h.prisma,
        order,
        Prisma.sql`"workspaceId" = ${otherWorkspaceId}`,
        { after: null, take: PAGE + 1 },
        async (ids) => {
          // The first time, another request deletes a row of the page before it is read.
          if (reads++ === 0) await h.prisma.subAccount.delete({ where: { id: ids[3]! } });
          return h.prisma.subAccount.findMany({ where: { id: { in: ids } } });
        },
      );
      expect(reads).toBe(2);
      expect(page.map((r) => r.id)).toEqual((await inOrder()).slice(0, PAGE + 1));
      expect(page.map((r) => r.id)).not.toContain(before[3]);
    },
  );
});
