import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, subAccount } from './harness.ts';

describe('data plane: admin paths are forwarded to the control plane', () => {
  const seen: {
    method: string;
    url: string;
    auth: string | undefined;
    forwardedFor: string | undefined;
    body: string;
  }[] = [];
  const cp = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      auth: req.headers.authorization,
      forwardedFor: req.headers['x-forwarded-for'] as string | undefined,
      body,
    });
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'sa_new', key: 'sk-tg-new' }));
  });
  let h: Harness;
  beforeAll(async () => {
    await new Promise<void>((r) => cp.listen(0, '127.0.0.1', r));
    const port = (cp.address() as AddressInfo).port;
    h = await startHarness({
      subs: [subAccount('sa_main')],
      controlPlaneUrl: `http://127.0.0.1:${port}`,
    });
  });
  afterAll(async () => {
    await h.close();
    cp.closeAllConnections();
    await new Promise<void>((r) => cp.close(() => r()));
  });

  it('POST /v1/sub-accounts and GET /v1/usage/by-tag reach the control plane unchanged', async () => {
    const res = await fetch(`${h.urls[0]}/v1/sub-accounts`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-tg-admin-x', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'acme' }),
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: 'sa_new', key: 'sk-tg-new' });
    const tags = await fetch(`${h.urls[0]}/v1/usage/by-tag?month=2026-11`, {
      headers: { authorization: 'Bearer sk-tg-admin-x', 'x-forwarded-for': '198.51.100.7' },
    });
    expect(tags.status).toBe(201);
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/v1/sub-accounts',
        auth: 'Bearer sk-tg-admin-x',
        // The client's address appended (the control plane throttles failed logins per client).
        forwardedFor: '127.0.0.1',
        body: '{"name":"acme"}',
      },
      {
        method: 'GET',
        url: '/v1/usage/by-tag?month=2026-11',
        auth: 'Bearer sk-tg-admin-x',
        // Appended to what the client sent: the control plane decides whom it believes.
        forwardedFor: '198.51.100.7,127.0.0.1',
        body: '',
      },
    ]);
    expect(h.upstream.hits()).toBe(0);
  });
});
