import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminCaller, startEmbedded, tollgate } from './processes.ts';

const exited = (run: ReturnType<typeof tollgate>) =>
  new Promise<number | null>((resolve) => {
    if (run.child.exitCode !== null) resolve(run.child.exitCode);
    else run.child.once('exit', (code) => resolve(code));
  });

/** PGlite is one process per folder: a second process on a running embedded database would write
 * into a copy the first never sees (the workspace and its printed admin key silently lost). */
describe('the embedded database is held by one process', () => {
  it('`tollgate workspaces create` beside a running `tollgate start` is refused; once it stops, it works', async () => {
    const started = await startEmbedded('lock', {});
    try {
      const beside = tollgate(['workspaces', 'create', 'beside'], started.env);
      expect(await exited(beside)).toBe(1);
      expect(beside.stderr()).toContain('is in use by another process');
      expect(beside.stderr()).toContain(`pid ${started.proc.child.pid}`);
      expect(beside.stdout()).not.toMatch(/sk-tg-admin-/);
      // The running server is unaffected.
      const health = await fetch(`${started.cp}/healthz`);
      expect(health.status).toBe(200);
      expect(await started.proc.stop()).toBe(0);

      const after = tollgate(['workspaces', 'create', 'after'], started.env);
      expect(await exited(after)).toBe(0);
      const created = JSON.parse(after.stdout().trim().split('\n').at(-1)!) as {
        name: string;
        admin_key: string;
      };
      expect(created.name).toBe('after');

      // A lock left by a process that is gone (a crash) is taken over: start works, and the key
      // printed above is the new workspace's.
      const dead = spawn(process.execPath, ['-e', '0']);
      await new Promise((r) => dead.once('exit', r));
      await writeFile(path.join(started.env.TOLLGATE_DATA_DIR!, 'pgdata.lock'), String(dead.pid));
      const again = tollgate(['start'], started.env);
      try {
        const cp = await again.listening('control');
        const call = adminCaller(created.admin_key);
        const ws = await call(cp, 'GET', '/v1/workspace');
        expect(ws.status).toBe(200);
        expect((ws.body as { name: string }).name).toBe('after');
      } finally {
        await again.stop();
      }
    } finally {
      await started.proc.stop();
      await started.cleanup();
    }
  }, 120_000);
});
