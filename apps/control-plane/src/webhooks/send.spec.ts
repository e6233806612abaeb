import { describe, expect, it } from 'vitest';
import { sendWebhook } from './send.ts';
import { signWebhook } from './sign.ts';

describe('signWebhook', () => {
  it('matches the Standard Webhooks reference example', () => {
    const headers = signWebhook(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    expect(headers['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    expect(headers['webhook-timestamp']).toBe('1614265330');
  });
  it('signs with every secret given, space-separated, the first secret first', () => {
    const one = signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_1', 1, '{}');
    const other = signWebhook('whsec_b3RoZXItc2VjcmV0LWJ5dGVz', 'msg_1', 1, '{}');
    const both = signWebhook(
      ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_b3RoZXItc2VjcmV0LWJ5dGVz'],
      'msg_1',
      1,
      '{}',
    );
    expect(both['webhook-signature']).toBe(
      `${one['webhook-signature']} ${other['webhook-signature']}`,
    );
  });
});

describe('sendWebhook', () => {
  const opts = { timeoutMs: 1_000, excerptBytes: 64, allowPrivateUrls: false };
  it('refuses private, loopback and link-local receivers at delivery time', async () => {
    for (const url of [
      'http://127.0.0.1:9/x',
      'http://localhost:9/x',
      'http://[::1]:9/x',
      'http://169.254.169.254/',
    ]) {
      const r = await sendWebhook(url, {}, '{}', opts);
      expect(r).toMatchObject({ ok: false, statusCode: null });
      expect(r.error).toMatch(/^refused: /);
    }
  });
  it('reports a network error as a logged failure, never a throw', async () => {
    const r = await sendWebhook('http://127.0.0.1:9/x', {}, '{}', {
      ...opts,
      allowPrivateUrls: true,
    });
    expect(r.ok).toBe(false);
    expect(r.statusCode).toBeNull();
    expect(r.error).toBeTruthy();
  });
});
