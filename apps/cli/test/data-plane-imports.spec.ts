import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redisAvailable } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tollgate } from './processes.ts';

/** A module hook that records every module the process resolves and prints the list at exit. */
const RECORDER = `
import { registerHooks } from 'node:module';
import { writeSync } from 'node:fs';
const seen = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    seen.add(r.url);
    return r;
  },
});
process.on('exit', () => writeSync(2, 'LOADED ' + JSON.stringify([...seen]) + '\\n'));
`;

/**
 * `tollgate data-plane` runs only the data plane: it must not load the control plane, Prisma or
 * PGlite (each data-plane replica would carry ≈ 100 MB and a second of start-up it never uses).
 */
describe.skipIf(!redisAvailable())('tollgate data-plane loads only the data plane', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tollgate-imports-'));
    await writeFile(path.join(dir, 'record.mjs'), RECORDER);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('serves without importing the control plane, the database or GraphQL', async () => {
    const proc = tollgate(
      ['data-plane'],
      {
        REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
        TOLLGATE_REDIS_PREFIX: `imports-${randomBytes(4).toString('hex')}`,
        TOLLGATE_SECRET_KEY: randomBytes(32).toString('base64'),
        TOLLGATE_DATA_PLANE_PORT: '0',
      },
      ['--import', path.join(dir, 'record.mjs')],
    );
    let loaded: string[] = [];
    try {
      const url = await proc.listening('data');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      // Started without TOLLGATE_CONTROL_PLANE_URL: it says what that means.
      expect(proc.stdout()).toMatch(/TOLLGATE_CONTROL_PLANE_URL is unset: admin paths/);
      expect((await fetch(`${url}/v1/sub-accounts`)).status).toBe(404);
    } finally {
      expect(await proc.stop()).toBe(0);
      const line = /^LOADED (.*)$/m.exec(proc.stderr());
      loaded = line ? (JSON.parse(line[1]!) as string[]) : [];
    }
    // The recorder saw the workspace's modules (so an absence below means something).
    expect(loaded.some((u) => u.endsWith('/apps/data-plane/src/index.ts'))).toBe(true);
    expect(loaded.some((u) => u.endsWith('/packages/bus/src/index.ts'))).toBe(true);
    const heavy = loaded.filter((u) =>
      /\/packages\/db\/|@prisma|prisma\/|pglite|\/apps\/control-plane\/src\/(?!lib\/client-address\.ts$)|graphql|pothos/i.test(
        u,
      ),
    );
    expect(heavy).toEqual([]);
  });
});
