import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv, unknownVariables } from '../src/env.ts';

describe('configuration (SPEC §2)', () => {
  it('has the documented defaults', () => {
    const env = parseEnv({});
    expect(env).toMatchObject({
      TOLLGATE_DATA_DIR: './.tollgate',
      TOLLGATE_DATA_PLANE_PORT: 8080,
      TOLLGATE_CONTROL_PLANE_PORT: 4000,
      TOLLGATE_REDIS_PREFIX: 'tg',
      TOLLGATE_BUDGET_WARNING_PERCENTS: [0.8],
    });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
  });

  it('reads warning thresholds as sorted, unique fractions', () => {
    expect(
      parseEnv({ TOLLGATE_BUDGET_WARNING_PERCENTS: '95, 50,80,50' })
        .TOLLGATE_BUDGET_WARNING_PERCENTS,
    ).toEqual([0.5, 0.8, 0.95]);
  });

  it('names every bad variable at once and never echoes a secret', () => {
    const secret = 'not-base64-32-bytes-SECRET';
    let error: unknown;
    try {
      parseEnv({
        DATABASE_URL: 'mysql://x',
        TOLLGATE_SECRET_KEY: secret,
        TOLLGATE_DATA_PLANE_PORT: '70000',
        TOLLGATE_BUDGET_WARNING_PERCENTS: '80,120',
        TOLLGATE_REDIS_PREFIX: 'has space',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvError);
    const { problems } = error as EnvError;
    for (const name of [
      'DATABASE_URL',
      'TOLLGATE_SECRET_KEY',
      'TOLLGATE_DATA_PLANE_PORT',
      'TOLLGATE_BUDGET_WARNING_PERCENTS',
      'TOLLGATE_REDIS_PREFIX',
    ]) {
      expect(problems.some((p) => p.includes(name))).toBe(true);
    }
    expect(problems.join('\n')).not.toContain(secret);
    expect(problems).toContain(
      'invalid configuration: TOLLGATE_DATA_PLANE_PORT must be a port number (0-65535; 0: any free port)',
    );
  });

  it('reads what to do while Redis is down and the reservation TTL, refusing bad values', () => {
    expect(parseEnv({})).toMatchObject({
      TOLLGATE_REDIS_DOWN: 'fail-closed',
      TOLLGATE_RESERVATION_TTL_SECONDS: 600,
    });
    expect(
      parseEnv({ TOLLGATE_REDIS_DOWN: 'fail-open', TOLLGATE_RESERVATION_TTL_SECONDS: '30' }),
    ).toMatchObject({ TOLLGATE_REDIS_DOWN: 'fail-open', TOLLGATE_RESERVATION_TTL_SECONDS: 30 });
    for (const [name, value] of [
      ['TOLLGATE_REDIS_DOWN', 'open'],
      ['TOLLGATE_RESERVATION_TTL_SECONDS', '2'],
      ['TOLLGATE_RESERVATION_TTL_SECONDS', '1.5'],
      ['TOLLGATE_RESERVATION_TTL_SECONDS', 'ten'],
    ]) {
      expect(() => parseEnv({ [name!]: value })).toThrow(name);
    }
  });

  it('reads the proxies whose x-forwarded-for is believed (loopback by default), naming a bad entry', () => {
    expect(parseEnv({}).TOLLGATE_TRUSTED_PROXIES.check('127.0.0.1')).toBe(true);
    expect(parseEnv({}).TOLLGATE_TRUSTED_PROXIES.check('10.0.0.1')).toBe(false);
    const set = parseEnv({
      TOLLGATE_TRUSTED_PROXIES: '10.0.0.0/8,fd00::/8',
    }).TOLLGATE_TRUSTED_PROXIES;
    expect(set.check('10.20.30.40')).toBe(true);
    expect(set.check('fd00::1', 'ipv6')).toBe(true);
    expect(set.check('127.0.0.1')).toBe(false);
    expect(
      parseEnv({ TOLLGATE_TRUSTED_PROXIES: 'none' }).TOLLGATE_TRUSTED_PROXIES.check('127.0.0.1'),
    ).toBe(false);
    expect(() => parseEnv({ TOLLGATE_TRUSTED_PROXIES: '10.0.0.0/8,proxy.internal' })).toThrow(
      /TOLLGATE_TRUSTED_PROXIES 'proxy.internal' is not an address/,
    );
  });

  it('takes an admin key of 32 random bytes or more (43 base62 characters), refusing a shorter one', () => {
    const key = (n: number) => `sk-tg-admin-${'aB3'.repeat(20).slice(0, n)}`;
    expect(parseEnv({ TOLLGATE_ADMIN_KEY: key(43) }).TOLLGATE_ADMIN_KEY).toBe(key(43));
    for (const bad of [
      key(42),
      `${key(43)}-`,
      'sk-tg-0123456789012345678901234567890123456789012',
    ]) {
      let error: unknown;
      try {
        parseEnv({ TOLLGATE_ADMIN_KEY: bad });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(EnvError);
      const { problems } = error as EnvError;
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('TOLLGATE_ADMIN_KEY');
      expect(problems[0]).not.toContain(bad);
    }
  });

  it('refuses private BYOK upstreams unless TOLLGATE_ALLOW_PRIVATE_UPSTREAMS says otherwise', () => {
    expect(parseEnv({}).TOLLGATE_ALLOW_PRIVATE_UPSTREAMS).toBe(false);
    for (const on of ['true', '1'])
      expect(
        parseEnv({ TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: on }).TOLLGATE_ALLOW_PRIVATE_UPSTREAMS,
      ).toBe(true);
    for (const off of ['false', '0', ''])
      expect(
        parseEnv({ TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: off }).TOLLGATE_ALLOW_PRIVATE_UPSTREAMS,
      ).toBe(false);
    // Independent of the webhook setting.
    expect(
      parseEnv({ TOLLGATE_ALLOW_PRIVATE_WEBHOOKS: 'true' }).TOLLGATE_ALLOW_PRIVATE_UPSTREAMS,
    ).toBe(false);
    expect(() => parseEnv({ TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: 'yes' })).toThrow(
      /TOLLGATE_ALLOW_PRIVATE_UPSTREAMS/,
    );
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv({ DATABASE_URL: '', REDIS_URL: '' }).DATABASE_URL).toBeUndefined();
  });

  it('names TOLLGATE_* variables nothing reads, with the setting each likely meant', () => {
    expect(
      unknownVariables({
        TOLLGATE_REDIS_DWON: 'fail-open',
        TOLLGATE_DRAIN_TIMEOUT: '5',
        TOLLGATE_SOMETHING_ELSE_ENTIRELY: 'x',
        TOLLGATE_REDIS_DOWN: 'fail-open',
        TOLLGATE_PROVIDER_GROQ_BASE_URL: 'https://api.groq.com/openai/v1',
        TOLLGATE_PROVIDER_GROQ_API_KEY: 'k',
        NODE_ENV: 'production',
      }),
    ).toEqual([
      { name: 'TOLLGATE_DRAIN_TIMEOUT', meant: 'TOLLGATE_DRAIN_TIMEOUT_SECONDS' },
      { name: 'TOLLGATE_REDIS_DWON', meant: 'TOLLGATE_REDIS_DOWN' },
      { name: 'TOLLGATE_SOMETHING_ELSE_ENTIRELY', meant: null },
    ]);
    expect(unknownVariables({ TOLLGATE_DATA_DIR: '/d', TOLLGATE_LOG_LEVEL: 'warn' })).toEqual([]);
  });
});
