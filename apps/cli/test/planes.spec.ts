import { randomBytes } from 'node:crypto';
import { createPgDatabase, getFromAddress, pgAvailable, redisAvailable } from '@tollgate/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../../data-plane/test/fake-upstream.ts';
import { adminCaller, eventually, type Running, startEmbedded, tollgate } from './processes.ts';

const MODEL = 'openai/gpt-5.4-mini';
const ADMIN_KEY = `sk-tg-admin-${randomBytes(24).toString('hex')}`;

const call = adminCaller(ADMIN_KEY);

/** GET /v1/sub-accounts from a chosen loopback address (each address is its own client). */
const fromAddress = (localAddress: string, base: string, key: string) =>
  getFromAddress(localAddress, `${base}/v1/sub-accounts`, key);

const usageOf = async (base: string, id: string) =>
  (await call(base, 'GET', `/v1/sub-accounts/${id}/usage?window=24h`)).body;

describe('tollgate start: both planes in one process, embedded', () => {
  let upstream: FakeUpstream;
  let proc: Running;
  let dp: string;
  let cp: string;
  let env: Record<string, string>;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ env, upstream, proc, cp, dp, cleanup } = await startEmbedded('planes', {
      TOLLGATE_ADMIN_KEY: ADMIN_KEY,
      OPENAI_API_KEY: 'sk-upstream-platform-key',
      // The BYOK provider below is a fake on 127.0.0.1.
      TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: 'true',
    }));
  });
  afterAll(async () => {
    expect(await proc?.stop()).toBe(0);
    await cleanup?.();
  });

  it('serves the OpenAI SDK with a minted key, and spend shows up in the usage report', async () => {
    // One base URL serves both: the admin call goes through the data plane's port.
    const created = await call(dp, 'POST', '/v1/sub-accounts', {
      name: 'acme-corp',
      spend_cap_cents: 50000,
      rate_limit_rpm: 300,
      default_tag: 'acme',
    });
    expect(created.status).toBe(201);
    const client = new OpenAI({ baseURL: `${dp}/v1`, apiKey: created.body.key, maxRetries: 0 });

    const chat = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(chat.choices[0]?.message.content).toBeTruthy();
    const chunks: string[] = [];
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
    });
    for await (const c of stream) {
      expect(c.usage ?? null).toBeNull(); // the injected usage chunk never reaches this client
      chunks.push(c.choices[0]?.delta?.content ?? '');
    }
    expect(chunks.join('').length).toBeGreaterThan(0);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain(MODEL);

    // The upstream saw the platform key, the bare model name, and the usage request on the stream.
    const seen = upstream.received.filter((r) => r.path === '/v1/chat/completions');
    expect(seen).toHaveLength(2);
    expect(seen[0]!.headers.authorization).toBe('Bearer sk-upstream-platform-key');
    expect(seen[0]!.body?.model).toBe('gpt-5.4-mini');
    expect(seen[1]!.body?.stream_options).toEqual({ include_usage: true });

    const usage = await eventually(
      async () => {
        const u = await usageOf(cp, created.body.id);
        return u.summary.requests === 2 ? u : undefined;
      },
      5_000,
      'two requests in the usage report',
    );
    expect(usage.summary.input_tokens).toBe(24);
    expect(usage.summary.cost_cents).toBeGreaterThan(0);
    expect(usage.by_model).toEqual([expect.objectContaining({ model_id: MODEL, requests: 2 })]);
    const tags = await call(cp, 'GET', '/v1/usage/by-tag?window=24h&tag=acme');
    expect(tags.body).toEqual([expect.objectContaining({ tag: 'acme', requests: 2 })]);

    // Secrets never reach the logs: not the customer's key, the admin key or the provider key.
    const logs = proc.stdout() + proc.stderr();
    expect(logs).toContain('data plane listening');
    for (const secret of [created.body.key, ADMIN_KEY, 'sk-upstream-platform-key']) {
      expect(logs).not.toContain(secret);
    }
  });

  it('enforces the allow-list, the cap and revocation before anything reaches the upstream', async () => {
    const sa = (
      await call(cp, 'POST', '/v1/sub-accounts', { name: 'limited', allowed_models: [MODEL] })
    ).body;
    const client = new OpenAI({ baseURL: `${dp}/v1`, apiKey: sa.key, maxRetries: 0 });
    const before = upstream.hits();
    const denied = await client.chat.completions
      .create({ model: 'openai/gpt-5.4', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    expect(denied.status).toBe(403);
    expect(denied.code).toBe('model_not_allowed');
    expect(upstream.hits()).toBe(before);

    // A cap far below one request's cost: refused with the 402 body of SPEC §6 (propagated ≤ 1 s).
    expect(
      (await call(cp, 'PATCH', `/v1/sub-accounts/${sa.id}`, { spend_cap_cents: 0 })).status,
    ).toBe(200);
    const capped = await eventually(
      async () => {
        const e = await client.chat.completions
          .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })
          .catch((err) => err);
        return e?.status === 402 ? e : undefined;
      },
      1_000,
      'the new cap enforced',
    );
    expect(capped.error).toMatchObject({
      type: 'budget_exceeded',
      code: 'spend_cap_reached',
      scope: 'sub_account',
      cap_cents: 0,
    });
    // Once enforced, refused requests never reach the upstream.
    const hits = upstream.hits();

    const key2 = (await call(cp, 'POST', `/v1/sub-accounts/${sa.id}/keys`, {})).body;
    const revoked = new OpenAI({ baseURL: `${dp}/v1`, apiKey: key2.key, maxRetries: 0 });
    // The rotated key works first (so the 401 below is the revocation, not an unknown key).
    await eventually(
      async () => (await revoked.models.list().catch(() => undefined)) ?? undefined,
      1_000,
      'the new key known to the data plane',
    );
    expect((await call(cp, 'DELETE', `/v1/sub-accounts/${sa.id}/keys/${key2.id}`)).status).toBe(
      200,
    );
    const refused = await eventually(
      async () => {
        const e = await revoked.models.list().catch((err) => err);
        return e?.status === 401 ? e : undefined;
      },
      1_000,
      'the revoked key refused',
    );
    expect(refused.code).toBe('invalid_api_key');
    expect(upstream.hits()).toBe(hits);
  });

  it('serves a provider a workspace registered itself (BYOK key + base URL + price): chat, embeddings, responses', async () => {
    const own = await startFakeUpstream({ promptTokens: 20 });
    try {
      const key = await call(cp, 'POST', '/v1/provider-keys', {
        provider: 'together',
        api_key: 'tgk-workspace-own-key-123456',
        base_url: own.url,
      });
      expect(key.status).toBe(201);
      const price = await call(cp, 'POST', '/v1/prices', {
        model: 'together/llama-x',
        input_per_mtok_cents: 10,
        output_per_mtok_cents: 20,
      });
      expect(price.status).toBe(201);
      const sa = (await call(cp, 'POST', '/v1/sub-accounts', { name: 'byok-user' })).body;
      const client = new OpenAI({ baseURL: `${dp}/v1`, apiKey: sa.key, maxRetries: 0 });
      const chat = await eventually(
        async () =>
          client.chat.completions
            .create({ model: 'together/llama-x', messages: [{ role: 'user', content: 'hi' }] })
            .catch(() => undefined),
        1_000,
        'the registered provider reachable',
      );
      expect(chat.choices[0]?.message.content).toBeTruthy();
      const emb = await client.embeddings.create({ model: 'together/llama-x', input: 'hello' });
      expect(emb.data[0]?.embedding.length).toBeGreaterThan(0);
      const resp = await client.responses.create({ model: 'together/llama-x', input: 'hello' });
      expect(resp.output_text).toBeTruthy();
      const paths = own.received.map((r) => r.path);
      expect(paths).toEqual(
        expect.arrayContaining(['/v1/chat/completions', '/v1/embeddings', '/v1/responses']),
      );
      for (const r of own.received) {
        expect(r.headers.authorization).toBe('Bearer tgk-workspace-own-key-123456');
        expect(r.body?.model).toBe('llama-x');
      }
      expect(upstream.received.some((r) => r.body?.model === 'llama-x')).toBe(false);
      const usage = await eventually(
        async () => {
          const u = await usageOf(cp, sa.id);
          return u.summary.requests === 3 ? u : undefined;
        },
        5_000,
        'three requests in the usage report',
      );
      expect(usage.by_model).toEqual([
        expect.objectContaining({ model_id: 'together/llama-x', requests: 3 }),
      ]);
      expect(usage.summary.cost_cents).toBeGreaterThan(0);
    } finally {
      await own.close();
    }
  });

  it('GET /v1/sub-accounts/{id} shows what requests in flight reserve (reserved_cents), then 0', async () => {
    const sa = (
      await call(cp, 'POST', '/v1/sub-accounts', { name: 'in-flight', spend_cap_cents: 100 })
    ).body;
    const client = new OpenAI({ baseURL: `${dp}/v1`, apiKey: sa.key, maxRetries: 0 });
    upstream.options.delayMs = 1_500;
    try {
      const running = client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'slow' }],
        max_tokens: 50,
      });
      const held = await eventually(
        async () => {
          const r = (await call(cp, 'GET', `/v1/sub-accounts/${sa.id}`)).body;
          return r.reserved_cents > 0 ? r : undefined;
        },
        1_400,
        'the reservation of the request in flight shown',
      );
      expect(held.reserved_cents).toBeLessThanOrEqual(100);
      await running;
    } finally {
      upstream.options.delayMs = 0;
    }
    const after = await eventually(
      async () => {
        const r = (await call(cp, 'GET', `/v1/sub-accounts/${sa.id}`)).body;
        return r.reserved_cents === 0 && r.spent_cents > 0 ? r : undefined;
      },
      5_000,
      'the reservation settled into spend',
    );
    expect(after.spent_cents).toBeLessThanOrEqual(100);
  });

  it("one client's failed admin logins through the data plane throttle that client, not everyone", async () => {
    // Admin calls through port 8080 reach the control plane from the data plane's address; the
    // data plane appends its client to x-forwarded-for, which the control plane believes from
    // loopback (TOLLGATE_TRUSTED_PROXIES' default). Clients: 127.0.0.2 (typos) and 127.0.0.3.
    for (let i = 0; i < 30; i++) {
      expect((await fromAddress('127.0.0.2', dp, `not-a-key-${i}`)).status).toBe(401);
    }
    const blocked = await fromAddress('127.0.0.2', dp, ADMIN_KEY);
    expect(blocked).toMatchObject({ status: 429, code: 'too_many_auth_failures' });
    // The same client straight at the control plane is the same client.
    expect((await fromAddress('127.0.0.2', cp, ADMIN_KEY)).status).toBe(429);
    // Another client through the same data plane is not affected.
    expect((await fromAddress('127.0.0.3', dp, ADMIN_KEY)).status).toBe(200);
  });

  it('drains and flushes usage on SIGTERM: requests just served are all in the books after a restart', async () => {
    const sa = (await call(cp, 'POST', '/v1/sub-accounts', { name: 'last-ones' })).body;
    const client = new OpenAI({ baseURL: `${dp}/v1`, apiKey: sa.key, maxRetries: 0 });
    // A burst just before the signal: its usage is still in the in-process stream when it comes.
    const burst = 300;
    await Promise.all(
      Array.from({ length: burst }, () =>
        client.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: 'bye' }],
        }),
      ),
    );
    expect(await proc.stop()).toBe(0);
    expect(proc.stdout()).not.toContain('usage not all ingested');
    proc = tollgate(['start'], env);
    cp = await proc.listening('control');
    dp = await proc.listening('data');
    const usage = await usageOf(cp, sa.id);
    expect(usage.summary.requests).toBe(burst);
    expect(usage.summary.cost_cents).toBeGreaterThan(0);
  });
});

describe.skipIf(!pgAvailable() || !redisAvailable())(
  'separate processes: one control plane and two data planes on PostgreSQL + Redis',
  () => {
    let upstream: FakeUpstream;
    let db: { url: string; drop(): Promise<void> };
    const procs: Running[] = [];
    let cp: string;
    let dps: string[];
    beforeAll(async () => {
      upstream = await startFakeUpstream();
      db = await createPgDatabase();
      const shared = {
        DATABASE_URL: db.url,
        REDIS_URL: 'redis://127.0.0.1:6379',
        TOLLGATE_REDIS_PREFIX: `tgcli${randomBytes(4).toString('hex')}`,
        TOLLGATE_SECRET_KEY: randomBytes(32).toString('base64'),
        TOLLGATE_ADMIN_KEY: ADMIN_KEY,
        OPENAI_BASE_URL: upstream.url,
        TOLLGATE_CONTROL_PLANE_PORT: '0',
        TOLLGATE_DATA_PLANE_PORT: '0',
      };
      const control = tollgate(['control-plane'], shared);
      procs.push(control);
      cp = await control.listening('control');
      const planes = [0, 1].map(() =>
        tollgate(['data-plane'], { ...shared, TOLLGATE_CONTROL_PLANE_URL: cp }),
      );
      procs.push(...planes);
      dps = await Promise.all(planes.map((p) => p.listening('data')));
    });
    afterAll(async () => {
      for (const p of procs.reverse()) expect(await p.stop()).toBe(0);
      await upstream?.close();
      await db?.drop();
    });

    it('a separate control plane logs JSON lines only (SPEC §9)', () => {
      const lines = procs[0]!
        .stdout()
        .split('\n')
        .filter((l) => l.trim() !== '');
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.filter((l) => !l.startsWith('{'))).toEqual([]);
    });

    it('serves through either data plane, records usage once, and suspends everywhere within 1 s', async () => {
      const sa = (
        await call(dps[0]!, 'POST', '/v1/sub-accounts', { name: 'scaled', rate_limit_rpm: 1000 })
      ).body;
      expect(sa.key).toMatch(/^sk-tg-/);
      const clients = dps.map(
        (d) => new OpenAI({ baseURL: `${d}/v1`, apiKey: sa.key, maxRetries: 0 }),
      );
      // The new key reaches both data planes through the policy push.
      for (const c of clients) {
        await eventually(
          async () => (await c.models.list().catch(() => undefined)) ?? undefined,
          1_000,
          'the new key known to a data plane',
        );
        await c.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: 'hello' }],
        });
      }
      await eventually(
        async () => ((await usageOf(cp, sa.id)).summary.requests === 2 ? true : undefined),
        5_000,
        'both requests ingested from the Redis stream',
      );

      const patched = await call(cp, 'PATCH', `/v1/sub-accounts/${sa.id}`, { status: 'suspended' });
      expect(patched.status).toBe(200);
      await Promise.all(
        clients.map((c) =>
          eventually(
            async () => {
              const e = await c.chat.completions
                .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })
                .catch((err) => err);
              return e?.status === 403 ? e : undefined;
            },
            1_000,
            'suspension enforced on a data plane',
          ),
        ),
      );
      // Once enforced, nothing more reaches the upstream from either plane.
      const hits = upstream.hits();
      for (const c of clients) {
        const e = await c.chat.completions
          .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })
          .catch((err) => err);
        expect(e.status).toBe(403);
        expect(e.code).toBe('sub_account_suspended');
      }
      expect(upstream.hits()).toBe(hits);
    });

    it('holds the cap under 500 concurrent requests spread over both data-plane processes', async () => {
      // ~54 µ$ per request (12 prompt + 10 output tokens); 1 700 µ$ pays for ~30 of them, while
      // each request's worst case (max_tokens 40) reserves ~200 µ$, so the tail gets clamped.
      const CAP_MICROS = 1_700;
      const sa = (
        await call(cp, 'POST', '/v1/sub-accounts', {
          name: 'burst',
          spend_cap_cents: CAP_MICROS / 10_000,
        })
      ).body;
      const probe = new OpenAI({ baseURL: `${dps[1]}/v1`, apiKey: sa.key, maxRetries: 0 });
      await eventually(
        async () => (await probe.models.list().catch(() => undefined)) ?? undefined,
        1_000,
        'the burst key known to the data planes',
      );
      const before = upstream.hits();
      const seenBefore = upstream.received.length;
      const N = 500;
      /** One chat request (max_tokens 40) to data plane `i % 2`; answers its status. */
      const send = async (i: number) => {
        const res = await fetch(`${dps[i % 2]}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${sa.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: MODEL,
            max_tokens: 40,
            messages: [{ role: 'user', content: 'x' }],
          }),
        });
        await res.arrayBuffer();
        return res.status;
      };
      const statuses = await Promise.all(Array.from({ length: N }, (_, i) => send(i)));
      const served = statuses.filter((st) => st === 200).length;
      const blocked = statuses.filter((st) => st === 402).length;
      // 503 = a Redis command timed out on a starved machine: failed closed, never overspends.
      const unavailable = statuses.filter((st) => st === 503).length;
      expect(served + blocked + unavailable).toBe(N);
      expect(unavailable).toBeLessThan(N / 10);
      expect(served).toBeGreaterThan(0);
      expect(blocked).toBeGreaterThan(0);
      // Blocked requests never reached the upstream.
      expect(upstream.hits() - before).toBe(served);
      // Then one request at a time, alternating planes, until one is refused: the budget left now
      // only falls by a request's cost (~54 µ$) per request, so it must pass through the band
      // where the minimum fits but the worst case (~197 µ$) does not (89–197 µ$) — whether or not
      // the burst happened to land an admission in it (that depends on how settles interleave).
      // A burst request's settle follows its answer: on a busy machine some still hold their
      // reservation now, and the tail would read a budget lower than it is.
      await eventually(
        async () => {
          const r = (await call(cp, 'GET', `/v1/sub-accounts/${sa.id}`)).body;
          return r.reserved_cents === 0 ? r : undefined;
        },
        10_000,
        'every burst request settled',
      );
      const tail: number[] = [];
      while (tail.at(-1) !== 402 && tail.length < 40) tail.push(await send(tail.length));
      expect(tail.at(-1)).toBe(402);
      const tailServed = tail.filter((st) => st === 200).length;
      expect(upstream.hits() - before).toBe(served + tailServed);
      // The clamp lowered max_tokens where only part of the worst case fitted.
      const bounds = upstream.received
        .slice(seenBefore)
        .map((r) => r.body?.max_tokens ?? r.body?.max_completion_tokens);
      expect(bounds.some((b) => typeof b === 'number' && b < 40)).toBe(true);

      // Every request leaves exactly one record; the books never exceed the cap.
      const total = N + tail.length;
      const usage = await eventually(
        async () => {
          const u = await usageOf(cp, sa.id);
          return u.summary.requests === total ? u : undefined;
        },
        15_000,
        'every record ingested',
      );
      const tailRefused = tail.length - tailServed;
      expect(usage.summary.blocked).toBe(blocked + unavailable + tailRefused);
      expect(usage.summary.cost_cents * 10_000).toBeLessThanOrEqual(CAP_MICROS);
      const after = (await call(cp, 'GET', `/v1/sub-accounts/${sa.id}`)).body;
      expect(after.spent_cents * 10_000).toBeLessThanOrEqual(CAP_MICROS);
      expect(after.spent_cents).toBe(usage.summary.cost_cents);
    });

    it('refuses to start a data plane without REDIS_URL, naming it', async () => {
      const p = tollgate(['data-plane'], {
        TOLLGATE_SECRET_KEY: randomBytes(32).toString('base64'),
      });
      const code = await new Promise<number | null>((r) => p.child.once('exit', r));
      expect(code).toBe(1);
      expect(p.stderr()).toMatch(/REDIS_URL/);
    });
  },
);
