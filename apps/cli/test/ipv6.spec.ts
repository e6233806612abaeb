import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { adminCaller, startEmbedded } from './processes.ts';

const ADMIN_KEY = `sk-tg-admin-${randomBytes(24).toString('hex')}`;

/** `TOLLGATE_HOST=::1`: both planes listen on IPv6 loopback; the data plane reaches the control
 * plane (admin paths through one base URL) at a bracketed address. */
describe('tollgate start on an IPv6 host', () => {
  it('serves admin paths through the data plane, and logs usable URLs', async () => {
    const { proc, cp, dp, cleanup } = await startEmbedded('ipv6', {
      TOLLGATE_HOST: '::1',
      TOLLGATE_ADMIN_KEY: ADMIN_KEY,
    });
    try {
      expect(cp).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect(dp).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const call = adminCaller(ADMIN_KEY);
      const created = await call(dp, 'POST', '/v1/sub-accounts', { name: 'v6' });
      expect(created.status).toBe(201);
      expect((await call(cp, 'GET', `/v1/sub-accounts/${created.body.id}`)).status).toBe(200);
    } finally {
      expect(await proc.stop()).toBe(0);
      await cleanup();
    }
  });
});
