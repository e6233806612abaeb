import { createKeys } from '@tollgate/redis';
import type { Redis } from 'ioredis';

/** Deletes every Redis key of one installation prefix (counters, markers, streams, policy). */
export async function deletePrefix(client: Redis, prefix: string) {
  for (const pattern of createKeys(prefix).patterns()) await deleteMatching(client, pattern);
}

/** Deletes every key of one workspace (its hash slot: counters, windows, slots, epoch marker), as
 * a Redis flush would, without touching other tests' keys in the shared Redis. */
export async function deleteWorkspaceKeys(client: Redis, prefix: string, workspaceId: string) {
  await deleteMatching(client, `${createKeys(prefix).workspaceTag(workspaceId)}:*`);
}

async function deleteMatching(client: Redis, pattern: string) {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

/** Polls `probe` every 25 ms until it answers something other than undefined. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
