import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, tollgate } from './processes.ts';

/** What the `npm start` process offers (it has no `listening`/`stop` of its own). */
type Spawned = Pick<Running, 'child' | 'stdout' | 'stderr'>;

async function waitFor(cond: () => boolean, what: () => string, ms = 90_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The README's start command itself (`npm start`), in its own process group. */
function npmStart(env: Record<string, string>): Spawned {
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  return { child, stdout: () => out, stderr: () => err };
}

/** SIGTERM to npm, pnpm and tollgate alike; resolves when the whole group has exited — npm may
 * exit before tollgate has drained and let go of its ports and data directory, and a restart
 * must not meet the old process. */
async function stopGroup(r: Spawned): Promise<void> {
  const { child } = r;
  if (child.pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  }
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    try {
      process.kill(-child.pid, 0);
    } catch {
      return; // ESRCH: nothing of the group is left
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the started processes did not exit within 20 s of SIGTERM');
}

describe('tollgate start on the embedded default', () => {
  let dir: string;
  let env: Record<string, string>;
  let base: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tollgate-start-'));
    const cp = await freePort();
    env = {
      TOLLGATE_DATA_DIR: path.join(dir, '.tollgate'),
      TOLLGATE_CONTROL_PLANE_PORT: String(cp),
      TOLLGATE_DATA_PLANE_PORT: String(await freePort()),
    };
    base = `http://127.0.0.1:${cp}`;
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('`npm start` prints the admin key once, serves the seed call, and keeps everything across a restart', async () => {
    const first = npmStart(env);
    try {
      await waitFor(
        () =>
          /control plane listening/.test(first.stdout() + first.stderr()) ||
          first.child.exitCode !== null,
        () => first.stderr(),
      );
      expect(first.child.exitCode).toBeNull();
      // The ops console's URL is printed (and logged) at start-up.
      await waitFor(
        () => /Ops console:/.test(first.stdout()) || first.child.exitCode !== null,
        () => first.stderr(),
      );
      expect(first.stdout()).toContain(`  Ops console: ${base}/\n`);
      expect(first.stdout()).toMatch(
        new RegExp(`"msg":"ops console"[^\\n]*"url":"${base.replace(/\./g, '\\.')}/"`),
      );
      const adminKey = /(sk-tg-admin-[A-Za-z0-9]+)/.exec(first.stdout())?.[1];
      expect(adminKey).toBeDefined();
      // The plaintext admin key is printed, never logged, and never stored.
      expect(first.stderr()).not.toContain(adminKey!);
      // Nothing a new user cannot act on: Node's experimental-WebAssembly warning (PGlite) is dropped.
      expect(first.stderr()).not.toMatch(/ExperimentalWarning|WebAssembly/);
      await stat(path.join(env.TOLLGATE_DATA_DIR!, 'pgdata'));

      const res = await fetch(`${base}/v1/sub-accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'acme-corp',
          spend_cap_cents: 50000,
          rate_limit_rpm: 300,
          default_tag: 'acme',
        }),
      });
      expect(res.status).toBe(201);
      const sa = (await res.json()) as { id: string; key: string; spend_cap_cents: number };
      expect(sa.id).toMatch(/^sa_/);
      expect(sa.key).toMatch(/^sk-tg-/);
      expect(sa.spend_cap_cents).toBe(50000);
      expect(first.stdout() + first.stderr()).not.toContain(sa.key);
      await stopGroup(first);

      const second = tollgate(['start'], env);
      try {
        await waitFor(
          () =>
            /control plane listening/.test(second.stdout() + second.stderr()) ||
            second.child.exitCode !== null,
          () => second.stderr(),
        );
        // Not printed again: it was shown once.
        expect(second.stdout()).not.toMatch(/sk-tg-admin-/);
        // The in-process counters are loaded from the books at every start: routine, not a warning
        // (a warning is kept for Redis losing them while the process runs).
        expect(second.stdout()).toMatch(
          /"level":"info".*"msg":"spend counters loaded from the books"/,
        );
        expect(second.stdout()).not.toMatch(/"level":"(warn|error)"/);
        const again = await fetch(`${base}/v1/sub-accounts/${sa.id}`, {
          headers: { authorization: `Bearer ${adminKey}` },
        });
        expect(again.status).toBe(200);
        expect(await again.json()).toMatchObject({
          id: sa.id,
          name: 'acme-corp',
          spend_cap_cents: 50000,
        });
      } finally {
        await second.stop();
      }
    } finally {
      await stopGroup(first);
    }
  }, 180_000);

  it('`tollgate migrate` applies the migrations once; a second run is a no-op', async () => {
    const dataDir = path.join(dir, 'migrate-only');
    const once = tollgate(['migrate'], { TOLLGATE_DATA_DIR: dataDir });
    expect(await new Promise((r) => once.child.once('exit', r))).toBe(0);
    // One plain line naming what it applied (it also said "up to date" after applying them all).
    expect(once.stdout()).toMatch(/^applied: \d+_init, /m);
    expect(once.stdout()).not.toMatch(/up to date/);
    const twice = tollgate(['migrate'], { TOLLGATE_DATA_DIR: dataDir });
    expect(await new Promise((r) => twice.child.once('exit', r))).toBe(0);
    expect(twice.stdout()).not.toMatch(/migrations applied/);
    expect(twice.stdout()).toMatch(/embedded database is up to date/);
  });

  it('stops at start-up with one clear line naming a bad variable', async () => {
    const bad = tollgate(['start'], {
      ...env,
      TOLLGATE_CONTROL_PLANE_PORT: 'not-a-port',
      TOLLGATE_SECRET_KEY: 'c2hvcnQ=',
    });
    const code = await new Promise<number | null>((resolve) => bad.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(bad.stderr()).toMatch(/TOLLGATE_CONTROL_PLANE_PORT/);
    expect(bad.stderr()).toMatch(/TOLLGATE_SECRET_KEY/);
    expect(bad.stderr()).not.toContain('c2hvcnQ=');
  });

  it('with DATABASE_URL, a missing TOLLGATE_SECRET_KEY stops it before the database is touched', async () => {
    // Nothing listens on port 1: had it tried to migrate first, it would fail on the connection.
    const bad = tollgate(['start'], {
      ...env,
      DATABASE_URL: 'postgres://127.0.0.1:1/nowhere',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    const code = await new Promise<number | null>((resolve) => bad.child.once('exit', resolve));
    expect(code).toBe(1);
    // One line naming the variable, like every other refusal (no `tollgate:` prefix of a crash).
    expect(bad.stderr().trim()).toBe(
      'invalid configuration: TOLLGATE_SECRET_KEY is required with DATABASE_URL (openssl rand -base64 32)',
    );
    expect(bad.stderr() + bad.stdout()).not.toMatch(/ECONNREFUSED|migrat/i);
  });

  it('`tollgate control-plane` on REDIS_URL without DATABASE_URL stops with one line naming it', async () => {
    // Started, it would have read the shared usage stream into its own embedded database and
    // published its own policy over the installation's.
    const bad = tollgate(['control-plane'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    const code = await new Promise<number | null>((resolve) => bad.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(bad.stderr().trim().split('\n')).toHaveLength(1);
    expect(bad.stderr()).toMatch(
      /^invalid configuration: DATABASE_URL is required for a control plane/,
    );
    expect(bad.stdout()).not.toMatch(/listening|migrations applied/);
  });
});
