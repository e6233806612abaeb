import { batchWrites } from '@tollgate/redis';
import { Redis } from 'ioredis';
import { createMemoryEventBus } from './events/memory.ts';
import { createRedisEventBus } from './events/redis.ts';
import { createMemoryFailureCounter, createRedisFailureCounter } from './failures/index.ts';
import { createMemoryLimiter } from './limiter/memory.ts';
import { createRedisLimiter } from './limiter/redis.ts';
import { createMemoryPolicyBus } from './policy/memory.ts';
import { createRedisPolicyBus } from './policy/redis.ts';
import type { Bus } from './types.ts';
import { createMemoryUsageStream } from './usage/memory.ts';
import { createRedisUsageStream } from './usage/redis.ts';

export interface BusOptions {
  /** Set: Redis (scale-out). Unset: in-process (valid only when both planes share one process). */
  redisUrl?: string;
  /** Namespaces every key, channel and stream ([A-Za-z0-9_.-]); tests pass a unique one per run. */
  prefix: string;
  /** Idempotency window of settle(). Default 1 h. */
  settledTtlMs?: number;
  /** Approximate cap on the usage stream's length. */
  usageMaxLen?: number;
  /** Redis only: a command not answered in this time rejects, so a request never hangs on a dead
   * Redis — the caller fails closed (SPEC §10). Default 2 000. A timed-out admit may still have
   * reserved: its reservation expires after its TTL. */
  commandTimeoutMs?: number;
  /** Capped requests fail closed while a workspace's spend counters are not rebuilt from the books
   * (after Redis lost them, or at first start) — a control plane's counter reconciler rebuilds them
   * within seconds (SPEC §10). Default false: counters lost are then rebuilt as well, but requests
   * admitted before the rebuild are judged against counters missing the period's earlier spend. */
  requireRebuiltCounters?: boolean;
}

/** Chooses the implementation once, at start-up; everything above it uses the interfaces only. */
export function createBus(opts: BusOptions): Bus {
  if (!opts.redisUrl) {
    const limiter = createMemoryLimiter({
      prefix: opts.prefix,
      settledTtlMs: opts.settledTtlMs,
      requireRebuilt: opts.requireRebuiltCounters,
    });
    const policy = createMemoryPolicyBus();
    const usage = createMemoryUsageStream({ maxLen: opts.usageMaxLen });
    const events = createMemoryEventBus();
    const close = async () => {
      await Promise.all([limiter.close(), policy.close(), usage.close(), events.close()]);
    };
    const failures = createMemoryFailureCounter();
    return { mode: 'in-process', limiter, policy, usage, events, close, failures };
  }
  const client = new Redis(opts.redisUrl, {
    commandTimeout: opts.commandTimeoutMs ?? 2_000,
    maxRetriesPerRequest: 1,
    // Not ioredis' auto-pipelining: commands of one event-loop turn share a write through
    // batchWrites instead (see write-batching.ts).
    enableAutoPipelining: false,
  });
  batchWrites(client);
  // Errors surface on the commands that hit them; an unhandled 'error' event would crash the process.
  client.on('error', () => {});
  const { prefix } = opts;
  const limiter = createRedisLimiter({
    client,
    prefix,
    settledTtlMs: opts.settledTtlMs,
    requireRebuilt: opts.requireRebuiltCounters,
  });
  const policy = createRedisPolicyBus({ client, prefix });
  const usage = createRedisUsageStream({ client, prefix, maxLen: opts.usageMaxLen });
  const events = createRedisEventBus({ client, prefix });
  const close = async () => {
    await Promise.all([policy.close(), usage.close(), events.close()]);
    await limiter.close();
    await client.quit().catch(() => client.disconnect());
  };
  const ping = async () => {
    if (client.status !== 'ready') throw new Error(`redis ${client.status}`);
    await client.ping();
  };
  const failures = createRedisFailureCounter(client, prefix);
  return { mode: 'redis', limiter, policy, usage, events, close, ping, failures };
}
