import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { usageEvent } from '@tollgate/testkit';
import { encodeUsageBatch } from '@tollgate/usage';
import { describe, expect, it } from 'vitest';
import { openBus } from '../src/data-runtime.ts';
import { parseEnv } from '../src/env.ts';
import { openMigratedDb, startControlPlane } from '../src/runtime.ts';

/**
 * Embedded, the usage stream lives in the process: before `tollgate start` stops its control plane
 * on SIGTERM it waits until everything appended is ingested (`ingested`), rather than for a fixed
 * time that a large backlog outlasts.
 */
describe('embedded shutdown: usage ingested before the control plane stops', () => {
  it('ingested() resolves only once every appended entry is in the books', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tollgate-drain-'));
    const env = parseEnv({
      TOLLGATE_DATA_DIR: path.join(dir, '.tollgate'),
      TOLLGATE_CONTROL_PLANE_PORT: '0',
      TOLLGATE_LOG_LEVEL: 'error',
    });
    const log = () => {};
    const db = await openMigratedDb(env, log);
    const bus = openBus(env);
    const cp = await startControlPlane(env, db, bus, log, () => {});
    try {
      const ws = await db.prisma.workspace.findFirstOrThrow();
      // A backlog of 40 batches of 50 (2 000 records) appended at once, as a data plane's last
      // flushes before it stopped.
      const batches = Array.from({ length: 40 }, () =>
        encodeUsageBatch(Array.from({ length: 50 }, () => usageEvent({ workspaceId: ws.id }))),
      );
      await bus.usage.append(batches);
      expect(await cp.ingested(30_000)).toBe(true);
      expect(await db.prisma.usageRecord.count({ where: { workspaceId: ws.id } })).toBe(2_000);
      // Nothing left: it answers at once.
      expect(await cp.ingested(0)).toBe(true);
    } finally {
      await cp.stop();
      await bus.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
