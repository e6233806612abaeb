import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordEvents, writeUsage } from '@tollgate/control-plane';
import { openTestDatabase, type TestDatabase, usageEvent } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleHandler } from '../src/console-static.ts';
import { type EventPlane, startEventPlane, subscribe, usage, waitFor } from './events-harness.ts';
import { ADMIN_KEY, type Harness, KINDS, ROOT_KEY, skipKind, startHarness } from './harness.ts';

/** A raw GET, so paths reach the server exactly as written (fetch would normalise `..`). */
function get(port: number, path: string, method = 'GET') {
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function serve(dir: string): Promise<{ server: Server; port: number }> {
  const handler = createConsoleHandler(dir);
  const server = createServer((req, res) => {
    handler(req, res, new URL(req.url ?? '/', 'http://localhost')).then((done) => {
      if (!done) res.writeHead(405).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('console static files', () => {
  let root: string;
  let built: { server: Server; port: number };
  let missing: { server: Server; port: number };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tg-console-'));
    const dist = join(root, 'dist');
    await mkdir(join(dist, 'assets'), { recursive: true });
    await writeFile(join(dist, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(join(dist, 'assets', 'app-1.js'), 'console.log(1)');
    await writeFile(join(dist, 'assets', 'app-1.css'), 'body{}');
    await writeFile(join(root, 'secret.txt'), 'TOP SECRET');
    built = await serve(dist);
    missing = await serve(join(root, 'not-built'));
  });
  afterAll(async () => {
    built?.server.close();
    missing?.server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves files with their content types', async () => {
    const js = await get(built.port, '/assets/app-1.js');
    expect(js).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(js.body).toBe('console.log(1)');
    const css = await get(built.port, '/assets/app-1.css');
    expect(css).toMatchObject({ status: 200, type: 'text/css; charset=utf-8', body: 'body{}' });
    const index = await get(built.port, '/');
    expect(index).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
    expect(index.body).toContain('<title>console</title>');
    const headers = await fetch(`http://127.0.0.1:${built.port}/`);
    expect(headers.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(headers.headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.headers.get('cache-control')).toBe('no-cache');
    const asset = await fetch(`http://127.0.0.1:${built.port}/assets/app-1.js`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('falls back to index.html for client routes, but 404s a missing asset', async () => {
    const route = await get(built.port, '/sub-accounts/sa_123');
    expect(route.status).toBe(200);
    expect(route.body).toContain('<title>console</title>');
    expect((await get(built.port, '/assets/gone-2.js')).status).toBe(404);
  });

  it('never serves a file outside the build folder', async () => {
    for (const path of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    ]) {
      const res = await get(built.port, path);
      expect(res.body, path).not.toContain('TOP SECRET');
      expect(res.body, path).not.toContain('root:');
    }
    expect((await get(built.port, '/..%2fsecret.txt')).status).toBe(404);
    expect((await get(built.port, '/%00')).status).toBe(400);
    expect((await get(built.port, '/%E0%A4%A')).status).toBe(400);
  });

  it('answers only GET and HEAD', async () => {
    expect((await get(built.port, '/', 'POST')).status).toBe(405);
    const head = await get(built.port, '/', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
  });

  it('says how to build the console when it is not built', async () => {
    const res = await get(missing.port, '/');
    expect(res.status).toBe(503);
    expect(res.type).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('console is not built');
    expect(res.body).toContain('run build');
  });
});

describe.each(KINDS)('console GraphQL fields on %s', (kind) => {
  let h: Harness;
  let a: { id: string };
  let b: { id: string };

  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    a = (await h.api('POST', '/v1/sub-accounts', { name: 'console-a' })).body;
    b = (await h.api('POST', '/v1/sub-accounts', { name: 'console-b' })).body;
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    await writeUsage(h.prisma, [
      usageEvent({
        requestId: 'req_old',
        workspaceId: h.workspaceId,
        subAccountId: a.id,
        model: 'openai/gpt-4o-mini',
        requestedModel: 'openai/gpt-4o',
        servedModel: 'gpt-4o-mini-2024-07-18',
        provider: 'openai',
        byok: true,
        keyId: 'key_console_a',
        inputTokens: 10,
        cachedInputTokens: 3,
        cacheWriteTokens: 2,
        outputTokens: 5,
        providerCostMicros: 10_000,
        billedCostMicros: 12_345,
        cappedAtSettle: true,
        estimated: true,
        latencyMs: 321,
        ttftMs: 40,
        retries: 1,
        startedAt: at(10),
        finishedAt: at(10),
      }),
      usageEvent({
        requestId: 'req_new',
        workspaceId: h.workspaceId,
        subAccountId: a.id,
        model: 'openai/gpt-4o',
        status: 'error',
        errorClass: 'upstream_error',
        httpStatus: 502,
        billedCostMicros: 0,
        latencyMs: 45,
        startedAt: at(1),
        finishedAt: at(1),
      }),
      usageEvent({
        requestId: 'req_other',
        workspaceId: h.workspaceId,
        subAccountId: b.id,
        startedAt: at(2),
        finishedAt: at(2),
      }),
    ]);
    await recordEvents(h.prisma, [
      {
        workspaceId: h.workspaceId,
        subAccountId: a.id,
        tag: null,
        type: 'warning',
        scope: 'sub_account',
        eventType: 'sub_account.budget.warning',
        dedupeKey: `console-test-${a.id}`,
        data: { threshold: 0.8, cap_cents: 100, spent_cents: 81 },
      },
      {
        workspaceId: h.workspaceId,
        subAccountId: b.id,
        tag: null,
        type: 'exhausted',
        scope: 'sub_account',
        eventType: 'sub_account.budget.exhausted',
        dedupeKey: `console-test-${b.id}`,
        data: { threshold: 1 },
      },
    ]);
  });
  afterAll(async () => h?.close());

  const QUERY = `query($id: ID!, $first: Int) { subAccount(id: $id) { ... on SubAccount {
    recentRequests(first: $first) { ... on RequestLogConnection { edges { node { requestId model
      requestedModel servedModel provider byok keyId status httpStatus errorClass inputTokens
      cachedInputTokens cacheWriteTokens outputTokens estimated providerCostCents costCents
      cappedAtSettle latencyMs ttftMs retries } } } }
    budgetEvents { ... on BudgetEventConnection { edges { node { type eventType scope subAccountId
      threshold capCents spentCents } } } } } } }`;
  type Nodes<T = Record<string, unknown>> = { edges: { node: T }[] };
  const nodes = <T>(page: Nodes<T>) => page.edges.map((e) => e.node);

  it.skipIf(skipKind(kind))(
    'lists a sub-account’s own requests newest first, with cost and latency',
    async () => {
      const res = await h.gql(QUERY, { id: a.id });
      expect(res.errors).toBeUndefined();
      expect(nodes(res.data.subAccount.recentRequests)).toEqual([
        expect.objectContaining({
          requestId: 'req_new',
          model: 'openai/gpt-4o',
          requestedModel: 'openai/gpt-4o',
          status: 'error',
          httpStatus: 502,
          errorClass: 'upstream_error',
          costCents: 0,
          cappedAtSettle: false,
          latencyMs: 45,
        }),
        {
          requestId: 'req_old',
          // Downgraded: served by the fallback, asked for the other.
          model: 'openai/gpt-4o-mini',
          requestedModel: 'openai/gpt-4o',
          servedModel: 'gpt-4o-mini-2024-07-18',
          provider: 'openai',
          byok: true,
          keyId: 'key_console_a',
          status: 'ok',
          httpStatus: 200,
          errorClass: null,
          inputTokens: 10,
          cachedInputTokens: 3,
          cacheWriteTokens: 2,
          outputTokens: 5,
          estimated: true,
          providerCostCents: 1,
          costCents: 1.2345,
          cappedAtSettle: true,
          latencyMs: 321,
          ttftMs: 40,
          retries: 1,
        },
      ]);
      const one = await h.gql(QUERY, { id: a.id, first: 1 });
      expect(
        nodes<{ requestId: string }>(one.data.subAccount.recentRequests).map((r) => r.requestId),
      ).toEqual(['req_new']);
    },
  );

  it.skipIf(skipKind(kind))('lists only the sub-account’s own budget events', async () => {
    const res = await h.gql(QUERY, { id: a.id });
    expect(nodes(res.data.subAccount.budgetEvents)).toEqual([
      {
        type: 'warning',
        eventType: 'sub_account.budget.warning',
        scope: 'sub_account',
        subAccountId: a.id,
        threshold: 0.8,
        capCents: 100,
        spentCents: 81,
      },
    ]);
    const other = await h.gql(QUERY, { id: b.id });
    expect(nodes<{ type: string }>(other.data.subAccount.budgetEvents).map((e) => e.type)).toEqual([
      'exhausted',
    ]);
  });

  it.skipIf(skipKind(kind))('counts the sub-accounts on each plan', async () => {
    const PLANS =
      '{ plans(first: 200) { ... on PlanConnection { edges { node { name subAccountCount } } } } }';
    expect((await h.api('POST', '/v1/plans', { name: 'console-busy' })).status).toBe(201);
    expect((await h.api('POST', '/v1/plans', { name: 'console-idle' })).status).toBe(201);
    const on = await h.api('POST', '/v1/sub-accounts', { name: 'on-plan-1', plan: 'console-busy' });
    expect(on.status).toBe(201);
    expect(
      (await h.api('POST', '/v1/sub-accounts', { name: 'on-plan-2', plan: 'console-busy' })).status,
    ).toBe(201);
    const counts = async () =>
      Object.fromEntries(
        (
          (await h.gql(PLANS)).data.plans.edges as Array<{
            node: { name: string; subAccountCount: number };
          }>
        ).map(({ node }) => [node.name, node.subAccountCount]),
      );
    expect(await counts()).toMatchObject({ 'console-busy': 2, 'console-idle': 0 });
    // Detached and deleted sub-accounts no longer count.
    expect((await h.api('PATCH', `/v1/sub-accounts/${on.body.id}`, { plan: null })).status).toBe(
      200,
    );
    expect(await counts()).toMatchObject({ 'console-busy': 1, 'console-idle': 0 });
    const one = await h.gql('{ plan(id: "console-busy") { ... on Plan { subAccountCount } } }');
    expect(one.data.plan.subAccountCount).toBe(1);
  });
});

describe('workspaceSpendUpdates over graphql-ws', () => {
  let t: TestDatabase;
  let cp: EventPlane;
  let otherKey: string;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    cp = await startEventPlane({ prisma: t.db.prisma });
    otherKey = (await cp.api('POST', '/v1/workspaces', { name: 'other' }, ROOT_KEY)).body.admin_key;
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    await t?.cleanup();
  });

  it('streams the spend of every sub-account of the workspace, and nothing of another', async () => {
    const q = 'subscription { workspaceSpendUpdates { subAccountId spentCents capCents } }';
    const mine = subscribe(cp.wsUrl, ADMIN_KEY, q);
    const theirs = subscribe(cp.wsUrl, otherKey, q);
    await Promise.all([mine.connected, theirs.connected]);
    await new Promise((r) => setTimeout(r, 300));
    const x = (await cp.api('POST', '/v1/sub-accounts', { name: 'x', spend_cap_cents: 100 })).body;
    const y = (await cp.api('POST', '/v1/sub-accounts', { name: 'y' })).body;
    await cp.append([usage(cp.workspaceId, x.id, { billedCostMicros: 250_000 })]);
    await waitFor(() => mine.received.length >= 1);
    await cp.append([usage(cp.workspaceId, y.id, { billedCostMicros: 10_000 })]);
    await waitFor(() => mine.received.length >= 2);
    expect(mine.received.map((r) => r.workspaceSpendUpdates)).toEqual([
      { subAccountId: x.id, spentCents: 25, capCents: 100 },
      { subAccountId: y.id, spentCents: 1, capCents: null },
    ]);
    expect(theirs.received).toEqual([]);
    await Promise.all([mine.close(), theirs.close()]);
  });
});
