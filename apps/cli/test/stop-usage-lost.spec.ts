import { createBus } from '@tollgate/bus';
import { redisAvailable, startPrivateRedis } from '@tollgate/testkit';
import { describe, expect, it } from 'vitest';
import { startFakeUpstream } from '../../data-plane/test/fake-upstream.ts';
import { CHEAP, encodedSnapshot, snapshot, subAccount } from '../../data-plane/test/harness.ts';
import { dataPlaneProcess, type Running } from './processes.ts';

const SECRET = Buffer.alloc(32, 5).toString('base64');

/**
 * `tollgate data-plane` stopped while Redis is away: the usage it could not hand over is retried
 * for a while, then lost — and the process says so with its exit code, for a supervisor to see
 * (SPEC §9: a stop flushes usage).
 */
describe.skipIf(!redisAvailable())('tollgate data-plane: usage lost at stop', () => {
  it('exits 1 and names the loss when its usage cannot reach Redis through the stop', async () => {
    const redis = await startPrivateRedis();
    const upstream = await startFakeUpstream();
    const prefix = 'stoplost';
    const bus = createBus({ redisUrl: redis.url, prefix });
    let dp: Running | undefined;
    try {
      const { body, keys } = snapshot(1, [subAccount('sa_free')]);
      await bus.policy.setLatest(encodedSnapshot(body), body.revision);
      dp = dataPlaneProcess({
        redisUrl: redis.url,
        prefix,
        secretKey: SECRET,
        upstreamUrl: upstream.url,
      });
      const url = await dp.listening('data');
      await redis.stop();
      // Unlimited: served with the limiter away; its usage record cannot reach the stream.
      const r = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.sa_free}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(r.status).toBe(200);
      await r.text();
      const code = await dp.stop();
      expect(code).toBe(1);
      expect(dp.stdout()).toContain('"msg":"usage events not delivered at stop"');
      expect(dp.stdout() + dp.stderr()).toContain('1 usage events could not be handed to Redis');
    } finally {
      await dp?.stop();
      await redis.restart();
      await bus.close();
      await redis.stop();
      await upstream.close();
    }
  }, 60_000);
});
