import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebhookDispatcher } from '@tollgate/control-plane';
import { openDatabase } from '@tollgate/db';
import { createPgDatabase, openTestDatabase, pgAvailable } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventPlane, startEventPlane, waitFor } from './events-harness.ts';
import { ADMIN_KEY } from './harness.ts';

/**
 * Standard Webhooks verification written from the spec, on WebCrypto (not the server's node:crypto
 * code): HMAC-SHA256 over "id.timestamp.body" keyed with the base64-decoded secret after `whsec_`,
 * compared with every `v1,` signature of the space-separated header; timestamps within 5 minutes.
 */
async function verify(secret: string, headers: IncomingMessage['headers'], body: string) {
  const id = String(headers['webhook-id']);
  const ts = String(headers['webhook-timestamp']);
  if (!secret || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = await crypto.subtle.sign(
    'HMAC',
    key,
    new TextEncoder().encode(`${id}.${ts}.${body}`),
  );
  const expected = btoa(String.fromCharCode(...new Uint8Array(mac)));
  return String(headers['webhook-signature'])
    .split(' ')
    .some((s) => s === `v1,${expected}`);
}

interface Received {
  id: string;
  body: string;
  valid: boolean;
  headers: IncomingMessage['headers'];
  /** When the request arrived (ms since the epoch). */
  receivedAt: number;
}

/** A local receiver: answers with `answer(n)` for the n-th request (0-based). */
async function receiver(
  secret: () => string,
  answer: (n: number) => { status: number; body?: string; delayMs?: number },
) {
  const got: Received[] = [];
  const server: Server = createServer(async (req, res) => {
    const receivedAt = Date.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const n = got.length;
    got.push({
      id: String(req.headers['webhook-id']),
      body,
      valid: await verify(secret(), req.headers, body),
      headers: req.headers,
      receivedAt,
    });
    const a = answer(n);
    if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
    if (res.destroyed) return;
    res.writeHead(a.status, { 'content-type': 'text/plain' });
    res.end(a.body ?? 'ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    got,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('webhooks: signed, retried, durable', () => {
  let t: Awaited<ReturnType<typeof openTestDatabase>>;
  let cp: EventPlane;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    cp = await startEventPlane({ prisma: t.db.prisma, webhooks: { maxAttempts: 3 } });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    await t?.cleanup();
  });

  it('sub_account.created and its delivery commit with the sub-account (outbox), or neither does', async () => {
    const hook = await cp.api('POST', '/v1/webhooks', {
      url: 'https://hooks.example.com/created',
      events: ['sub_account.created'],
    });
    expect(hook.status).toBe(201);
    await cp.events.dispatcher.stop();
    try {
      const sa = (await cp.api('POST', '/v1/sub-accounts', { name: 'outboxed' })).body;
      // Read as soon as the creation answered: nothing is written after its commit.
      const prisma = t.db.prisma;
      const events = await prisma.budgetEvent.findMany({
        where: { subAccountId: sa.id, type: 'created' },
      });
      expect(events).toHaveLength(1);
      const deliveries = await prisma.webhookDelivery.findMany({
        where: { endpointId: hook.body.id, eventType: 'sub_account.created' },
      });
      expect(
        deliveries.map((d) => (d.payload as { data: { sub_account_id: string } }).data),
      ).toEqual([expect.objectContaining({ sub_account_id: sa.id })]);
      // The event cannot be stored (the database refuses it): the creation does not happen either,
      // rather than happen without its event.
      await prisma.$executeRawUnsafe(
        `CREATE FUNCTION refuse_event() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no events'; END $$ LANGUAGE plpgsql`,
      );
      await prisma.$executeRawUnsafe(
        'CREATE TRIGGER refuse_event BEFORE INSERT ON "BudgetEvent" FOR EACH ROW EXECUTE FUNCTION refuse_event()',
      );
      try {
        const refused = await cp.api('POST', '/v1/sub-accounts', { name: 'never-created' });
        expect(refused.status).toBe(500);
        expect(await prisma.subAccount.count({ where: { name: 'never-created' } })).toBe(0);
      } finally {
        await prisma.$executeRawUnsafe('DROP TRIGGER refuse_event ON "BudgetEvent"');
        await prisma.$executeRawUnsafe('DROP FUNCTION refuse_event()');
      }
    } finally {
      await cp.api('DELETE', `/v1/webhooks/${hook.body.id}`);
      cp.events.dispatcher.start();
    }
  });

  it('500, 500, then 200: three attempts, one delivery, verified signatures, across a dispatcher restart', async () => {
    let secret = '';
    const rx = await receiver(
      () => secret,
      (n) => (n < 2 ? { status: 500, body: 'nope' } : { status: 200 }),
    );
    const hook = await cp.api('POST', '/v1/webhooks', {
      url: rx.url,
      events: ['sub_account.created'],
    });
    expect(hook.status).toBe(201);
    secret = hook.body.secret;
    // Restart the dispatcher after the first failure: the queue lives in the database.
    await cp.events.dispatcher.stop();
    const sa = (
      await cp.api('POST', '/v1/sub-accounts', {
        name: 'hooked',
        external_id: 'cus_42',
        spend_cap_cents: 1234.5,
      })
    ).body;
    const once = createWebhookDispatcher({
      prisma: t.db.prisma,
      secretKey: Buffer.alloc(32, 7),
      allowPrivateUrls: true,
      backoffMs: () => 50,
    });
    await waitFor(async () => (await once.runOnce()) > 0);
    expect(rx.got).toHaveLength(1);
    cp.events.dispatcher.start();
    await waitFor(() => rx.got.length >= 3);
    await waitFor(async () => {
      const d = await cp.api('GET', `/v1/webhooks/${hook.body.id}/deliveries`);
      return d.body.data[0]?.status === 'succeeded';
    });
    const log = (await cp.api('GET', `/v1/webhooks/${hook.body.id}/deliveries`)).body.data;
    expect(log).toHaveLength(1);
    expect(log[0].attempts.map((a: { status_code: number }) => a.status_code)).toEqual([
      500, 500, 200,
    ]);
    expect(log[0].attempts[0].response_excerpt).toBe('nope');
    expect(rx.got.every((r) => r.valid && r.id === log[0].id)).toBe(true);
    expect(JSON.parse(rx.got[2]!.body)).toMatchObject({
      type: 'sub_account.created',
      // What an integrator needs to file the new customer without another call.
      data: {
        sub_account_id: sa.id,
        workspace_id: cp.workspaceId,
        name: 'hooked',
        external_id: 'cus_42',
        spend_cap_cents: 1234.5,
        budget_period: 'monthly',
      },
    });

    // Rotate the secret, replay: the new signature verifies with the new secret only.
    const rotated = await cp.api('POST', `/v1/webhooks/${hook.body.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(secret);
    secret = rotated.body.secret;
    const replay = await cp.api(
      'POST',
      `/v1/webhooks/${hook.body.id}/deliveries/${log[0].id}/replay`,
    );
    expect(replay.status).toBe(200);
    await waitFor(() => rx.got.length >= 4);
    expect(rx.got[3]).toMatchObject({ id: log[0].id, valid: true });
    await cp.api('DELETE', `/v1/webhooks/${hook.body.id}`);
    await rx.close();
  });

  it('rotation overlap: for 24 h deliveries carry the new and the old signature (REST and GraphQL), then only the new', async () => {
    const rx = await receiver(
      () => '',
      () => ({ status: 200 }),
    );
    const hook = (
      await cp.api('POST', '/v1/webhooks', { url: rx.url, events: ['sub_account.created'] })
    ).body;
    const s0: string = hook.secret;
    await cp.api('POST', '/v1/sub-accounts', { name: 'rotating' });
    await waitFor(() => rx.got.length >= 1);
    const msg = rx.got[0]!;
    expect(await verify(s0, msg.headers, msg.body)).toBe(true);
    expect(String(msg.headers['webhook-signature']).split(' ')).toHaveLength(1);
    const replay = async (n: number) => {
      const r = await cp.api('POST', `/v1/webhooks/${hook.id}/deliveries/${msg.id}/replay`);
      expect(r.status).toBe(200);
      await waitFor(() => rx.got.length >= n);
      return rx.got[n - 1]!;
    };

    // REST rotation: the next delivery verifies with the new secret and with the old one.
    const before = Date.now();
    const s1: string = (await cp.api('POST', `/v1/webhooks/${hook.id}/rotate-secret`)).body.secret;
    const row = await cp.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: hook.id } });
    const expires = row.previousSecretExpiresAt!.getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 24 * 3_600_000 - 1_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);
    const m1 = await replay(2);
    expect(String(m1.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(await verify(s1, m1.headers, m1.body)).toBe(true);
    expect(await verify(s0, m1.headers, m1.body)).toBe(true);

    // GraphQL rotation: the secret just retired overlaps; the one before it no longer signs.
    const res = await fetch(`${cp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({
        query: `mutation ($id: ID!) { rotateWebhookSecret(id: $id) {
          ... on CreateWebhookPayload { secret } } }`,
        variables: { id: hook.id },
      }),
    });
    const s2: string = ((await res.json()) as { data: { rotateWebhookSecret: { secret: string } } })
      .data.rotateWebhookSecret.secret;
    const m2 = await replay(3);
    expect(await verify(s2, m2.headers, m2.body)).toBe(true);
    expect(await verify(s1, m2.headers, m2.body)).toBe(true);
    expect(await verify(s0, m2.headers, m2.body)).toBe(false);

    // Past the overlap (the dispatcher's clock beyond the stored expiry): only the new signature.
    await cp.prisma.webhookEndpoint.update({
      where: { id: hook.id },
      data: { previousSecretExpiresAt: new Date(Date.now() - 1) },
    });
    const m3 = await replay(4);
    expect(String(m3.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(await verify(s2, m3.headers, m3.body)).toBe(true);
    expect(await verify(s1, m3.headers, m3.body)).toBe(false);
    await cp.api('DELETE', `/v1/webhooks/${hook.id}`);
    await rx.close();
  });

  it('bounds oversized answers, times out slow receivers, disables a failing endpoint; the queue keeps moving', async () => {
    const big = await receiver(
      () => '',
      () => ({ status: 200, body: 'x'.repeat(2_000_000) }),
    );
    const slow = await receiver(
      () => '',
      () => ({ status: 200, delayMs: 5_000 }),
    );
    const events = ['sub_account.created'];
    const hBig = (await cp.api('POST', '/v1/webhooks', { url: big.url, events })).body;
    const hSlow = (await cp.api('POST', '/v1/webhooks', { url: slow.url, events })).body;
    const hDown = (
      await cp.api('POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/nothing', events })
    ).body;
    const watcher = (
      await cp.api('POST', '/v1/webhooks', { url: big.url, events: ['webhook.endpoint.disabled'] })
    ).body;
    await cp.api('POST', '/v1/sub-accounts', { name: 'loud' });
    const deliveries = async (id: string) =>
      (await cp.api('GET', `/v1/webhooks/${id}/deliveries`)).body.data;
    await waitFor(async () => (await deliveries(hBig.id))[0]?.status === 'succeeded');
    const bigLog = (await deliveries(hBig.id))[0];
    expect(bigLog.attempts[0].response_excerpt.length).toBeLessThanOrEqual(1024);
    // maxAttempts 3 in this plane: the dead endpoint fails for good and is disabled, with an event.
    await waitFor(async () => (await deliveries(hDown.id))[0]?.status === 'failed', 20_000);
    const down = await cp.api('GET', '/v1/webhooks');
    expect(down.body.data.find((w: { id: string }) => w.id === hDown.id).status).toBe('disabled');
    await waitFor(async () => (await deliveries(watcher.id)).length > 0);
    expect((await deliveries(watcher.id))[0].event_type).toBe('webhook.endpoint.disabled');
    // Replay on a disabled endpoint is refused until it is enabled again.
    const dl = (await deliveries(hDown.id))[0];
    const refused = await cp.api('POST', `/v1/webhooks/${hDown.id}/deliveries/${dl.id}/replay`);
    expect(refused.status).toBe(409);
    const enabled = await cp.api('PATCH', `/v1/webhooks/${hDown.id}`, { status: 'enabled' });
    expect(enabled.body.status).toBe('enabled');
    await slow.close();
    await big.close();
    for (const h of [hBig, hSlow, hDown, watcher]) await cp.api('DELETE', `/v1/webhooks/${h.id}`);
  }, 30_000);

  it('times out a slow receiver with a clear error', async () => {
    const slow = await receiver(
      () => '',
      () => ({ status: 200, delayMs: 3_000 }),
    );
    const hook = (
      await cp.api('POST', '/v1/webhooks', { url: slow.url, events: ['sub_account.created'] })
    ).body;
    await cp.api('POST', '/v1/sub-accounts', { name: 'slowpoke' });
    // The attempt is logged when it starts, its outcome when it ends: wait for the outcome.
    await waitFor(async () => {
      const d = (await cp.api('GET', `/v1/webhooks/${hook.id}/deliveries`)).body.data;
      return d[0]?.attempts[0]?.error?.startsWith('timed out') ?? false;
    }, 10_000);
    const d = (await cp.api('GET', `/v1/webhooks/${hook.id}/deliveries`)).body.data[0];
    expect(d.attempts[0]).toMatchObject({ status_code: null, error: 'timed out after 2000 ms' });
    // `at` is when the attempt started (the request went out), not when it timed out.
    const at = Date.parse(d.attempts[0].at);
    expect(d.attempts[0].duration_ms).toBeGreaterThanOrEqual(2_000);
    expect(Math.abs(at - slow.got[0]!.receivedAt)).toBeLessThan(500);
    await cp.api('DELETE', `/v1/webhooks/${hook.id}`);
    await slow.close();
  }, 20_000);

  it('an attempt cut off mid-flight (its control plane killed) stays in the log, REST and GraphQL', async () => {
    // The receiver hangs on the first request; it answers the redelivery.
    const rx = await receiver(
      () => '',
      (n) => (n === 0 ? { status: 200, delayMs: 60_000 } : { status: 200 }),
    );
    const hook = (
      await cp.api('POST', '/v1/webhooks', { url: rx.url, events: ['sub_account.created'] })
    ).body;
    await cp.events.dispatcher.stop();
    // Another control plane's dispatcher claims and sends attempt 1, and never settles it (as when
    // it is SIGKILLed mid-attempt: its timeout is far beyond this test).
    const killed = createWebhookDispatcher({
      prisma: t.db.prisma,
      secretKey: Buffer.alloc(32, 7),
      allowPrivateUrls: true,
      timeoutMs: 120_000,
    });
    let inFlight: Promise<number> | null = null;
    try {
      await cp.api('POST', '/v1/sub-accounts', { name: 'cut-off' });
      inFlight = killed.runOnce();
      await waitFor(() => rx.got.length >= 1);
      const row = await t.db.prisma.webhookDelivery.findFirstOrThrow({
        where: { endpointId: hook.id },
      });
      expect(row).toMatchObject({ attempts: 1, status: 'pending' });
      expect(row.nextAttemptAt.getTime()).toBeGreaterThan(Date.now());
      // The lease left by the dead control plane ends (~40 s later); another one redelivers.
      await t.db.prisma.webhookDelivery.update({
        where: { id: row.id },
        data: { nextAttemptAt: new Date() },
      });
      cp.events.dispatcher.start();
      const deliveries = async () =>
        (await cp.api('GET', `/v1/webhooks/${hook.id}/deliveries`)).body.data;
      await waitFor(async () => (await deliveries())[0]?.status === 'succeeded');
      expect(rx.got.map((g) => g.id)).toEqual([row.id, row.id]);
      const [d] = await deliveries();
      expect(d.attempts).toEqual([
        {
          attempt: 1,
          status_code: null,
          error: expect.stringMatching(/^no outcome recorded: .*control plane stopped/),
          response_excerpt: null,
          duration_ms: expect.any(Number),
          at: expect.any(String),
        },
        expect.objectContaining({ attempt: 2, status_code: 200, error: null }),
      ]);
      // Each attempt is logged at its start.
      for (const [i, a] of d.attempts.entries()) {
        expect(Math.abs(Date.parse(a.at) - rx.got[i]!.receivedAt)).toBeLessThan(500);
      }
      const res = await fetch(`${cp.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({
          query: `query ($id: ID!) { webhookDeliveries(webhookId: $id) {
            ... on WebhookDeliveryConnection { edges { node { attempts { attempt statusCode error } } } } } }`,
          variables: { id: hook.id },
        }),
      });
      const gql = (await res.json()) as {
        data: { webhookDeliveries: { edges: { node: { attempts: unknown[] } }[] } };
      };
      expect(gql.data.webhookDeliveries.edges[0]!.node.attempts).toEqual([
        { attempt: 1, statusCode: null, error: d.attempts[0].error },
        { attempt: 2, statusCode: 200, error: null },
      ]);
    } finally {
      cp.events.dispatcher.start();
      await rx.close();
      await inFlight;
      await cp.api('DELETE', `/v1/webhooks/${hook.id}`);
    }
  }, 30_000);

  it('GraphQL: update, rotate, replay and list deliveries, with typed errors', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are checked field by field
    const gql = async (query: string, variables: Record<string, unknown>): Promise<any> => {
      const res = await fetch(`${cp.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as unknown;
    };
    const ERR = '... on Error { __typename message } ... on ValidationError { field }';
    const rx = await receiver(
      () => '',
      () => ({ status: 200 }),
    );
    const created = await gql(
      `mutation ($url: String!) { createWebhook(url: $url, events: ["sub_account.created"]) {
        __typename ... on CreateWebhookPayload { secret endpoint { id status } } ${ERR} } }`,
      { url: rx.url },
    );
    const id = created.data.createWebhook.endpoint.id;
    const off = await gql(
      `mutation ($id: ID!) { updateWebhook(id: $id, status: disabled) {
        __typename ... on WebhookEndpoint { status } ${ERR} } }`,
      { id },
    );
    expect(off.data.updateWebhook).toEqual({ __typename: 'WebhookEndpoint', status: 'disabled' });
    const badEvents = await gql(
      `mutation ($id: ID!) { updateWebhook(id: $id, events: ["nope"]) { __typename ${ERR} } }`,
      { id },
    );
    expect(badEvents.data.updateWebhook.__typename).toBe('ValidationError');
    await gql(`mutation ($id: ID!) { updateWebhook(id: $id, status: enabled) { __typename } }`, {
      id,
    });
    await cp.api('POST', '/v1/sub-accounts', { name: 'gql-hooked' });
    await waitFor(() => rx.got.length >= 1);
    const rotated = await gql(
      `mutation ($id: ID!) { rotateWebhookSecret(id: $id) {
        __typename ... on CreateWebhookPayload { secret } ${ERR} } }`,
      { id },
    );
    expect(rotated.data.rotateWebhookSecret.secret).toMatch(/^whsec_/);
    const log = await gql(
      `query ($id: ID!) { webhookDeliveries(webhookId: $id) {
        __typename ... on WebhookDeliveryConnection { edges { node { id status attempts { attempt statusCode } } } } } }`,
      { id },
    );
    const delivery = log.data.webhookDeliveries.edges[0].node;
    await waitFor(async () => {
      const l = await gql(
        `query ($id: ID!) { webhookDeliveries(webhookId: $id) {
          ... on WebhookDeliveryConnection { edges { node { status } } } } }`,
        { id },
      );
      return l.data.webhookDeliveries.edges[0].node.status === 'succeeded';
    });
    const replayed = await gql(
      `mutation ($w: ID!, $d: ID!) { replayWebhookDelivery(webhookId: $w, deliveryId: $d) {
        __typename ... on WebhookDelivery { id status } ${ERR} } }`,
      { w: id, d: delivery.id },
    );
    expect(replayed.data.replayWebhookDelivery).toMatchObject({
      id: delivery.id,
      status: 'pending',
    });
    await waitFor(() => rx.got.length >= 2);
    const missing = await gql(
      `mutation ($w: ID!) { replayWebhookDelivery(webhookId: $w, deliveryId: "msg_nope") {
        __typename ${ERR} } }`,
      { w: id },
    );
    expect(missing.data.replayWebhookDelivery.__typename).toBe('NotFoundError');
    await cp.api('DELETE', `/v1/webhooks/${id}`);
    await rx.close();
  });

  it('refuses bad input with clear errors and changes nothing', async () => {
    const bad = [
      [{ url: 'not a url', events: ['sub_account.created'] }, 'url'],
      [{ url: 'ftp://example.com/x', events: ['sub_account.created'] }, 'url'],
      [{ url: 'https://example.com/x', events: ['sub_account.exploded'] }, 'events'],
      [{ url: 'https://example.com/x', events: [] }, 'events'],
    ] as const;
    for (const [body, param] of bad) {
      const r = await cp.api('POST', '/v1/webhooks', body);
      expect(r.status).toBe(400);
      expect(r.body.error.param ?? r.body.error.message).toContain(param);
    }
    const hook = (
      await cp.api('POST', '/v1/webhooks', {
        url: 'https://example.com/x',
        events: ['sub_account.created'],
      })
    ).body;
    expect((await cp.api('PATCH', `/v1/webhooks/${hook.id}`, { status: 'paused' })).status).toBe(
      400,
    );
    expect((await cp.api('PATCH', `/v1/webhooks/${hook.id}`, {})).status).toBe(400);
    expect((await cp.api('PATCH', `/v1/webhooks/${hook.id}`, { colour: 'red' })).status).toBe(400);
    expect(
      (await cp.api('POST', `/v1/webhooks/${hook.id}/deliveries/msg_nope/replay`)).status,
    ).toBe(404);
    expect((await cp.api('POST', '/v1/webhooks/wh_nope/rotate-secret')).status).toBe(404);
    await cp.api('DELETE', `/v1/webhooks/${hook.id}`);
  });
});

describe('webhooks: an endpoint failing across deliveries is disabled', () => {
  let t: Awaited<ReturnType<typeof openTestDatabase>>;
  let cp: EventPlane;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    // Far more attempts per delivery than the streak: only the streak can disable the endpoint.
    cp = await startEventPlane({
      prisma: t.db.prisma,
      webhooks: { maxAttempts: 1_000, maxConsecutiveFailures: 4, minFailingMs: 0 },
    });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    await t?.cleanup();
  });

  it('N failed attempts in a row across deliveries disable it with an event; a 2xx resets the count', async () => {
    let failing = true;
    const rx = await receiver(
      () => '',
      () => (failing ? { status: 503 } : { status: 200 }),
    );
    const watch = await receiver(
      () => '',
      () => ({ status: 200 }),
    );
    const hook = (
      await cp.api('POST', '/v1/webhooks', { url: rx.url, events: ['sub_account.created'] })
    ).body;
    await cp.api('POST', '/v1/webhooks', {
      url: watch.url,
      events: ['webhook.endpoint.disabled'],
    });
    const endpoint = () => cp.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: hook.id } });
    const deliveries = async () =>
      (await cp.api('GET', `/v1/webhooks/${hook.id}/deliveries`)).body.data;

    // Three failures (below N = 4), then a success: the streak starts over, still enabled.
    await cp.api('POST', '/v1/sub-accounts', { name: 'flaky-1' });
    await waitFor(() => rx.got.length >= 3);
    failing = false;
    await waitFor(async () => (await deliveries())[0]?.status === 'succeeded');
    expect(await endpoint()).toMatchObject({ status: 'enabled', consecutiveFailures: 0 });
    expect((await deliveries())[0].attempts.length).toBeGreaterThanOrEqual(4);

    // Failing again on two other deliveries: four failures in a row disable it, although no
    // delivery exhausted its schedule.
    failing = true;
    const seen = rx.got.length;
    await cp.api('POST', '/v1/sub-accounts', { name: 'flaky-2' });
    await cp.api('POST', '/v1/sub-accounts', { name: 'flaky-3' });
    await waitFor(async () => (await endpoint()).status === 'disabled', 10_000);
    expect(rx.got.length - seen).toBeGreaterThanOrEqual(4);
    const open = (await deliveries()).filter((d: { status: string }) => d.status !== 'succeeded');
    expect(open).toHaveLength(2);
    expect(open.every((d: { status: string }) => d.status === 'pending')).toBe(true);
    await waitFor(() => watch.got.length >= 1);
    expect(JSON.parse(watch.got[0]!.body)).toMatchObject({
      type: 'webhook.endpoint.disabled',
      data: { webhook_id: hook.id },
    });

    // Enabled again by the operator: the streak starts over, the pending deliveries go out.
    failing = false;
    const on = await cp.api('PATCH', `/v1/webhooks/${hook.id}`, { status: 'enabled' });
    expect(on.body.status).toBe('enabled');
    await waitFor(async () =>
      (await deliveries()).every((d: { status: string }) => d.status === 'succeeded'),
    );
    expect(await endpoint()).toMatchObject({ status: 'enabled', consecutiveFailures: 0 });
    await rx.close();
    await watch.close();
  }, 30_000);

  it('no 2xx for 5 days disables it on the next failure, however short the streak', async () => {
    const rx = await receiver(
      () => '',
      () => ({ status: 500 }),
    );
    const hook = (
      await cp.api('POST', '/v1/webhooks', { url: rx.url, events: ['sub_account.created'] })
    ).body;
    await cp.prisma.webhookEndpoint.update({
      where: { id: hook.id },
      data: { failingSince: new Date(Date.now() - 5 * 24 * 3_600_000 - 60_000) },
    });
    await cp.api('POST', '/v1/sub-accounts', { name: 'long-dead' });
    const endpoint = () => cp.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: hook.id } });
    await waitFor(async () => (await endpoint()).status === 'disabled');
    expect((await endpoint()).consecutiveFailures).toBeLessThan(4);
    await cp.api('DELETE', `/v1/webhooks/${hook.id}`);
    await rx.close();
  });
});

describe.skipIf(!pgAvailable())('webhooks: two control planes on one PostgreSQL', () => {
  it('delivers each event once per endpoint', async () => {
    const database = await createPgDatabase();
    const a = await openDatabase({ databaseUrl: database.url });
    const b = await openDatabase({ databaseUrl: database.url });
    const cpA = await startEventPlane({ prisma: a.prisma, consumer: 'a' });
    const cpB = await startEventPlane({ prisma: b.prisma, consumer: 'b' });
    const rx = await receiver(
      () => '',
      () => ({ status: 200, delayMs: 20 }),
    );
    try {
      const hook = (
        await cpA.api('POST', '/v1/webhooks', { url: rx.url, events: ['sub_account.created'] })
      ).body;
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 ? cpA : cpB).api('POST', '/v1/sub-accounts', { name: `n${i}` }),
        ),
      );
      await waitFor(() => rx.got.length >= 30, 20_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(rx.got).toHaveLength(30);
      expect(new Set(rx.got.map((g) => g.id)).size).toBe(30);
      // A delivery is marked after its 200 arrived: poll for the marks, bounded.
      const rowsOf = () => a.prisma.webhookDelivery.findMany({ where: { endpointId: hook.id } });
      await waitFor(async () => (await rowsOf()).every((r) => r.status === 'succeeded'), 10_000);
      const rows = await rowsOf();
      expect(rows).toHaveLength(30);
      expect(rows.every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true);
      // Each claim logged its attempt once, and the attempt's settle completed that entry.
      const logged = await a.prisma.webhookAttempt.findMany({
        where: { deliveryId: { in: rows.map((r) => r.id) } },
      });
      expect(logged).toHaveLength(30);
      expect(new Set(logged.map((l) => l.deliveryId)).size).toBe(30);
      expect(logged.every((l) => l.attempt === 1 && l.statusCode === 200 && !l.error)).toBe(true);
    } finally {
      await rx.close();
      await cpA.stop();
      await cpB.stop();
      await a.close();
      await b.close();
      await database.drop();
    }
  }, 60_000);
});
