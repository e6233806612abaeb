import { randomBytes } from 'node:crypto';
import { parseExposition } from '@tollgate/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeUpstream } from '../../data-plane/test/fake-upstream.ts';
import { adminCaller, eventually, type Running, startEmbedded } from './processes.ts';

const ADMIN_KEY = `sk-tg-admin-${randomBytes(24).toString('hex')}`;
const ROOT_KEY = `root-${randomBytes(24).toString('hex')}`;
const METRICS_TOKEN = `metrics-${randomBytes(12).toString('hex')}`;
const PLATFORM_KEY = `sk-platform-${randomBytes(16).toString('hex')}`;
const BYOK_KEY = `sk-byok-${randomBytes(16).toString('hex')}`;
/** The value of a mistyped variable: it may be a secret, so only its name is ever logged. */
const MISTYPED_VALUE = `mistyped-${randomBytes(16).toString('hex')}`;

const call = adminCaller(ADMIN_KEY);

async function scrape(base: string) {
  const res = await fetch(`${base}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

describe('tollgate start: metrics, health and logs of both planes', () => {
  let upstream: FakeUpstream;
  let proc: Running;
  let dp: string;
  let cp: string;
  let cleanup: (() => Promise<void>) | undefined;
  const secrets: string[] = [
    ADMIN_KEY,
    ROOT_KEY,
    METRICS_TOKEN,
    PLATFORM_KEY,
    BYOK_KEY,
    MISTYPED_VALUE,
  ];
  beforeAll(async () => {
    ({ upstream, proc, cp, dp, cleanup } = await startEmbedded('obs', {
      TOLLGATE_ADMIN_KEY: ADMIN_KEY,
      TOLLGATE_ROOT_KEY: ROOT_KEY,
      TOLLGATE_METRICS_TOKEN: METRICS_TOKEN,
      TOLLGATE_LOG_LEVEL: 'debug',
      OPENAI_API_KEY: PLATFORM_KEY,
      TOLLGATE_METRIC_TOKEN: MISTYPED_VALUE,
    }));
  });
  afterAll(async () => {
    expect(await proc?.stop()).toBe(0);
    await cleanup?.();
  });

  it('counts real traffic on both planes; request ids in the logs; no secret is ever logged', async () => {
    // /metrics takes the metrics token when one is configured.
    expect((await fetch(`${cp}/metrics`)).status).toBe(401);
    expect((await fetch(`${dp}/metrics`)).status).toBe(401);
    const cpBefore = await scrape(cp);

    const created = await call(cp, 'POST', '/v1/sub-accounts', { name: 'obs-co' });
    expect(created.status).toBe(201);
    const subKey: string = created.body.key;
    secrets.push(subKey);
    // A workspace key for openai (BYOK) replaces the platform key upstream.
    expect(
      (await call(cp, 'POST', '/v1/provider-keys', { provider: 'openai', api_key: BYOK_KEY }))
        .status,
    ).toBe(201);
    expect((await call(cp, 'GET', '/v1/workspaces', undefined, ROOT_KEY)).status).toBe(200);
    expect((await call(cp, 'GET', '/v1/sub-accounts', undefined, `${ADMIN_KEY}x`)).status).toBe(
      401,
    );

    // The BYOK key reaches the data plane through the policy; wait until it is used.
    const chat = await eventually(
      async () => {
        const r = await call(
          dp,
          'POST',
          '/v1/chat/completions',
          { model: 'openai/gpt-5.4-mini', messages: [{ role: 'user', content: 'hi' }] },
          subKey,
        );
        expect(r.status).toBe(200);
        const last = upstream.received.at(-1);
        return last?.headers.authorization === `Bearer ${BYOK_KEY}` ? r : undefined;
      },
      10_000,
      'the BYOK key in force',
    );
    const requestId = chat.headers.get('x-request-id');
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/);
    // A client's own request id is logged beside ours, on a forwarded (served) request too.
    const tagged = await fetch(`${dp}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${subKey}`,
        'content-type': 'application/json',
        'x-request-id': 'client-abc-123',
      },
      body: JSON.stringify({
        model: 'openai/gpt-5.4-mini',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(tagged.status).toBe(200);
    const taggedId = tagged.headers.get('x-request-id');
    const refused = await call(
      dp,
      'POST',
      '/v1/chat/completions',
      { model: 'openai/gpt-5.4-mini' },
      'sk-tg-not-a-key',
    );
    expect(refused.status).toBe(401);

    // Control plane: REST requests by status, the failed authentication, ingestion, policy, queues.
    const cpAfter = await eventually(
      async () => {
        const m = await scrape(cp);
        return m.value('tollgate_cp_usage_events_ingested_total') >= 1 ? m : undefined;
      },
      10_000,
      'usage ingested',
    );
    const rest = (m: typeof cpAfter, method: string, status: string) =>
      m.value('tollgate_cp_requests_total', { api: 'rest', method, status });
    expect(rest(cpAfter, 'POST', '201') - rest(cpBefore, 'POST', '201')).toBe(2);
    expect(rest(cpAfter, 'GET', '200') - rest(cpBefore, 'GET', '200')).toBe(1);
    expect(rest(cpAfter, 'GET', '401') - rest(cpBefore, 'GET', '401')).toBe(1);
    expect(cpAfter.value('tollgate_cp_auth_failures_total')).toBe(
      cpBefore.value('tollgate_cp_auth_failures_total') + 1,
    );
    expect(cpAfter.value('tollgate_cp_policy_revision_published')).toBeGreaterThanOrEqual(3);
    expect(cpAfter.value('tollgate_cp_webhook_deliveries_pending')).toBe(0);
    expect(cpAfter.types.get('tollgate_cp_ingest_lag_seconds')).toBe('gauge');
    expect(cpAfter.value('tollgate_cp_usage_stream_pending')).toBe(0);

    // Data plane: the served request and the refused one.
    const dpm = await scrape(dp);
    expect(
      dpm.value('tollgate_dp_requests_total', { endpoint: 'chat', status: '200', reason: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      dpm.value('tollgate_dp_requests_total', { endpoint: 'chat', status: '401', reason: 'auth' }),
    ).toBe(1);
    expect(dpm.value('tollgate_dp_policy_revision')).toBe(
      cpAfter.value('tollgate_cp_policy_revision_published'),
    );

    // Health: both planes ready, the control plane naming its database check.
    const ready = await fetch(`${cp}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: { ok: true } } });
    expect((await fetch(`${dp}/readyz`)).status).toBe(200);

    // Logs: JSON lines; the data plane's request lines carry the request id.
    const lines = proc
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = lines.find((l) => l.msg === 'request' && l.requestId === requestId);
    expect(mine).toMatchObject({
      level: 'info',
      status: 200,
      reason: 'ok',
      path: '/v1/chat/completions',
    });
    expect(lines.some((l) => l.msg === 'request' && l.status === 401 && l.reason === 'auth')).toBe(
      true,
    );
    expect(lines.find((l) => l.msg === 'request' && l.requestId === taggedId)).toMatchObject({
      status: 200,
      clientRequestId: 'client-abc-123',
    });
    // A mistyped setting is named, with what it likely meant, once.
    expect(
      lines.filter(
        (l) => l.msg === 'TOLLGATE_METRIC_TOKEN is not a Tollgate setting and is ignored',
      ),
    ).toEqual([expect.objectContaining({ level: 'warn', meant: 'TOLLGATE_METRICS_TOKEN' })]);
    const all = proc.stdout() + proc.stderr();
    for (const secret of secrets) expect(all).not.toContain(secret);
    expect(all).not.toMatch(/Bearer\s/i);
    expect(all).not.toContain(subKey.slice(0, 30));
  });

  it('a workspace created while running is set up without a false "Redis lost" alarm', async () => {
    const made = await call(cp, 'POST', '/v1/workspaces', { name: 'later' }, ROOT_KEY);
    expect(made.status).toBe(201);
    secrets.push(made.body.admin_key);
    const line = await eventually(
      async () =>
        proc
          .stdout()
          .split('\n')
          .find((l) => l.includes(made.body.id) && l.includes('spend counters')),
      10_000,
      'the new workspace counters set up',
    );
    expect(JSON.parse(line)).toMatchObject({
      level: 'info',
      msg: 'spend counters set up (nothing spent this period)',
    });
    expect(proc.stdout()).not.toContain('lost by Redis');
  });
});
