import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./gc-retention-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Garbage a young-generation GC cannot free, per request (see gc-retention-child.ts). Measured
 * on Node 24: ≈ 1.2–2.2 KB per request on both paths; with the streaming relay's old
 * `live.partial = () => …` (a pretenured closure holding the request's context) the streaming
 * path kept ≈ 19 KB per request, and a WeakMap keyed by the request did the same to every path.
 * The bound sits well between the two, so neither machine load nor timing moves a run across it
 * (the measurement is taken after forced GCs, with no request in flight).
 */
const MAX_BYTES_PER_REQUEST = 6_000;

describe('young-generation GC retention (its own process, --expose-gc)', () => {
  it('a finished request, streamed or not, is garbage a minor GC can free', async () => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD], {
      cwd: ROOT,
      timeout: 60_000,
      env: { ...process.env, GC_REQUESTS: '300' },
    });
    const line = stdout.trim().split('\n').at(-1) ?? '';
    const got = JSON.parse(line) as { stream: number; json: number; requests: number };
    expect(got.requests).toBe(300);
    expect(got.json).toBeLessThan(MAX_BYTES_PER_REQUEST);
    expect(got.stream).toBeLessThan(MAX_BYTES_PER_REQUEST);
  });
});
