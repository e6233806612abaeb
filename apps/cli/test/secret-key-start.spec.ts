import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { adminCaller, startEmbedded, tollgate } from './processes.ts';

const ADMIN_KEY = `sk-tg-admin-${randomBytes(24).toString('hex')}`;
const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const BYOK = `sk-byok-${randomBytes(16).toString('hex')}`;

// A TOLLGATE_SECRET_KEY that cannot open the database's sealed secrets (a typo, another
// environment's key) stops start-up with one line naming it — before, the planes said ready and
// every BYOK request answered 502.
it('tollgate start refuses a secret key other than the one the database was sealed with', async () => {
  const first = await startEmbedded('sealed', {
    TOLLGATE_ADMIN_KEY: ADMIN_KEY,
    TOLLGATE_SECRET_KEY: KEY_A,
  });
  try {
    const sealed = await adminCaller(ADMIN_KEY)(first.cp, 'POST', '/v1/provider-keys', {
      provider: 'openai',
      api_key: BYOK,
    });
    expect(sealed.status).toBe(201);
    expect(await first.proc.stop()).toBe(0);

    const wrong = tollgate(['start'], { ...first.env, TOLLGATE_SECRET_KEY: KEY_B });
    const code = await new Promise<number | null>((resolve) => {
      if (wrong.child.exitCode !== null) resolve(wrong.child.exitCode);
      else wrong.child.once('exit', (c) => resolve(c));
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(code, wrong.stderr() + wrong.stdout()).toBe(1);
    const lines = wrong
      .stderr()
      .split('\n')
      .filter((l) => l !== '');
    expect(lines).toEqual([
      'tollgate: TOLLGATE_SECRET_KEY: not the key the provider keys and webhook secrets in this database were sealed with',
    ]);
    expect(wrong.stdout()).not.toContain('listening');
    const all = wrong.stdout() + wrong.stderr() + first.proc.stdout() + first.proc.stderr();
    for (const secret of [KEY_A, KEY_B, BYOK, ADMIN_KEY]) expect(all).not.toContain(secret);

    // The right key starts it again.
    const right = tollgate(['start'], first.env);
    try {
      await right.listening('data');
    } finally {
      expect(await right.stop()).toBe(0);
    }
  } finally {
    await first.proc.stop();
    await first.cleanup();
  }
}, 240_000);
