import { encodeSnapshot, type PolicySnapshotBody } from '@tollgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRESH_KEY_WAIT_MS } from '../src/http/request.ts';
import { CHEAP, type Harness, snapshot, startHarness, subAccount } from './harness.ts';

const req = { model: CHEAP, messages: [{ role: 'user' as const, content: 'x' }], max_tokens: 1 };

describe('data plane: policy propagation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      subs: [subAccount('sa_a'), subAccount('sa_b', { rateLimitRpm: 300 })],
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('suspend, revoke and cap changes apply from the announcement', async () => {
    await h.client('sa_a').chat.completions.create(req);
    const { body } = snapshot(
      2,
      [subAccount('sa_a', { status: 'suspended' }), subAccount('sa_b', { rateLimitRpm: 300 })],
      {
        revokedKeys: ['sa_b'],
      },
    );
    await h.publish(body);
    const e1 = await h
      .client('sa_a')
      .chat.completions.create(req)
      .catch((e) => e);
    expect(e1.status).toBe(403);
    const e2 = await h
      .client('sa_b')
      .chat.completions.create(req)
      .catch((e) => e);
    expect(e2.status).toBe(401);
    // A key that is not accepted learns nothing of its sub-account (its limits included).
    expect([...e2.headers.keys()].filter((k: string) => k.startsWith('x-ratelimit'))).toEqual([]);
  });

  it('an unreadable announcement keeps the last good policy; a missed one is recovered', async () => {
    const rev = h.planes[0]!.policyRevision();
    await h.bus.policy.publish(rev + 1, '{"version":1,"broken":true}');
    await new Promise((r) => setTimeout(r, 50));
    expect(h.planes[0]!.policyRevision()).toBe(rev);
    // A snapshot stored as latest but never announced (a dropped message) …
    const { body } = snapshot(rev + 5, [subAccount('sa_a'), subAccount('sa_b')]);
    await h.bus.policy.setLatest(encodeSnapshot(body), body.revision);
    // … is picked up on the next announcement that reveals a gap (here: a bare announcement).
    await h.bus.policy.publish(rev + 6, '');
    const deadline = Date.now() + 1_000;
    while (h.planes[0]!.policyRevision() < rev + 5 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(h.planes[0]!.policyRevision()).toBe(rev + 5);
    const ok = await h.client('sa_a').chat.completions.create(req);
    expect(ok.choices.length).toBe(1);
  });

  it('a tampered latest snapshot is refused and the policy held stays', async () => {
    const rev = h.planes[0]!.policyRevision();
    const { body } = snapshot(rev + 1, [subAccount('sa_a', { status: 'suspended' })]);
    const text = encodeSnapshot(body).replace('"suspended"', '"active"');
    await h.bus.policy.setLatest(text, body.revision);
    await h.planes[0]!.refreshPolicy();
    expect(h.planes[0]!.policyRevision()).toBe(rev);
  });
});

describe('data plane: a key minted moments ago', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ subs: [subAccount('sa_old')] });
  });
  afterAll(async () => {
    await h.close();
  });
  const chat = (key: string) =>
    fetch(`${h.urls[0]}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(req),
    });

  /** Stores and announces `body` 200 ms from now, as the control plane would after a mint. */
  const announceLater = async (body: PolicySnapshotBody) => {
    await new Promise((r) => setTimeout(r, 200));
    const text = encodeSnapshot(body);
    await h.bus.policy.setLatest(text, body.revision);
    await h.bus.policy.publish(body.revision, text);
  };

  it('is served on its first request: the request waits for the policy that holds it', async () => {
    const rev = h.planes[0]!.policyRevision();
    const { body, keys } = snapshot(rev + 1, [subAccount('sa_old'), subAccount('sa_new')]);
    // The customer's first request arrives before the policy holding its key.
    const first = chat(keys.sa_new!);
    await announceLater(body);
    const res = await first;
    expect(res.status).toBe(200);
    expect((await res.json()).choices).toHaveLength(1);
  });

  it('lists its models on its first request too', async () => {
    const rev = h.planes[0]!.policyRevision();
    const { body, keys } = snapshot(rev + 1, [
      subAccount('sa_old'),
      subAccount('sa_new'),
      subAccount('sa_newer', { allowedModels: [CHEAP] }),
    ]);
    const first = fetch(`${h.urls[0]}/v1/models`, {
      headers: { authorization: `Bearer ${keys.sa_newer}` },
    });
    await announceLater(body);
    const res = await first;
    expect(res.status).toBe(200);
    expect((await res.json()).data.map((m: { id: string }) => m.id)).toEqual([CHEAP]);
  });

  it('a key no policy holds is still refused, within the wait; admin keys and garbage at once', async () => {
    const t0 = Date.now();
    const unknown = await chat(`sk-tg-${'u'.repeat(43)}`);
    expect(unknown.status).toBe(401);
    expect(Date.now() - t0).toBeLessThan(FRESH_KEY_WAIT_MS + 1_000);
    for (const key of [`sk-tg-admin-${'a'.repeat(43)}`, 'not-a-key']) {
      const t1 = Date.now();
      expect((await chat(key)).status).toBe(401);
      expect(Date.now() - t1).toBeLessThan(FRESH_KEY_WAIT_MS / 2);
    }
  });
});
