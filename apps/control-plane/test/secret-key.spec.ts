import { checkSecretKey } from '@tollgate/control-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, skipKind, startHarness } from './harness.ts';

describe.each(KINDS)('TOLLGATE_SECRET_KEY check on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (!skipKind(kind)) h = await startHarness(kind);
  });
  afterAll(async () => h?.close());

  it.skipIf(skipKind(kind))(
    'a key that cannot open the sealed secrets is refused, naming the variable; the right one passes',
    async () => {
      // Nothing sealed yet: any key passes (nothing to tell them apart by).
      await expect(checkSecretKey(h.prisma, Buffer.alloc(32, 1))).resolves.toBeUndefined();
      const hook = await h.api('POST', '/v1/webhooks', {
        url: 'https://hooks.example.com/tollgate',
        events: ['sub_account.created'],
      });
      expect(hook.status).toBe(201);
      await expect(checkSecretKey(h.prisma, Buffer.alloc(32, 1))).rejects.toThrow(
        /^TOLLGATE_SECRET_KEY: not the key the provider keys and webhook secrets in this database were sealed with$/,
      );
      await expect(checkSecretKey(h.prisma, Buffer.alloc(32, 7))).resolves.toBeUndefined();
      const key = await h.api('POST', '/v1/provider-keys', {
        provider: 'openai',
        api_key: 'sk-byok-secret-check',
      });
      expect(key.status).toBe(201);
      await expect(checkSecretKey(h.prisma, Buffer.alloc(32, 2))).rejects.toThrow(
        /^TOLLGATE_SECRET_KEY: /,
      );
      await expect(checkSecretKey(h.prisma, Buffer.alloc(32, 7))).resolves.toBeUndefined();
    },
  );
});
